// Fast paths for the hot arithmetic: compute with JS doubles (round-to-nearest-even) and
// recover the exact rounding error with error-free transformations, which gives NX and lets
// the directed modes be fixed up by one ulp. Each function returns false, having changed
// nothing, whenever its preconditions fail (NaN/Inf operands, results near overflow,
// underflow or zero where the sign rules matter); the caller then takes the exact slow path.
//
// Ranges: Dekker's product is exact when no step overflows and the error is a multiple of
// the smallest subnormal; keeping |operands| < 2^995 and |results| in (2^-960, 2^995)
// guarantees both with margin, and also keeps a one-ulp nudge inside the normal range.

import { Rm, type HartState } from '../state.js';
import { FCSR, NX, directed, isTieD, loadS, productError, sf64, si32, stepD, stepS, writeS } from './regs.js';

const LO = 2 ** -960;
const HI = 2 ** 995;
const MIN_NORMAL_S = 2 ** -126;
const MAX_S = (2 - 2 ** -23) * 2 ** 127;

/**
 * Commits r = RNE(x) for mode rm, unless the nudge overflows. err has the sign of x - r
 * (nonzero); it is exactly x - r when exact is set, otherwise x is known not to be a tie.
 */
function commitInexactD(s: HartState, rd: number, r: number, err: number, rm: number, exact: boolean): boolean {
  if (rm !== Rm.RNE) {
    r = directed(r, err, exact && rm === Rm.RMM && isTieD(r, err), rm, stepD);
    if (r - r !== 0) return false;
  }
  s.w[FCSR] |= NX;
  s.f[rd] = r;
  return true;
}

export function addD(s: HartState, rd: number, a: number, b: number, rm: number): boolean {
  const r = a + b;
  if (r - r !== 0) return false;
  // TwoSum: err = (a + b) - r exactly.
  const bb = r - a;
  const err = a - (r - bb) + (b - bb);
  if (err === 0) {
    // x - x is -0 when rounding down; leave that sign rule to the slow path.
    if (r === 0 && rm === Rm.RDN) return false;
    s.f[rd] = r;
    return true;
  }
  if (err - err !== 0) return false;
  return commitInexactD(s, rd, r, err, rm, true);
}

export function mulD(s: HartState, rd: number, a: number, b: number, rm: number): boolean {
  const r = a * b;
  const ar = Math.abs(r);
  if (!(ar > LO && ar < HI && Math.abs(a) < HI && Math.abs(b) < HI)) {
    if (r === 0 && (a === 0 || b === 0)) {
      s.f[rd] = r;
      return true;
    }
    return false;
  }
  const err = productError(a, b, r);
  if (err === 0) {
    s.f[rd] = r;
    return true;
  }
  return commitInexactD(s, rd, r, err, rm, true);
}

export function divD(s: HartState, rd: number, a: number, b: number, rm: number): boolean {
  const q = a / b;
  const aq = Math.abs(q);
  const aa = Math.abs(a);
  if (!(aq > LO && aq < HI && Math.abs(b) < HI && aa > LO && aa < HI)) {
    if (q === 0 && (a === 0 || Math.abs(b) === Infinity) && a - a === 0) {
      s.f[rd] = q;
      return true;
    }
    return false;
  }
  // rem = a - q*b exactly; the true quotient is q + rem/b. Quotients are never ties.
  const p = q * b;
  const rem = a - p - productError(q, b, p);
  if (rem === 0) {
    s.f[rd] = q;
    return true;
  }
  return commitInexactD(s, rd, q, rem > 0 === b > 0 ? 1 : -1, rm, false);
}

export function sqrtD(s: HartState, rd: number, a: number, rm: number): boolean {
  if (!(a > LO && a < HI)) {
    if (a === 0) {
      s.f[rd] = a;
      return true;
    }
    return false;
  }
  const r = Math.sqrt(a);
  const p = r * r;
  const rem = a - p - productError(r, r, p);
  if (rem === 0) {
    s.f[rd] = r;
    return true;
  }
  return commitInexactD(s, rd, r, rem, rm, false);
}

/**
 * Rounds d to single and commits it. d must be the correctly rounded double of the exact
 * result x, or x's round-to-odd double (so that rounding d to single equals rounding x);
 * e is the sign of x - d. Bails out near the edges of the single normal range and at zero.
 */
function finishS(s: HartState, rd: number, d: number, e: number, rm: number): boolean {
  let f = Math.fround(d);
  const af = Math.abs(f);
  if (!(af > MIN_NORMAL_S && af < MAX_S)) return false;
  // When d was rounded, x lies on the same side of f as d does.
  const dir = f === d ? e : d > f ? 1 : -1;
  if (dir !== 0) {
    if (rm !== Rm.RNE) {
      // A tie needs x = d exactly, halfway to the other neighbour g = 2d - f.
      let tie = false;
      if (rm === Rm.RMM && e === 0 && f !== d) {
        const g = 2 * d - f;
        tie = Math.fround(g) === g;
      }
      f = directed(f, dir, tie, rm, stepS);
    }
    s.w[FCSR] |= NX;
  }
  writeS(s, rd, f);
  return true;
}

