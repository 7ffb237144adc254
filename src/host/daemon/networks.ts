// The daemon's virtual switches (`rvisor network create`): each one an EthernetSwitch on
// the main thread, defined by a JSON file in <state>/networks/ (so it survives the
// daemon), with a Unix socket beside it (<name>.sock) where anything that speaks QEMU's
// stream protocol joins as a port on VLAN 1: a standalone `rvisor run --net switch=NAME`,
// or QEMU with -netdev stream,addr.type=unix,addr.path=... A VM of the daemon joins
// through its worker (PortLink), on the VLAN its NIC names, locked to its MAC. A network
// may have VXLAN uplinks (RFC 7348), each a port on one VLAN, to the same network on
// another host or to a Linux vxlan device: segments that span hosts. A network may also
// have a NAT router port: slirp's 10.0.2.0/24 with DHCP and DNS, shared by its guests.
// The network's own ports are named kind:id (vxlan:0, socket:1, nat:gw): a ':' is in no
// VM's name, so a VM's port (its name, a second NIC's name#1) never takes one of theirs.

import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { EthernetSwitch, Firewall, FirewallError, type FirewallSpec, MAX_VNI, parseMac, type SwitchPort } from '../../net/switch/index.js';
import { UserNet, type UserNetStats } from '../../net/user-net.js';
import { ipToString, macToString } from '../../net/addresses.js';
import type { EthernetEndpoint } from '../../devices/ethernet.js';
import type { NicSpec } from '../../vmm/spec.js';
import { PortLink, type PortLinkEnd } from '../net/port-link.js';
import { VxlanLink, vxlanEndpoints } from '../net/vxlan-link.js';
import { readStreamFrames, writeStreamFrame } from '../net/stream-link.js';
import { removeDurable, writeDurable } from './durable.js';
import { HostError } from './model.js';

export const NETWORK_NAME = /^[a-z0-9][a-z0-9_-]{0,30}$/;
const FILE_VERSION = 1;

/** A tunnel to a remote endpoint: VNI, remote IP[:PORT] (port 4789 by default), where
 *  to bind ([IP][:PORT], default every address and port 4789), and the VLAN it carries. */
export interface VxlanUplink {
  vni: number;
  remote: string;
  local?: string;
  vlan?: number;
}

/** The segment's router: the user-mode NAT as a port on one VLAN (1 by default). */
export interface NatRouter {
  vlan?: number;
}

export interface NetworkSpec {
  name: string;
  vxlan?: VxlanUplink[];
  nat?: NatRouter;
  /** Each VM port's firewall (a fresh one per port: flows are tracked per guest). */
  firewall?: FirewallSpec;
}

const MAX_UPLINKS = 16;

export interface NetworkView extends Omit<NetworkSpec, 'nat'> {
  /** The router's guests as it knows them (DHCP leases and addresses seen) and counters. */
  nat?: NatRouter & { hosts: { ip: string; mac: string; leased: boolean }[]; stats: UserNetStats };
  /** The socket where stream-protocol peers join (VLAN 1). */
  socket: string;
  ports: {
    name: string; vlan: number | 'trunk'; rxFrames: number; rxBytes: number; txFrames: number; txBytes: number; drops: Record<string, number>;
    /** A VM port's firewall: hits per rule, by policy, and of tracked flows. */
    firewall?: { rules: number[]; policy: Firewall['counters']['policy']; established: number; filtered: number };
  }[];
  macTable: { vid: number; mac: string; port: string; ageMs: number }[];
  stats: { macMoves: number; macEvictions: number; floods: number };
}

class Network {
  readonly sw: EthernetSwitch;
  /** The ports of VMs (not sockets or uplinks): the firewall's. */
  readonly vmPorts = new Set<SwitchPort>();
  private server: Server | null = null;
  private readonly tunnels: VxlanLink[] = [];
  private router: UserNet | null = null;
  /** The switch ports of those tunnels: the network's own, not attached to it. */
  private readonly uplinks = new Set<SwitchPort>();
  private peers = 0;

  constructor(public spec: NetworkSpec, readonly socketPath: string, private readonly log: (line: string) => void) {
    this.sw = new EthernetSwitch(spec.name);
  }

