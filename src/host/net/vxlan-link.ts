// A VXLAN tunnel endpoint (RFC 7348) as an Ethernet wire: frames to the peer leave as UDP
// datagrams to the remote endpoint, datagrams from it arrive as frames. Point to point:
// one remote, as Linux's `ip link add ... type vxlan id N remote IP`. Linux sends from a
// port that varies per flow (its srcport range), so datagrams are taken from the remote's
// address whatever their source port; anything from elsewhere, for another VNI or
// malformed is dropped and counted.

import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { EthernetEndpoint, EthernetPort } from '../../devices/ethernet.js';
import { decodeVxlan, encodeVxlan, MAX_VNI, VXLAN_PORT, type VxlanError } from '../../net/switch/index.js';

export interface VxlanAddress {
  host: string;
  port: number;
}

export interface VxlanOptions {
  vni: number;
  remote: VxlanAddress;
  /** Where to bind; default every address of the remote's family, port 4789. */
  local?: Partial<VxlanAddress>;
}

export interface VxlanStats {
  rxFrames: number;
  txFrames: number;
  /** Datagrams not from the remote endpoint's address. */
  rxForeign: number;
  /** Datagrams for another VNI. */
  rxOtherVni: number;
  rxMalformed: Record<VxlanError, number>;
  /** Frames the socket could not send. */
  txErrors: number;
}

/** HOST, HOST:PORT, [V6]:PORT or :PORT (no host); null when it is none of them or the host
 *  is not an IP address (no name lookups: a tunnel's ends are addresses). */
export function parseVxlanAddress(text: string, needHost: boolean): Partial<VxlanAddress> | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  const host = m[1] ?? m[2];
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  if (host ? !isIP(host) : needHost) return null;
  return { ...(host ? { host } : {}), ...(port !== undefined ? { port } : {}) };
}

/** The endpoints named by a spec's remote (IP[:PORT], port 4789 by default) and local
 *  ([IP][:PORT]) texts; throws an Error saying which is wrong. */
export function vxlanEndpoints(remote: string, local = ''): { remote: VxlanAddress; local: Partial<VxlanAddress> } {
  const r = typeof remote === 'string' ? parseVxlanAddress(remote, true) : null;
  if (!r?.host) throw new Error(`remote '${remote}' is not IP[:PORT]`);
  const l = typeof local === 'string' ? parseVxlanAddress(local, false) : null;
  if (!l) throw new Error(`local '${local}' is not [IP][:PORT]`);
  return { remote: { host: r.host, port: r.port ?? VXLAN_PORT }, local: l };
}

export class VxlanLink implements EthernetEndpoint {
  readonly stats: VxlanStats = { rxFrames: 0, txFrames: 0, rxForeign: 0, rxOtherVni: 0, rxMalformed: { 'short': 0, 'no-vni-flag': 0, 'oversize': 0 }, txErrors: 0 };
  private peer: EthernetPort | null = null;
  private closed = false;

  private constructor(private readonly socket: dgram.Socket, private readonly o: VxlanOptions) {}

  /** Binds the local endpoint; rejects with a clear message when it cannot. */
  static async open(o: VxlanOptions, warn: (message: string) => void = () => {}): Promise<VxlanLink> {
    if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni > MAX_VNI) throw new Error(`VNI ${o.vni} is not 0..${MAX_VNI}`);
    const v6 = isIP(o.remote.host) === 6;
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4' });
    const link = new VxlanLink(socket, o);
    const host = o.local?.host ?? (v6 ? '::' : '0.0.0.0');
    const port = o.local?.port ?? VXLAN_PORT;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        socket.on('error', (e) => warn(`vxlan ${host}:${port}: ${e.message}`));
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      socket.close();
      throw new Error(`cannot bind VXLAN endpoint ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'the address is already in use' : e.message}`);
    });
    socket.on('message', (msg, rinfo) => link.receive(msg, rinfo));
    return link;
  }

  /** The bound local port (useful when 0 asked for any). */
  get localPort(): number {
    return this.socket.address().port;
  }

  connect(peer: EthernetPort): void {
    this.peer = peer;
  }

  deliver(frame: Uint8Array): void {
    if (this.closed) return;
    this.stats.txFrames++;
    this.socket.send(encodeVxlan(this.o.vni, frame), this.o.remote.port, this.o.remote.host, (e) => {
      if (e) this.stats.txErrors++;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!sameAddress(rinfo.address, this.o.remote.host)) {
      this.stats.rxForeign++;
      return;
    }
    const d = decodeVxlan(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
    if ('error' in d) {
      this.stats.rxMalformed[d.error]++;
      return;
    }
    if (d.vni !== this.o.vni) {
      this.stats.rxOtherVni++;
      return;
    }
    this.stats.rxFrames++;
    this.peer?.deliver(d.frame.slice());
  }
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address it maps. */
function sameAddress(a: string, b: string): boolean {
  const strip = (s: string) => s.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  return strip(a) === strip(b);
}
