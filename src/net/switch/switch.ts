// A learning Ethernet switch (IEEE 802.1D bridging with 802.1Q VLANs) between guest NICs,
// the user-mode NAT, sockets to other hosts and whatever else speaks EthernetPort.
//
// Each port is an EthernetEndpoint: what is attached to it delivers frames into the port
// (ingress) and the switch delivers frames to the attached peer (egress). Ingress frames
// wait in a bounded queue per port and are forwarded from a microtask, ports taken in turn
// a burst at a time, so a guest flooding the switch gets its share of forwarding and no
// more, and can never grow the host's memory: past the bound its frames are dropped and
// counted. Egress is the peer's to bound (a NIC drops what the guest has no buffers for; a
// socket link drops what its socket cannot take).

import type { EthernetEndpoint, EthernetPort } from '../../devices/ethernet.js';
import { macToString, parseL2, tag, untag, type L2Error } from './frame.js';
import { MacTable } from './mac-table.js';
import type { Firewall } from './firewall.js';

/** A port's VLAN membership. Access: one VLAN, untagged on the wire (what a guest NIC
 *  wants). Trunk: tagged frames of the allowed VLANs, and untagged ones for `native`. */
export type VlanMode =
  | { mode: 'access'; vid: number }
  | { mode: 'trunk'; allowed: readonly number[]; native?: number };

export interface PortOptions {
  name: string;
  /** Default: access to VLAN 1 (the default VLAN of 802.1Q switches). */
  vlan?: VlanMode;
  /** Frames that may wait for forwarding before more are dropped (default 256). */
  queueFrames?: number;
  /** The source MACs this port may send from; absent: any (uplinks, trunks). A guest's
   *  port names the guest's MAC, so the guest cannot claim another's address. */
  macs?: readonly number[];
  /** A guest's port: the IPv4 addresses it sends from (IPv4 source, ARP sender) are
   *  claimed for it on its VLAN, at most 4, and one another port holds is refused; DHCP
   *  server replies from it are dropped. */
  ipGuard?: boolean;
  /** What the guest may send (out) and receive (in) at first (SwitchPort.firewall). */
  firewall?: Firewall;
}

export type DropReason = L2Error | 'group-source' | 'spoofed-source' | 'spoofed-ip' | 'dhcp-server' | 'firewall' | 'vlan' | 'queue-full' | 'closed';

export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  /** Frames from this port not forwarded, by why. */
  drops: Record<DropReason, number>;
  /** Frames for this port its firewall kept from it. */
  txFiltered: number;
}

export interface SwitchOptions {
  /** Most addresses remembered (default 4096); past it the oldest go. */
  macTableSize?: number;
  /** How long an address is remembered without a frame from it (default 300 s, as Linux). */
  ageMs?: number;
  /** A monotonic clock in ms (default performance.now). */
  now?: () => number;
}

export interface SwitchStats {
  /** Addresses that moved from one port to another (a migrated guest announcing itself). */
  macMoves: number;
  /** Addresses evicted because the table was full. */
  macEvictions: number;
  /** Frames flooded (broadcast, multicast or unknown destination). */
  floods: number;
}

/** IPv4 addresses one guarded port may hold. */
const MAX_CLAIMS = 4;

/** How many frames a port forwards before the next port's turn. */
const BURST = 16;
const MAX_VID = 4094;

function checkVid(vid: number, what: string): number {
  if (!Number.isInteger(vid) || vid < 1 || vid > MAX_VID) throw new RangeError(`${what} ${vid}: a VLAN ID from 1 to ${MAX_VID}`);
  return vid;
}

function zeroDrops(): Record<DropReason, number> {
  return { 'runt': 0, 'oversize': 0, 'nested-tag': 0, 'group-source': 0, 'spoofed-source': 0, 'spoofed-ip': 0, 'dhcp-server': 0, 'firewall': 0, 'vlan': 0, 'queue-full': 0, 'closed': 0 };
}

export class SwitchPort implements EthernetEndpoint {
  readonly counters: PortCounters = { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, drops: zeroDrops(), txFiltered: 0 };
  /** What the guest may send and receive; the owner may replace it at any time (new
   *  rules: tracked flows start again). */
  firewall: Firewall | null;
  /** @internal The switch's IP claims this port holds (EthernetSwitch.guardIp). */
  readonly claims = new Set<number>();
  /** Frames waiting to be forwarded (ingress). */
  readonly queue: Uint8Array[] = [];
  peer: EthernetPort | null = null;
  closed = false;
  private readonly access: number;
  private readonly allowed: ReadonlySet<number>;
  private readonly native: number;
  readonly macs: ReadonlySet<number> | null;
  readonly queueFrames: number;
  /** Sees every frame in and out of this port, as it is on the wire (packet capture). */
  tap: ((frame: Uint8Array, direction: 'in' | 'out') => void) | null = null;

