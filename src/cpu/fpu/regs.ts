// Register access shared by the fast and slow paths, plus the scratch views used to move
// between a double/float value and its bits without allocating.

import { FFlag, Rm, Slot, slotIndex, type HartState } from '../state.js';

/** Int32 index of fflags; frm is the word after it. */
export const FCSR = slotIndex(Slot.Fcsr);

const scratch = new ArrayBuffer(8);
/** Scratch views over the same 8 bytes (little-endian, like the hart state). */
export const sf64 = new Float64Array(scratch);
export const sf32 = new Float32Array(scratch);
export const si32 = new Int32Array(scratch);

export const CANON_S = 0x7fc00000;
export const CANON_D_HI = 0x7ff80000;

/** The low word of f[r] as a single, or the canonical NaN when r is not properly NaN-boxed. */
export function boxedS(s: HartState, r: number): number {
  return s.fi[2 * r + 1] === -1 ? s.fi[2 * r] : CANON_S;
}

export function readBitsS(s: HartState, r: number): bigint {
  return BigInt(boxedS(s, r) >>> 0);
}

export function readBitsD(s: HartState, r: number): bigint {
  return (BigInt(s.fi[2 * r + 1] >>> 0) << 32n) | BigInt(s.fi[2 * r] >>> 0);
}

export function writeBitsS(s: HartState, r: number, bits: bigint): void {
  s.fi[2 * r] = Number(BigInt.asIntN(32, bits));
  s.fi[2 * r + 1] = -1;
}

export function writeBitsD(s: HartState, r: number, bits: bigint): void {
  s.fi[2 * r] = Number(BigInt.asIntN(32, bits));
  s.fi[2 * r + 1] = Number(BigInt.asIntN(32, bits >> 32n));
}

/** Writes a non-NaN single value NaN-boxed. */
export function writeS(s: HartState, r: number, v: number): void {
  sf32[0] = v;
  s.fi[2 * r] = si32[0];
  s.fi[2 * r + 1] = -1;
}

/** f[r] as a single-precision value (exactly, as a double); NaN for NaNs and bad boxing. */
export function loadS(s: HartState, r: number): number {
  if (s.fi[2 * r + 1] !== -1) return NaN;
  si32[0] = s.fi[2 * r];
  return sf32[0];
}

export function writeX(s: HartState, rd: number, lo: number, hi: number): void {
  if (rd === 0) return;
  s.x[2 * rd] = lo;
  s.x[2 * rd + 1] = hi;
}

export function raiseFlags(s: HartState, flags: number): void {
  s.w[FCSR] |= flags;
}

/** The neighbouring double of a finite nonzero r, one ulp away from or toward zero. */
export function stepD(r: number, away: boolean): number {
  sf64[0] = r;
  const lo = si32[0];
  if (away) {
    si32[0] = lo + 1;
    if (lo === -1) si32[1]++;
  } else {
    si32[0] = lo - 1;
    if (lo === 0) si32[1]--;
  }
  return sf64[0];
}

/** The neighbouring single of a finite nonzero single r. */
export function stepS(r: number, away: boolean): number {
  sf32[0] = r;
  si32[0] += away ? 1 : -1;
  return sf32[0];
}

/**
 * Turns r = RNE(x) into the result for rounding mode rm, given dir = sign of x - r
 * (nonzero) and whether x lies exactly halfway between r and its neighbour.
 * step is stepD or stepS. r must be nonzero and not at the edge of the normal range.
 */
export function directed(r: number, dir: number, tie: boolean, rm: number, step: (r: number, away: boolean) => number): number {
  const up = dir > 0;
  const pos = r > 0;
  switch (rm) {
    case Rm.RTZ:
      return up !== pos ? step(r, false) : r;
    case Rm.RDN:
      return up ? r : step(r, !pos);
    case Rm.RUP:
      return up ? step(r, pos) : r;
    case Rm.RMM:
      return tie && up === pos ? step(r, true) : r;
    default:
      return r;
  }
}

/** x = r + err exactly; is x halfway between r and its neighbour on err's side? */
export function isTieD(r: number, err: number): boolean {
  const n = stepD(r, err > 0 === r > 0);
  return n - r === 2 * err;
}

// Veltkamp splitting constant 2^27 + 1 for Dekker's exact product.
const SPLIT = 134217729;

/** The exact error a*b - RN(a*b) (Dekker); valid when nothing over- or underflows. */
export function productError(a: number, b: number, p: number): number {
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

export const NX = FFlag.NX;
