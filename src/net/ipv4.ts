// IPv4 headers. Parsing validates everything a later layer would trust (version, header
// length, total length against the bytes present, header checksum) so the protocol
// handlers can index without further checks.
//
// Fragments from the guest are dropped, not reassembled: a Linux guest sets DF on TCP and
// never fragments below its 1500-byte MTU, so only oversized UDP would be affected.
// Packets *to* the guest are fragmented when larger than the MTU (big DNS/UDP replies).

import { type Ip, readIp, writeIp } from './addresses.js';
import { checksum, verifies } from './checksum.js';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const MTU = 1500;
const TTL = 64;

export interface Ipv4Packet {
  src: Ip;
  dst: Ip;
  proto: number;
  /** The original header bytes (with options): ICMP errors quote them. */
  header: Uint8Array;
  payload: Uint8Array;
}

export type Ipv4Result = Ipv4Packet | 'malformed' | 'fragment';

export function parseIpv4(b: Uint8Array): Ipv4Result {
  if (b.length < 20 || b[0] >> 4 !== 4) return 'malformed';
  const ihl = (b[0] & 0x0f) * 4;
  const total = (b[2] << 8) | b[3];
  // Trailing bytes beyond `total` are Ethernet padding (60-byte minimum frames).
  if (ihl < 20 || total < ihl || total > b.length) return 'malformed';
  if (!verifies(b, 0, ihl)) return 'malformed';
  const frag = (b[6] << 8) | b[7];
  if ((frag & 0x2000) !== 0 || (frag & 0x1fff) !== 0) return 'fragment';
  return {
    src: readIp(b, 12),
    dst: readIp(b, 16),
    proto: b[9],
    header: b.subarray(0, ihl),
    payload: b.subarray(ihl, total),
  };
}

/** Writes a 20-byte header at `at` in `out`. `flags` holds DF/MF and the fragment offset. */
function writeHeader(out: Uint8Array, at: number, src: Ip, dst: Ip, proto: number, length: number, id: number, flags: number): void {
  out[at] = 0x45;
  out[at + 1] = 0;
  out[at + 2] = length >>> 8;
  out[at + 3] = length & 0xff;
  out[at + 4] = (id >>> 8) & 0xff;
  out[at + 5] = id & 0xff;
  out[at + 6] = flags >>> 8;
  out[at + 7] = flags & 0xff;
  out[at + 8] = TTL;
  out[at + 9] = proto;
  out[at + 10] = 0;
  out[at + 11] = 0;
  writeIp(out, at + 12, src);
  writeIp(out, at + 16, dst);
  const c = checksum(out, at, at + 20);
  out[at + 10] = c >>> 8;
  out[at + 11] = c & 0xff;
}

/**
 * Packets carrying `payload`, each placed `headroom` bytes into its own buffer (room for
 * the Ethernet header). One packet when it fits the MTU; RFC 791 fragments otherwise
 * (offsets in 8-byte units, MF on all but the last).
 */
export function buildIpv4(src: Ip, dst: Ip, proto: number, payload: Uint8Array, id: number, dontFragment: boolean, headroom = 0): Uint8Array[] {
  if (20 + payload.length <= MTU) {
    const out = new Uint8Array(headroom + 20 + payload.length);
    writeHeader(out, headroom, src, dst, proto, 20 + payload.length, id, dontFragment ? 0x4000 : 0);
    out.set(payload, headroom + 20);
    return [out];
  }
  const chunk = (MTU - 20) & ~7;
  const packets: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += chunk) {
    const part = payload.subarray(off, off + chunk);
    const more = off + chunk < payload.length ? 0x2000 : 0;
    const out = new Uint8Array(headroom + 20 + part.length);
    writeHeader(out, headroom, src, dst, proto, 20 + part.length, id, more | (off >>> 3));
    out.set(part, headroom + 20);
    packets.push(out);
  }
  return packets;
}