  async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true }); // a socket left by a daemon that died
    const server = createServer((s) => this.join(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', (e) => this.log(`network ${this.spec.name}: ${e.message}`));
    this.server = server;
    for (const [i, up] of (this.spec.vxlan ?? []).entries()) {
      const { remote, local } = checkUplink(up, i);
      const link = await VxlanLink.open({ vni: up.vni, remote, local }, (m) => this.log(`network ${this.spec.name}: ${m}`)).catch((e: Error) => {
        this.close();
        throw new HostError(422, 'bad_uplink', `network ${this.spec.name} vxlan.${i}: ${e.message}`);
      });
      this.tunnels.push(link);
      this.uplink(`vxlan:${i}`, up.vlan, link);
    }
    if (this.spec.nat) {
      checkVlan(this.spec.nat.vlan, (why) => new HostError(422, 'bad_nat', `network ${this.spec.name} nat: ${why}`));
      this.router = new UserNet({ log: (m) => this.log(`network ${this.spec.name}: ${m}`) });
      this.uplink('nat:gw', this.spec.nat.vlan, this.router);
    }
  }

  /** One of the network's own ports, wired to `link` on `vlan`'s access port. */
  private uplink(name: string, vlan: number | undefined, link: EthernetEndpoint): void {
    const port = this.sw.addPort({ name, vlan: { mode: 'access', vid: vlan ?? 1 } });
    this.uplinks.add(port);
    port.connect(link);
    link.connect(port);
  }

  /** Ports other than the network's own uplinks: what keeps it from being removed. */
  get attached(): SwitchPort[] {
    return this.sw.ports.filter((p) => !this.uplinks.has(p));
  }

  /** A stream-protocol peer becomes a port of its own until it hangs up. */
  private join(s: Socket): void {
    const port = this.sw.addPort({ name: `socket:${++this.peers}` });
    port.connect({ deliver: (f) => void writeStreamFrame(s, f) });
    readStreamFrames(s, (f) => port.deliver(f), (e) => this.log(`network ${this.spec.name}: ${port.name} sent ${e.message}: hung up on it`));
    s.on('error', () => {});
    s.on('close', () => port.close());
  }

  view(): NetworkView {
    const { nat: natSpec, ...spec } = this.spec;
    const nat = this.router && {
      ...natSpec,
      hosts: this.router.hosts.list().map((h) => ({ ip: ipToString(h.ip), mac: macToString(h.mac), leased: h.leased })),
      stats: { ...this.router.stats },
    };
    return {
      ...spec,
      ...(nat && { nat }),
      socket: this.socketPath,
      ports: this.sw.ports.map((p) => ({
        name: p.name,
        vlan: p.options.vlan?.mode === 'trunk' ? 'trunk' : p.options.vlan?.vid ?? 1,
        rxFrames: p.counters.rxFrames, rxBytes: p.counters.rxBytes, txFrames: p.counters.txFrames, txBytes: p.counters.txBytes,
        drops: Object.fromEntries(Object.entries(p.counters.drops).filter(([, n]) => n > 0)),
        ...(p.firewall && { firewall: {
          rules: p.firewall.ruleHits().map((r) => r.hits), policy: p.firewall.counters.policy,
          established: p.firewall.counters.established, filtered: p.counters.txFiltered,
        } }),
      })),
      macTable: this.sw.macTable(),
      stats: { ...this.sw.stats },
    };
  }

  close(): void {
    this.server?.close();
    this.server = null;
    for (const t of this.tunnels.splice(0)) t.close();
    this.router?.close();
    this.router = null;
    for (const p of [...this.sw.ports]) p.close();
    rmSync(this.socketPath, { force: true });
  }
}

/** An uplink's addresses, or a 422 that says what is wrong with it (the API's schema has
 *  checked the types; a file edited by hand has not). */
function checkUplink(up: VxlanUplink, i: number): ReturnType<typeof vxlanEndpoints> {
  const bad = (why: string) => new HostError(422, 'bad_uplink', `vxlan.${i}: ${why}`);
  if (i >= MAX_UPLINKS) throw bad(`at most ${MAX_UPLINKS} uplinks`);
  if (!Number.isInteger(up.vni) || up.vni < 0 || up.vni > MAX_VNI) throw bad(`vni ${up.vni} is not 0..${MAX_VNI}`);
  checkVlan(up.vlan, bad);
  try {
    return vxlanEndpoints(up.remote, up.local);
  } catch (e) {
    throw bad((e as Error).message);
  }
}

function checkVlan(vlan: number | undefined, bad: (why: string) => Error): void {
  if (vlan !== undefined && (!Number.isInteger(vlan) || vlan < 1 || vlan > 4094)) throw bad(`vlan ${vlan} is not 1..4094`);
}

/** A port's firewall from the network's rules, or a 422 naming the rule that is wrong. */
function firewallFor(spec: NetworkSpec): Firewall | undefined {
  if (!spec.firewall) return undefined;
  try {
    return new Firewall(spec.firewall);
  } catch (e) {
    if (e instanceof FirewallError) throw new HostError(422, 'bad_firewall', `network ${spec.name} firewall: ${e.message}`);
    throw e;
  }
}

/** A VM NIC's attachment: the worker's end of the link, and the detach for when it ends. */
export interface NicAttachment {
  end: PortLinkEnd;
  detach(): void;
}

export class Networks {
  private readonly nets = new Map<string, Network>();

  private constructor(readonly dir: string, private readonly log: (line: string) => void) {}

