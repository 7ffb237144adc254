// The Internet checksum (RFC 1071): one's-complement sum of 16-bit big-endian words.
// Sums are kept as plain numbers and folded once at the end: 64 KiB of 0xffff words stays
// far below 2^53, so no intermediate folding is needed.

import type { Ip } from './addresses.js';

/** Adds bytes [start, end) as big-endian words to `acc` (an odd tail is padded with 0). */
export function sum16(b: Uint8Array, start = 0, end = b.length, acc = 0): number {
  let s = acc;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value for bytes [start, end) plus an already-summed `acc`. */
export function checksum(b: Uint8Array, start = 0, end = b.length, acc = 0): number {
  return ~fold(sum16(b, start, end, acc)) & 0xffff;
}

/** The TCP/UDP pseudo-header (RFC 793 / 768) as a partial sum. */
export function pseudoHeaderSum(src: Ip, dst: Ip, proto: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
}

/** True when bytes that include their own checksum field verify (sum folds to 0xffff). */
export function verifies(b: Uint8Array, start = 0, end = b.length, acc = 0): boolean {
  return fold(sum16(b, start, end, acc)) === 0xffff;
}
