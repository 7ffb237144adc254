// TCP segment encoding (RFC 793/9293). Only the MSS option is understood; everything else
// in the options area is skipped, and a malformed options area drops the segment. We
// never offer window scaling, SACK or timestamps, so a conforming peer never uses them
// with us (each needs both SYNs to carry it) and windows stay within 16 bits.

import type { Ip } from './addresses.js';
import { checksum, pseudoHeaderSum, verifies } from './checksum.js';
import { PROTO_TCP } from './ipv4.js';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** The MSS option when present (only meaningful on SYNs). */
  mss?: number;
  payload: Uint8Array;
}

export function parseTcp(b: Uint8Array, src: Ip, dst: Ip): TcpSegment | null {
  if (b.length < 20) return null;
  const hlen = (b[12] >> 4) * 4;
  if (hlen < 20 || hlen > b.length) return null;
  if (!verifies(b, 0, b.length, pseudoHeaderSum(src, dst, PROTO_TCP, b.length))) return null;
  let mss: number | undefined;
  for (let i = 20; i < hlen; ) {
    const kind = b[i];
    if (kind === 0) break; // end of options
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= hlen) return null;
    const len = b[i + 1];
    if (len < 2 || i + len > hlen) return null;
    if (kind === 2 && len === 4) mss = (b[i + 2] << 8) | b[i + 3];
    i += len;
  }
  return {
    srcPort: (b[0] << 8) | b[1],
    dstPort: (b[2] << 8) | b[3],
    seq: ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0,
    ack: ((b[8] << 24) | (b[9] << 16) | (b[10] << 8) | b[11]) >>> 0,
    flags: b[13] & 0x3f,
    window: (b[14] << 8) | b[15],
    mss,
    payload: b.subarray(hlen),
  };
}

export function buildTcp(src: Ip, dst: Ip, s: TcpSegment): Uint8Array {
  const hlen = s.mss === undefined ? 20 : 24;
  const b = new Uint8Array(hlen + s.payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, s.srcPort);
  v.setUint16(2, s.dstPort);
  v.setUint32(4, s.seq >>> 0);
  v.setUint32(8, s.ack >>> 0);
  b[12] = (hlen / 4) << 4;
  b[13] = s.flags;
  v.setUint16(14, Math.max(0, Math.min(0xffff, s.window)));
  if (s.mss !== undefined) {
    b[20] = 2;
    b[21] = 4;
    v.setUint16(22, s.mss);
  }
  b.set(s.payload, hlen);
  v.setUint16(16, checksum(b, 0, b.length, pseudoHeaderSum(src, dst, PROTO_TCP, b.length)));
  return b;
}

/** The RST answering a segment that no connection owns (RFC 9293 3.10.7.1): it carries
 *  the segment's ACK as its sequence number, or else acknowledges the whole segment. */
export function resetFor(seg: TcpSegment): TcpSegment {
  const len = seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
  const base = { srcPort: seg.dstPort, dstPort: seg.srcPort, window: 0, payload: new Uint8Array(0) };
  if (seg.flags & ACK) return { ...base, seq: seg.ack, ack: 0, flags: RST };
  return { ...base, seq: 0, ack: seqAdd(seg.seq, len), flags: RST | ACK };
}

/** Sequence-space arithmetic modulo 2^32. */
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
export const seqLt = (a: number, b: number): boolean => seqDiff(a, b) < 0;
export const seqLe = (a: number, b: number): boolean => seqDiff(a, b) <= 0;
