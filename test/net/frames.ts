// Test-side packet building and parsing, written independently of src/net so that a
// checksum or layout mistake there cannot hide behind the same mistake here.

import assert from 'node:assert/strict';
import type { EthernetPort } from '../../src/devices/ethernet.js';

export const GATEWAY_MAC = Uint8Array.from([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
export const GUEST_MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
export const BROADCAST = new Uint8Array(6).fill(0xff);

export function ip(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map(Number));
}
export const GUEST = ip('10.0.2.15');
export const GATEWAY = ip('10.0.2.2');
export const DNS = ip('10.0.2.3');

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const be16 = (n: number) => [(n >>> 8) & 0xff, n & 0xff];
const be32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** RFC 1071, the textbook way: sum 16-bit words, fold carries, complement. */
export function csum(...parts: Uint8Array[]): number {
  const b = cat(...parts);
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) + (i + 1 < b.length ? b[i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

function pseudo(src: Uint8Array, dst: Uint8Array, proto: number, len: number): Uint8Array {
  return cat(src, dst, [0, proto], be16(len));
}

export function ethernet(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  return cat(dst, src, be16(type), payload);
}

export function ipv4(src: Uint8Array, dst: Uint8Array, proto: number, payload: Uint8Array, flags = 0x4000, id = 1): Uint8Array {
  const h = cat([0x45, 0], be16(20 + payload.length), be16(id), be16(flags), [64, proto, 0, 0], src, dst);
  h.set(be16(csum(h)), 10);
  return cat(h, payload);
}

export function udp(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const u = cat(be16(sport), be16(dport), be16(8 + payload.length), [0, 0], payload);
  u.set(be16(csum(pseudo(src, dst, 17, u.length), u) || 0xffff), 6);
  return u;
}

export interface Seg {
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  payload: Uint8Array;
}
export const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 };

export function tcp(src: Uint8Array, dst: Uint8Array, s: Seg): Uint8Array {
  const opts = s.mss === undefined ? [] : [2, 4, ...be16(s.mss), 1, 1, 4, 2]; // MSS, NOP NOP SACK-permitted
  const hlen = 20 + opts.length;
  const t = cat(be16(s.sport), be16(s.dport), be32(s.seq), be32(s.ack), [(hlen / 4) << 4, s.flags], be16(s.window), [0, 0, 0, 0], opts, s.payload);
  t.set(be16(csum(pseudo(src, dst, 6, t.length), t)), 16);
  return t;
}

/** A guest frame: Ethernet to the gateway, IPv4 from the guest. */
export function guestFrame(dst: Uint8Array, proto: number, l4: Uint8Array): Uint8Array {
  return ethernet(GATEWAY_MAC, GUEST_MAC, 0x0800, ipv4(GUEST, dst, proto, l4));
}

export interface Parsed {
  dstMac: Uint8Array;
  srcMac: Uint8Array;
  type: number;
  payload: Uint8Array;
  ip?: { src: string; dst: string; proto: number; ttl: number; flags: number; id: number; payload: Uint8Array };
  udp?: { sport: number; dport: number; payload: Uint8Array };
  tcp?: Seg;
}

const dotted = (b: Uint8Array) => Array.from(b).join('.');
const u16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u32 = (b: Uint8Array, i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/** Parses a frame from the NAT, asserting every length and checksum on the way. */
export function parse(f: Uint8Array): Parsed {
  assert.ok(f.length >= 14, 'frame shorter than an Ethernet header');
  const p: Parsed = { dstMac: f.subarray(0, 6), srcMac: f.subarray(6, 12), type: u16(f, 12), payload: f.subarray(14) };
  assert.deepEqual(p.srcMac, GATEWAY_MAC);
  if (p.type !== 0x0800) return p;
  const b = p.payload;
  assert.equal(b[0], 0x45, 'IPv4 without options');
  assert.equal(u16(b, 2), b.length, 'IP total length is the frame');
  assert.equal(csum(b.subarray(0, 20)), 0, 'IP header checksum');
  const src = b.subarray(12, 16), dst = b.subarray(16, 20);
  const l4 = b.subarray(20);
  p.ip = { src: dotted(src), dst: dotted(dst), proto: b[9], ttl: b[8], flags: u16(b, 6), id: u16(b, 4), payload: l4 };
  if (p.ip.flags & 0x3fff) return p; // a fragment: checked by its own test
  if (b[9] === 17) {
    assert.equal(u16(l4, 4), l4.length, 'UDP length');
    assert.equal(csum(pseudo(src, dst, 17, l4.length), l4), 0, 'UDP checksum');
    p.udp = { sport: u16(l4, 0), dport: u16(l4, 2), payload: l4.subarray(8) };
  } else if (b[9] === 6) {
    assert.equal(csum(pseudo(src, dst, 6, l4.length), l4), 0, 'TCP checksum');
    const hlen = (l4[12] >> 4) * 4;
    const s: Seg = { sport: u16(l4, 0), dport: u16(l4, 2), seq: u32(l4, 4), ack: u32(l4, 8), flags: l4[13], window: u16(l4, 14), payload: l4.subarray(hlen) };
    if (hlen >= 24 && l4[20] === 2 && l4[21] === 4) s.mss = u16(l4, 22);
    p.tcp = s;
  }
  return p;
}

/** The guest's side of the wire: records what the NAT delivers. */
export class Wire implements EthernetPort {
  readonly frames: Uint8Array[] = [];
  onFrame?: (f: Uint8Array) => void;
  deliver(frame: Uint8Array): void {
    this.frames.push(frame);
    this.onFrame?.(frame);
  }
  take(): Parsed[] {
    return this.frames.splice(0).map(parse);
  }
}

export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export const tick = () => new Promise((r) => setImmediate(r));

const ZERO_IP = ip('0.0.0.0');

/** A DHCP message of `type` (1 DISCOVER, 3 REQUEST) from `mac`, broadcast from 0.0.0.0. */
export function dhcpMessage(mac: Uint8Array, type: number, requested?: string): Uint8Array {
  const bootp = new Uint8Array(300);
  bootp.set([1, 1, 6, 0, 0x12, 0x34, 0x56, mac[5]]);
  bootp.set(mac, 28);
  bootp.set([0x63, 0x82, 0x53, 0x63], 236);
  const opts = [53, 1, type, ...(requested ? [50, 4, ...ip(requested)] : []), 255];
  bootp.set(opts, 240);
  return ethernet(BROADCAST, mac, 0x0800, ipv4(ZERO_IP, BROADCAST.subarray(0, 4), 17, udp(ZERO_IP, BROADCAST.subarray(0, 4), 68, 67, bootp), 0));
}