  constructor(private readonly owner: EthernetSwitch, readonly id: number, readonly options: PortOptions) {
    const vlan = options.vlan ?? { mode: 'access', vid: 1 };
    if (vlan.mode === 'access') {
      this.access = checkVid(vlan.vid, `port ${options.name}: access VLAN`);
      this.allowed = new Set([this.access]);
      this.native = 0;
    } else {
      this.access = 0;
      this.allowed = new Set(vlan.allowed.map((v) => checkVid(v, `port ${options.name}: trunk VLAN`)));
      this.native = vlan.native === undefined ? 0 : checkVid(vlan.native, `port ${options.name}: native VLAN`);
      if (this.native) (this.allowed as Set<number>).add(this.native);
    }
    this.queueFrames = options.queueFrames ?? 256;
    if (!Number.isInteger(this.queueFrames) || this.queueFrames < 1) throw new RangeError(`port ${options.name}: queue of ${this.queueFrames} frames`);
    this.macs = options.macs ? new Set(options.macs) : null;
    this.firewall = options.firewall ?? null;
  }

  get name(): string {
    return this.options.name;
  }

  connect(peer: EthernetPort): void {
    this.peer = peer;
  }

  /** A frame from the attached device into the switch. */
  deliver(frame: Uint8Array): void {
    if (this.closed) {
      this.counters.drops.closed++;
      return;
    }
    if (this.queue.length >= this.queueFrames) {
      this.counters.drops['queue-full']++;
      return;
    }
    this.tap?.(frame, 'in');
    this.queue.push(frame);
    this.owner.wake();
  }

  /** Leaves the switch: queued frames are dropped, learned addresses forgotten. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.counters.drops.closed += this.queue.length;
    this.queue.length = 0;
    this.owner.removePort(this);
  }

  /** The VLAN an ingress frame belongs to, or 0 when this port may not carry it. */
  classify(tagged: boolean, vid: number): number {
    if (this.access) return tagged ? 0 : this.access;
    if (!tagged) return this.native;
    return this.allowed.has(vid) ? vid : 0;
  }

  carries(vid: number): boolean {
    return this.allowed.has(vid);
  }

  /** Hands an untagged frame of VLAN `vid` to the peer, tagged as this port's mode says. */
  send(frame: Uint8Array, vid: number): void {
    if (this.firewall && !this.firewall.allows(frame, 'in')) {
      this.counters.txFiltered++;
      return;
    }
    const wire = this.access || vid === this.native ? frame : tag(frame, vid);
    this.counters.txFrames++;
    this.counters.txBytes += wire.length;
    this.tap?.(wire, 'out');
    this.peer?.deliver(wire);
  }
}

export class EthernetSwitch {
  readonly stats: SwitchStats = { macMoves: 0, macEvictions: 0, floods: 0 };
  private readonly portList: SwitchPort[] = [];
  private readonly table: MacTable;
  /** VLAN and IPv4 address (vid * 2^32 + ip) to the guarded port that claimed it. */
  private readonly ipClaims = new Map<number, number>();
  private readonly now: () => number;
  private nextId = 1;
  private scheduled = false;
  private lastAged = 0;
  /** Where the round-robin resumes, so the first port is not always first. */
  private turn = 0;

  constructor(readonly name: string, options: SwitchOptions = {}) {
    this.table = new MacTable(options.macTableSize ?? 4096, options.ageMs ?? 300_000);
    this.now = options.now ?? (() => performance.now());
  }

  addPort(options: PortOptions): SwitchPort {
    if (this.portList.some((p) => p.name === options.name)) throw new Error(`switch ${this.name} already has a port ${options.name}`);
    const port = new SwitchPort(this, this.nextId++, options);
    this.portList.push(port);
    return port;
  }

  get ports(): readonly SwitchPort[] {
    return this.portList;
  }

  /** The learned addresses, with the names of their ports. */
  macTable(): { vid: number; mac: string; port: string; ageMs: number }[] {
    const now = this.now();
    const names = new Map(this.portList.map((p) => [p.id, p.name]));
    return this.table.list(now).map((e) => ({ vid: e.vid, mac: macToString(e.mac), port: names.get(e.port) ?? '?', ageMs: Math.round(now - e.seenAt) }));
  }