  /** Loads every network defined in `dir` and opens its socket. */
  static async open(dir: string, log: (line: string) => void): Promise<Networks> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const n = new Networks(dir, log);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort()) {
      try {
        const doc = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { version?: number; network?: NetworkSpec };
        if (doc.version !== FILE_VERSION || !doc.network || !NETWORK_NAME.test(doc.network.name) || `${doc.network.name}.json` !== file) throw new Error('not a network definition of this version');
        await n.start(doc.network);
      } catch (e) {
        log(`networks: ${join(dir, file)}: ${(e as Error).message}; ignored`);
      }
    }
    return n;
  }

  private async start(spec: NetworkSpec): Promise<Network> {
    const net = new Network(spec, join(this.dir, `${spec.name}.sock`), this.log);
    await net.listen();
    this.nets.set(spec.name, net);
    return net;
  }

  list(): NetworkView[] {
    return [...this.nets.values()].map((n) => n.view());
  }

  get(name: string): NetworkView {
    return this.network(name).view();
  }

  private network(name: string): Network {
    const n = this.nets.get(name);
    if (!n) throw new HostError(404, 'no_network', `no network named ${name}`);
    return n;
  }

  async create(spec: NetworkSpec): Promise<NetworkView> {
    if (!NETWORK_NAME.test(spec.name)) throw new HostError(400, 'bad_name', `network name ${spec.name}: lowercase letters, digits, '-' and '_', at most 31`);
    if (this.nets.has(spec.name)) throw new HostError(409, 'name_taken', `a network named ${spec.name} exists already`);
    const clean: NetworkSpec = {
      name: spec.name, ...(spec.vxlan?.length && { vxlan: spec.vxlan }), ...(spec.nat && { nat: spec.nat }), ...(spec.firewall && { firewall: spec.firewall }),
    };
    (clean.vxlan ?? []).forEach(checkUplink);
    checkVlan(clean.nat?.vlan, (why) => new HostError(422, 'bad_nat', `nat: ${why}`));
    firewallFor(clean);
    this.save(clean);
    try {
      return (await this.start(clean)).view();
    } catch (e) {
      removeDurable(this.dir, `${spec.name}.json`);
      throw e;
    }
  }

  /** Replaces (or with null removes) the firewall of every VM port, kept with the network. */
  setFirewall(name: string, firewall: FirewallSpec | null): NetworkView {
    const n = this.network(name);
    const spec: NetworkSpec = { ...n.spec, firewall: firewall ?? undefined };
    if (!firewall) delete spec.firewall;
    firewallFor(spec);
    this.save(spec);
    n.spec = spec;
    for (const p of n.vmPorts) p.firewall = firewallFor(spec) ?? null;
    return n.view();
  }

  /** The network's definition file, written atomically. */
  private save(spec: NetworkSpec): void {
    writeDurable(this.dir, `${spec.name}.json`, JSON.stringify({ version: FILE_VERSION, network: spec }, null, 2) + '\n');
  }

  /** Refused while any port is attached (as Docker refuses a network with endpoints). */
  remove(name: string): void {
    const n = this.network(name);
    if (n.attached.length) throw new HostError(409, 'in_use', `network ${name} has ports attached: ${n.attached.map((p) => p.name).join(', ')}`);
    n.close();
    this.nets.delete(name);
    removeDurable(this.dir, `${name}.json`);
  }

  /** Whether every switch the NICs name exists: a VM that cannot attach is refused first. */
  check(nics: readonly NicSpec[]): void {
    for (const nic of nics) if (nic.network === 'switch' && !this.nets.has(nic.switch!)) throw new HostError(422, 'no_network', `no network named ${nic.switch} (rvisor network create ${nic.switch})`);
  }

  /** A port on the NIC's switch for VM `vm`, its VLAN's access port, locked to its MAC. */
  attach(vm: string, index: number, nic: NicSpec): NicAttachment {
    const n = this.network(nic.switch!);
    const mac = parseMac(nic.mac ?? '');
    let port: SwitchPort;
    try {
      const firewall = firewallFor(n.spec);
      port = n.sw.addPort({
        name: index ? `${vm}#${index}` : vm, vlan: { mode: 'access', vid: nic.vlan ?? 1 }, ipGuard: true,
        ...(mac !== null && { macs: [mac] }), ...(firewall && { firewall }),
      });
    } catch (e) {
      throw new HostError(409, 'port_taken', (e as Error).message);
    }
    n.vmPorts.add(port);
    const { port1, port2 } = new MessageChannel();
    const end = PortLink.ends(port2);
    const link = new PortLink({ port: port1, inFlight: end.inFlight }, 'main');
    link.connect(port);
    port.connect(link);
    port1.unref();
    return { end, detach: () => { n.vmPorts.delete(port); port.close(); link.close(); } };
  }

  close(): void {
    for (const n of this.nets.values()) n.close();
    this.nets.clear();
  }
}
