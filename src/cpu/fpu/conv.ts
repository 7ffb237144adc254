// Conversions between floating-point and integer registers. Every finite single or double
// is exactly a JS number and every integer result we produce is an integral double below
// 2^64, so float->int needs no BigInt: truncate, look at the exact fraction, round, range-check.

import { FFlag, Rm, type HartState } from '../state.js';
import { FCSR, loadS, writeBitsD, writeBitsS, writeX } from './regs.js';
import { F32, F64, roundPack, takeFlags } from './soft.js';
import { addD, sumToS } from './fast.js';

/** The integer type of an FCVT (the rs2 field). */
export const enum IntKind {
  W = 0,
  WU = 1,
  L = 2,
  LU = 3,
}

const TWO32 = 4294967296;
const TWO63 = 9223372036854775808;
const TWO64 = 18446744073709551616;

/** Rounds v (finite, non-NaN) to an integral value in mode rm. */
function roundToIntegral(v: number, rm: number): number {
  const t = Math.trunc(v);
  const frac = v - t;
  if (frac === 0) return t;
  const step = frac > 0 ? 1 : -1;
  switch (rm) {
    case Rm.RNE: {
      const af = Math.abs(frac);
      return af > 0.5 || (af === 0.5 && t % 2 !== 0) ? t + step : t;
    }
    case Rm.RDN:
      return frac < 0 ? t - 1 : t;
    case Rm.RUP:
      return frac > 0 ? t + 1 : t;
    case Rm.RMM:
      return Math.abs(frac) >= 0.5 ? t + step : t;
    default:
      return t;
  }
}

// Saturation values per IntKind as [lo, hi] words: below range, then above range / NaN.
const MIN_LO = [0x80000000 | 0, 0, 0, 0];
const MIN_HI = [-1, 0, 0x80000000 | 0, 0];
const MAX_LO = [0x7fffffff, -1, -1, -1];
const MAX_HI = [0, -1, 0x7fffffff, -1];
const LOWER = [-2147483648, 0, -TWO63, 0];
const LIMIT = [2147483648, TWO32, TWO63, TWO64];

/** FCVT.{W,WU,L,LU}.{S,D} of value v (NaN for any NaN input). */
export function floatToInt(s: HartState, rd: number, v: number, kind: IntKind, rm: number): void {
  const r = v !== v || Math.abs(v) === Infinity ? v : roundToIntegral(v, rm);
  let lo: number;
  let hi: number;
  if (r < LOWER[kind]) {
    s.w[FCSR] |= FFlag.NV;
    lo = MIN_LO[kind];
    hi = MIN_HI[kind];
  } else if (!(r < LIMIT[kind])) {
    // Too large, +Inf and NaN all saturate to the maximum.
    s.w[FCSR] |= FFlag.NV;
    lo = MAX_LO[kind];
    hi = MAX_HI[kind];
  } else {
    if (r !== v) s.w[FCSR] |= FFlag.NX;
    if (kind <= IntKind.WU) {
      // 32-bit results are sign-extended, WU included.
      lo = r | 0;
      hi = lo >> 31;
    } else {
      const h = Math.floor(r / TWO32);
      lo = (r - h * TWO32) | 0;
      hi = h | 0;
    }
  }
  writeX(s, rd, lo, hi);
}

export function floatToIntS(s: HartState, rd: number, rs1: number, kind: IntKind, rm: number): void {
  floatToInt(s, rd, loadS(s, rs1), kind, rm);
}

/** High part (an exact multiple of 2^32) of the source integer of FCVT.{S,D}.{W,WU,L,LU}. */
function intHi(s: HartState, rs1: number, kind: IntKind): number {
  if (kind === IntKind.L) return s.x[2 * rs1 + 1] * TWO32;
  if (kind === IntKind.LU) return (s.x[2 * rs1 + 1] >>> 0) * TWO32;
  return 0;
}

/** Low part of the source integer; only W's is signed. */
function intLo(s: HartState, rs1: number, kind: IntKind): number {
  return kind === IntKind.W ? s.x[2 * rs1] : s.x[2 * rs1] >>> 0;
}

export function intToFloat(s: HartState, rd: number, rs1: number, kind: IntKind, double: boolean, rm: number, fast: boolean): void {
  const hi = intHi(s, rs1, kind);
  const lo = intLo(s, rs1, kind);
  if (fast) {
    if (hi === 0 && lo === 0) {
      if (double) s.f[rd] = 0;
      else writeBitsS(s, rd, 0n);
      return;
    }
    // 32-bit integers are exact doubles; otherwise hi + lo rounds exactly once.
    if (double && hi === 0) {
      s.f[rd] = lo;
      return;
    }
    if (double ? addD(s, rd, hi, lo, rm) : sumToS(s, rd, hi, lo, rm)) return;
  }
  const v = BigInt(hi) + BigInt(lo);
  const f = double ? F64 : F32;
  const bits = v === 0n ? 0n : v < 0n ? roundPack(f, true, -v, 0, false, rm) : roundPack(f, false, v, 0, false, rm);
  s.w[FCSR] |= takeFlags();
  if (double) writeBitsD(s, rd, bits);
  else writeBitsS(s, rd, bits);
}