  /** @internal SwitchPort.close */
  removePort(port: SwitchPort): void {
    const i = this.portList.indexOf(port);
    if (i >= 0) this.portList.splice(i, 1);
    this.table.flushPort(port.id);
    for (const key of port.claims) this.ipClaims.delete(key);
    port.claims.clear();
  }

  /** @internal A port has frames queued. */
  wake(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  /** Forwards every queued frame, ports in turn a burst at a time. */
  drain(): void {
    this.scheduled = false;
    const now = this.now();
    if (now - this.lastAged > 1000) {
      this.table.age(now);
      this.lastAged = now;
    }
    for (let busy = true; busy;) {
      busy = false;
      const ports = this.portList.slice();
      for (let k = 0; k < ports.length; k++) {
        const port = ports[(this.turn + k) % ports.length];
        for (let n = 0; n < BURST && port.queue.length; n++) this.forward(port, port.queue.shift()!, now);
        if (port.queue.length) busy = true;
      }
      this.turn = (this.turn + 1) % Math.max(1, ports.length);
    }
  }

  /** Why a guarded port may not send this frame, or null: its IPv4 source (or ARP sender)
   *  must be its own claim on the VLAN, and it is no DHCP server. 0.0.0.0 (a DHCP client,
   *  an ARP probe) claims nothing. */
  private guardIp(from: SwitchPort, f: Uint8Array, vid: number): 'spoofed-ip' | 'dhcp-server' | null {
    let ip: number;
    const ipv4 = f[12] === 0x08 && f[13] === 0x00, arp = f[12] === 0x08 && f[13] === 0x06;
    // An IPv4 or ARP frame too short to show its whole header cannot be checked, so it is
    // refused: an unchecked sender is what the guard is for (receivers drop them anyway).
    if ((ipv4 && f.length < 34) || (arp && f.length < 42)) return 'spoofed-ip';
    if (ipv4) {
      const l4 = 14 + (f[14] & 0x0f) * 4;
      if (f[23] === 17 && f.length >= l4 + 2 && ((f[l4] << 8) | f[l4 + 1]) === 67) return 'dhcp-server';
      ip = ((f[26] << 24) | (f[27] << 16) | (f[28] << 8) | f[29]) >>> 0;
    } else if (arp) {
      ip = ((f[28] << 24) | (f[29] << 16) | (f[30] << 8) | f[31]) >>> 0;
    } else return null;
    if (ip === 0) return null;
    const key = vid * 2 ** 32 + ip;
    const owner = this.ipClaims.get(key);
    if (owner === from.id) return null;
    if (owner !== undefined || from.claims.size >= MAX_CLAIMS) return 'spoofed-ip';
    this.ipClaims.set(key, from.id);
    from.claims.add(key);
    return null;
  }

  private forward(from: SwitchPort, frame: Uint8Array, now: number): void {
    const c = from.counters;
    const h = parseL2(frame);
    if (typeof h === 'string') {
      c.drops[h]++;
      return;
    }
    if (h.groupSrc) {
      c.drops['group-source']++;
      return;
    }
    if (from.macs && !from.macs.has(h.src)) {
      c.drops['spoofed-source']++;
      return;
    }
    const vid = from.classify(h.tagged, h.vid);
    if (!vid) {
      c.drops.vlan++;
      return;
    }
    c.rxFrames++;
    c.rxBytes += frame.length;
    const plain = h.tagged ? untag(frame) : frame;
    if (from.options.ipGuard) {
      const why = this.guardIp(from, plain, vid);
      if (why) {
        c.drops[why]++;
        return;
      }
    }
    if (from.firewall && !from.firewall.allows(plain, 'out')) {
      c.drops.firewall++;
      return;
    }
    const learned = this.table.learn(vid, h.src, from.id, now);
    if (learned.moved) this.stats.macMoves++;
    if (learned.evicted) this.stats.macEvictions++;
    if (!h.groupDst) {
      const to = this.table.lookup(vid, h.dst, now);
      if (to !== undefined) {
        // A frame for an address on its own port is already where it belongs.
        if (to === from.id) return;
        const port = this.portList.find((p) => p.id === to);
        if (port) {
          port.send(plain, vid);
          return;
        }
      }
    }
    this.stats.floods++;
    const targets = this.portList.filter((p) => p !== from && p.carries(vid));
    // Each receiver may keep its frame: all but the last get a copy.
    for (let i = 0; i < targets.length; i++) targets[i].send(i === targets.length - 1 ? plain : plain.slice(), vid);
  }
}