// With 24-bit operands, one double operation is correctly rounded to double and rounding
// that to single again is innocuous for + - * / sqrt (53 >= 2*24 + 2).

export function addS(s: HartState, rd: number, a: number, b: number, rm: number): boolean {
  const d = a + b;
  if (d - d !== 0) return false;
  const bb = d - a;
  const err = a - (d - bb) + (b - bb);
  return finishS(s, rd, d, err > 0 ? 1 : err < 0 ? -1 : 0, rm);
}

export function mulS(s: HartState, rd: number, a: number, b: number, rm: number): boolean {
  return finishS(s, rd, a * b, 0, rm);
}

export function divS(s: HartState, rd: number, a: number, b: number, rm: number): boolean {
  const q = a / b;
  if (q - q !== 0 || q === 0) return false;
  const p = q * b;
  const rem = a - p - productError(q, b, p);
  return finishS(s, rd, q, rem === 0 ? 0 : rem > 0 === b > 0 ? 1 : -1, rm);
}

export function sqrtS(s: HartState, rd: number, a: number, rm: number): boolean {
  if (!(a > 0 && a < Infinity)) return false;
  const r = Math.sqrt(a);
  const p = r * r;
  const rem = a - p - productError(r, r, p);
  return finishS(s, rd, r, rem > 0 ? 1 : rem < 0 ? -1 : 0, rm);
}

/**
 * Rounds the exact sum hi + lo (doubles, |lo| possibly large) to single: the double sum is
 * made round-to-odd first, which keeps the second rounding correct for any x.
 */
export function sumToS(s: HartState, rd: number, hi: number, lo: number, rm: number): boolean {
  let d = hi + lo;
  if (d - d !== 0) return false;
  const bb = d - hi;
  const err = hi - (d - bb) + (lo - bb);
  let e = 0;
  if (err !== 0) {
    e = err > 0 ? 1 : -1;
    sf64[0] = d;
    if ((si32[0] & 1) === 0) {
      d = stepD(d, err > 0 === d > 0);
      e = -e;
    }
  }
  return finishS(s, rd, d, e, rm);
}

/** Single-precision fused multiply-add: the 48-bit product is exact in a double. */
export function fmaS(s: HartState, rd: number, rs1: number, rs2: number, rs3: number, negProd: boolean, negAdd: boolean, rm: number): boolean {
  const p = loadS(s, rs1) * loadS(s, rs2);
  const c = loadS(s, rs3);
  return sumToS(s, rd, negProd ? -p : p, negAdd ? -c : c, rm);
}

/** D -> S conversion. */
export function narrowS(s: HartState, rd: number, d: number, rm: number): boolean {
  return finishS(s, rd, d, 0, rm);
}

/**
 * Double fused multiply-add (Boldo & Melquiond's emulation): a*b = p + pe exactly (Dekker),
 * p + c = sh + sl exactly (TwoSum), then RN(sh + RO(sl + pe)) = RN(a*b + c), where RO is
 * round-to-odd, which keeps every discarded bit as a sticky lsb.
 */
export function fmaD(s: HartState, rd: number, a: number, b: number, c: number, rm: number): boolean {
  const p = a * b;
  const ap = Math.abs(p);
  if (!(ap > LO && ap < HI && Math.abs(a) < HI && Math.abs(b) < HI && Math.abs(c) < HI)) {
    // A zero product leaves a nonzero addend exact.
    if (p === 0 && (a === 0 || b === 0) && c !== 0 && c - c === 0) {
      s.f[rd] = c;
      return true;
    }
    return false;
  }
  const pe = productError(a, b, p);
  const sh = p + c;
  let bb = sh - p;
  const sl = p - (sh - bb) + (c - bb);
  const u = sl + pe;
  bb = u - sl;
  const v = sl - (u - bb) + (pe - bb);
  let uo = u;
  if (v !== 0) {
    sf64[0] = u;
    if ((si32[0] & 1) === 0) uo = stepD(u, v > 0 === u > 0);
  }
  const r = sh + uo;
  bb = r - sh;
  const w = sh - (r - bb) + (uo - bb);
  const ar = Math.abs(r);
  if (!(ar > LO && ar < HI)) return false;
  // x - r = w + d, where d = (u + v) - uo is the round-to-odd error, smaller than w's grain
  // whenever w is nonzero.
  let dir: number;
  if (v === 0) {
    dir = w;
  } else {
    const dAbs = uo === u ? Math.abs(v) : Math.abs(uo - u) - Math.abs(v);
    if (w !== 0) {
      if (!(Math.abs(w) > dAbs) || rm === Rm.RMM) return false;
      dir = w;
    } else {
      if (rm === Rm.RMM) return false;
      dir = uo === u ? v : u - uo;
    }
  }
  if (dir === 0) {
    s.f[rd] = r;
    return true;
  }
  return commitInexactD(s, rd, r, dir, rm, v === 0);
}
