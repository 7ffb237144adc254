// UDP (RFC 768) and the outbound UDP NAT: each (guest port, destination) flow gets its
// own host datagram socket, so replies come back to the right guest socket without any
// port bookkeeping on our side; the kernel picks the host port. Flows expire when idle.

import dgram from 'node:dgram';
import { isIPv4 } from 'node:net';
import { GATEWAY_IP, type GuestSocket, type Ip, isSpecial, parseIp } from './addresses.js';
import { checksum, pseudoHeaderSum, verifies } from './checksum.js';
import { PROTO_UDP } from './ipv4.js';

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export function parseUdp(b: Uint8Array, src: Ip, dst: Ip): UdpDatagram | null {
  if (b.length < 8) return null;
  const length = (b[4] << 8) | b[5];
  if (length < 8 || length > b.length) return null;
  // A zero checksum means the sender did not compute one (allowed over IPv4).
  if (((b[6] << 8) | b[7]) !== 0 && !verifies(b, 0, length, pseudoHeaderSum(src, dst, PROTO_UDP, length))) return null;
  return { srcPort: (b[0] << 8) | b[1], dstPort: (b[2] << 8) | b[3], payload: b.subarray(8, length) };
}

export function buildUdp(src: Ip, dst: Ip, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const length = 8 + payload.length;
  const b = new Uint8Array(length);
  b[0] = srcPort >>> 8;
  b[1] = srcPort & 0xff;
  b[2] = dstPort >>> 8;
  b[3] = dstPort & 0xff;
  b[4] = length >>> 8;
  b[5] = length & 0xff;
  b.set(payload, 8);
  // A computed 0 is sent as 0xffff: 0 would mean "no checksum".
  const c = checksum(b, 0, length, pseudoHeaderSum(src, dst, PROTO_UDP, length)) || 0xffff;
  b[6] = c >>> 8;
  b[7] = c & 0xff;
  return b;
}

/** How a host-side source address looks from the guest: loopback is the gateway (as
 *  slirp maps it), other IPv4 addresses are themselves; null when the guest cannot be
 *  shown it (IPv6, or an address inside the virtual network). */
export function guestVisible(address: string): Ip | null {
  if (!isIPv4(address)) return null;
  const ip = parseIp(address);
  if (ip === null) return null;
  if (ip >>> 24 === 127) return GATEWAY_IP;
  return isSpecial(ip) ? null : ip;
}

export interface UdpNatHooks {
  /** A datagram for the guest's socket, from (srcIp, srcPort) as the guest sees it. */
  toGuest(srcIp: Ip, srcPort: number, guest: GuestSocket, payload: Uint8Array): void;
  log(line: string): void;
}

interface Flow {
  socket: dgram.Socket;
  /** The destination as the guest addressed it, and where it really goes on the host. */
  virtualIp: Ip;
  virtualPort: number;
  hostAddress: string;
  hostPort: number;
  lastUsed: number;
}

const MAX_FLOWS = 512;

export class UdpNat {
  private readonly flows = new Map<string, Flow>();

  constructor(private readonly hooks: UdpNatHooks, private readonly idleMs = 60_000) {}

  get size(): number {
    return this.flows.size;
  }

  send(guest: GuestSocket, virtualIp: Ip, virtualPort: number, hostAddress: string, hostPort: number, payload: Uint8Array): void {
    const key = `${guest.ip}|${guest.port}|${virtualIp}|${virtualPort}`;
    let flow = this.flows.get(key);
    if (!flow) {
      if (this.flows.size >= MAX_FLOWS) this.drop(this.flows.keys().next().value as string);
      flow = this.open(key, guest, virtualIp, virtualPort, hostAddress, hostPort);
    }
    flow.lastUsed = Date.now();
    flow.socket.send(payload, hostPort, hostAddress, (err) => {
      if (err) this.hooks.log(`udp ${guest.port} -> ${hostAddress}:${hostPort}: ${err.message}`);
    });
  }

  private open(key: string, guest: GuestSocket, virtualIp: Ip, virtualPort: number, hostAddress: string, hostPort: number): Flow {
    const socket = dgram.createSocket(isIPv4(hostAddress) ? 'udp4' : 'udp6');
    const flow: Flow = { socket, virtualIp, virtualPort, hostAddress, hostPort, lastUsed: Date.now() };
    socket.on('message', (msg, rinfo) => {
      flow.lastUsed = Date.now();
      if (rinfo.address === hostAddress && rinfo.port === hostPort) {
        this.hooks.toGuest(virtualIp, virtualPort, guest, msg);
        return;
      }
      // Replies from elsewhere (TFTP answers from a new port, for one) pass like slirp's.
      const from = guestVisible(rinfo.address);
      if (from !== null) this.hooks.toGuest(from, rinfo.port, guest, msg);
    });
    socket.on('error', (err) => {
      this.hooks.log(`udp flow ${guest.port} -> ${hostAddress}:${hostPort}: ${err.message}`);
      this.drop(key);
    });
    this.flows.set(key, flow);
    return flow;
  }

  private drop(key: string): void {
    const flow = this.flows.get(key);
    if (!flow) return;
    this.flows.delete(key);
    try {
      flow.socket.close();
    } catch {
      // already closed after an error
    }
  }

  /** Closes flows idle for longer than the idle time. */
  sweep(now = Date.now()): void {
    for (const [key, flow] of this.flows) if (now - flow.lastUsed > this.idleMs) this.drop(key);
  }

  close(): void {
    for (const key of [...this.flows.keys()]) this.drop(key);
  }
}
