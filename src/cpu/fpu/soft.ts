// Exact IEEE 754 binary32/binary64 arithmetic on BigInt significands: the reference
// ("slow") path. Every operation computes the exact result (or an exact truncation plus a
// sticky bit) and rounds once in roundPack, so correctness only has to be argued there.
// Values travel as raw bit patterns (bigint, unsigned) so NaN payloads survive untouched.

import { FFlag, Rm } from '../state.js';

export interface Format {
  /** Precision in bits, hidden bit included. */
  readonly p: number;
  readonly bias: number;
  /** Smallest normal exponent (unbiased). */
  readonly emin: number;
  /** Biased exponent of Inf/NaN. */
  readonly maxBiased: number;
  readonly fracBits: bigint;
  readonly hidden: bigint;
  readonly fracMask: bigint;
  readonly signBit: bigint;
  readonly quietBit: bigint;
  readonly inf: bigint;
  readonly maxFinite: bigint;
  readonly defaultNaN: bigint;
}

function makeFormat(width: number, p: number): Format {
  const ebits = width - p;
  const bias = (1 << (ebits - 1)) - 1;
  const fracBits = BigInt(p - 1);
  const hidden = 1n << fracBits;
  const maxBiased = (1 << ebits) - 1;
  const inf = BigInt(maxBiased) << fracBits;
  return {
    p,
    bias,
    emin: 1 - bias,
    maxBiased,
    fracBits,
    hidden,
    fracMask: hidden - 1n,
    signBit: 1n << BigInt(width - 1),
    quietBit: hidden >> 1n,
    inf,
    maxFinite: inf - 1n,
    defaultNaN: inf | (hidden >> 1n),
  };
}

export const F32 = makeFormat(32, 24);
export const F64 = makeFormat(64, 53);

// Exception flags raised by the operations since the last takeFlags(); module state keeps
// the operation signatures free of out-parameters.
let pending = 0;

export function raise(flags: number): void {
  pending |= flags;
}

export function takeFlags(): number {
  const f = pending;
  pending = 0;
  return f;
}

export const enum Cls {
  Zero,
  Finite,
  Inf,
  QNaN,
  SNaN,
}

/** A decoded operand; for Finite the value is (-1)^sign * sig * 2^exp, sig > 0. */
export class Num {
  constructor(
    public cls: Cls,
    public sign: boolean,
    public sig: bigint,
    public exp: number,
  ) {}
}

export function unpack(f: Format, bits: bigint): Num {
  const sign = (bits & f.signBit) !== 0n;
  const be = Number((bits >> f.fracBits) & BigInt(f.maxBiased));
  const frac = bits & f.fracMask;
  const lsbExp = f.emin - (f.p - 1);
  if (be === f.maxBiased) {
    if (frac === 0n) return new Num(Cls.Inf, sign, 0n, 0);
    return new Num((frac & f.quietBit) !== 0n ? Cls.QNaN : Cls.SNaN, sign, 0n, 0);
  }
  if (be === 0) return new Num(frac === 0n ? Cls.Zero : Cls.Finite, sign, frac, lsbExp);
  return new Num(Cls.Finite, sign, frac | f.hidden, lsbExp + be - 1);
}

export function bitLength(x: bigint): number {
  if (x < 0x100000000n) return 32 - Math.clz32(Number(x));
  const h = x.toString(16);
  return (h.length - 1) * 4 + 32 - Math.clz32(parseInt(h[0], 16));
}

export function zeroBits(f: Format, sign: boolean): bigint {
  return sign ? f.signBit : 0n;
}

export function infBits(f: Format, sign: boolean): bigint {
  return sign ? f.inf | f.signBit : f.inf;
}

/** Any NaN operand gives the canonical NaN; a signalling one also raises NV. */
export function nanResult(f: Format, ...ops: Num[]): bigint {
  for (const o of ops) if (o.cls === Cls.SNaN) raise(FFlag.NV);
  return f.defaultNaN;
}

export function isNan(n: Num): boolean {
  return n.cls >= Cls.QNaN;
}

/** Whether discarding rem (out of 2^sh, plus a sticky tail) from q means incrementing q. */
function roundsUp(q: bigint, rem: bigint, sh: number, sticky: boolean, sign: boolean, rm: number): boolean {
  if (rem === 0n && !sticky) return false;
  switch (rm) {
    case Rm.RNE: {
      const half = 1n << BigInt(sh - 1);
      return rem > half || (rem === half && (sticky || (q & 1n) === 1n));
    }
    case Rm.RMM:
      return rem >= 1n << BigInt(sh - 1);
    case Rm.RDN:
      return sign;
    case Rm.RUP:
      return !sign;
    default:
      return false;
  }
}

/**
 * Rounds (-1)^sign * (sig + t) * 2^exp, 0 <= t < 1 with t > 0 iff sticky, to format f.
 * sig > 0. When sticky is set sig must carry at least p+2 bits so that the tail lies below
 * the rounding bit.
 */
export function roundPack(f: Format, sign: boolean, sig: bigint, exp: number, sticky: boolean, rm: number): bigint {
  const p = f.p;
  const n = bitLength(sig);
  const e = exp + n - 1;

  // RISC-V detects tininess after rounding: round to p bits as if the exponent range were
  // unbounded and see whether the result is still below the smallest normal.
  let tiny = false;
  if (e < f.emin) {
    tiny = true;
    if (n > p && e + 1 === f.emin) {
      const sh = n - p;
      const q = sig >> BigInt(sh);
      if (q + 1n === 1n << BigInt(p) && roundsUp(q, sig - (q << BigInt(sh)), sh, sticky, sign, rm)) tiny = false;
    }
  }

  let lsb = Math.max(e, f.emin) - (p - 1);
  const sh = lsb - exp;
  let q: bigint;
  let inexact: boolean;
  if (sh > 0) {
    const bsh = BigInt(sh);
    q = sig >> bsh;
    const rem = sig - (q << bsh);
    inexact = rem !== 0n || sticky;
    if (roundsUp(q, rem, sh, sticky, sign, rm)) q += 1n;
  } else {
    q = sig << BigInt(-sh);
    inexact = sticky;
  }
  if (q === f.hidden << 1n) {
    q >>= 1n;
    lsb++;
  }

  let bits: bigint;
  if (q >= f.hidden) {
    const be = lsb + (p - 1) + f.bias;
    if (be >= f.maxBiased) {
      raise(FFlag.OF | FFlag.NX);
      const toInf = rm === Rm.RNE || rm === Rm.RMM || (rm === Rm.RDN && sign) || (rm === Rm.RUP && !sign);
      return (toInf ? f.inf : f.maxFinite) | (sign ? f.signBit : 0n);
    }
    bits = (BigInt(be) << f.fracBits) | (q - f.hidden);
  } else {
    bits = q;
  }
  if (inexact) raise(tiny ? FFlag.NX | FFlag.UF : FFlag.NX);
  return sign ? bits | f.signBit : bits;
}

/** Re-encodes an exact finite operand (possibly into another format). */
function exact(f: Format, n: Num, rm: number): bigint {
  return roundPack(f, n.sign, n.sig, n.exp, false, rm);
}

/** Exact signed sum of two finite values, rounded once. */
function sumRound(f: Format, sa: boolean, ma: bigint, ea: number, sb: boolean, mb: bigint, eb: number, rm: number): bigint {
  const e = Math.min(ea, eb);
  const a = ma << BigInt(ea - e);
  const b = mb << BigInt(eb - e);
  const sum = (sa ? -a : a) + (sb ? -b : b);
  // An exact zero from opposite signs is +0, except -0 when rounding down.
  if (sum === 0n) return zeroBits(f, rm === Rm.RDN);
  return sum < 0n ? roundPack(f, true, -sum, e, false, rm) : roundPack(f, false, sum, e, false, rm);
}

export function add(f: Format, abits: bigint, bbits: bigint, negB: boolean, rm: number): bigint {
  const a = unpack(f, abits);
  const b = unpack(f, bbits);
  if (isNan(a) || isNan(b)) return nanResult(f, a, b);
  const sb = b.sign !== negB;
  if (a.cls === Cls.Inf) {
    if (b.cls === Cls.Inf && a.sign !== sb) return invalid(f);
    return infBits(f, a.sign);
  }
  if (b.cls === Cls.Inf) return infBits(f, sb);
  if (a.cls === Cls.Zero) {
    if (b.cls === Cls.Zero) return zeroBits(f, a.sign === sb ? a.sign : rm === Rm.RDN);
    return roundPack(f, sb, b.sig, b.exp, false, rm);
  }
  if (b.cls === Cls.Zero) return exact(f, a, rm);
  return sumRound(f, a.sign, a.sig, a.exp, sb, b.sig, b.exp, rm);
}

export function mul(f: Format, abits: bigint, bbits: bigint, rm: number): bigint {
  const a = unpack(f, abits);
  const b = unpack(f, bbits);
  if (isNan(a) || isNan(b)) return nanResult(f, a, b);
  const sign = a.sign !== b.sign;
  if (a.cls === Cls.Inf || b.cls === Cls.Inf) {
    if (a.cls === Cls.Zero || b.cls === Cls.Zero) return invalid(f);
    return infBits(f, sign);
  }
  if (a.cls === Cls.Zero || b.cls === Cls.Zero) return zeroBits(f, sign);
  return roundPack(f, sign, a.sig * b.sig, a.exp + b.exp, false, rm);
}

function invalid(f: Format): bigint {
  raise(FFlag.NV);
  return f.defaultNaN;
}

export function div(f: Format, abits: bigint, bbits: bigint, rm: number): bigint {
  const a = unpack(f, abits);
  const b = unpack(f, bbits);
  if (isNan(a) || isNan(b)) return nanResult(f, a, b);
  const sign = a.sign !== b.sign;
  if (a.cls === Cls.Inf) return b.cls === Cls.Inf ? invalid(f) : infBits(f, sign);
  if (b.cls === Cls.Inf) return zeroBits(f, sign);
  if (b.cls === Cls.Zero) {
    if (a.cls === Cls.Zero) return invalid(f);
    raise(FFlag.DZ);
    return infBits(f, sign);
  }
  if (a.cls === Cls.Zero) return zeroBits(f, sign);
  // Scale the dividend so the quotient has at least p+2 bits; the remainder is the sticky bit.
  const k = Math.max(0, f.p + 3 + bitLength(b.sig) - bitLength(a.sig));
  const num = a.sig << BigInt(k);
  const q = num / b.sig;
  return roundPack(f, sign, q, a.exp - b.exp - k, q * b.sig !== num, rm);
}

/** floor(sqrt(n)) for n > 0. */
export function isqrt(n: bigint): bigint {
  // Start from a slight over-estimate; Newton's iteration then decreases monotonically.
  let x = BigInt(Math.ceil(Math.sqrt(Number(n)) * (1 + 2 ** -40))) + 1n;
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function sqrt(f: Format, abits: bigint, rm: number): bigint {
  const a = unpack(f, abits);
  if (isNan(a)) return nanResult(f, a);
  if (a.cls === Cls.Zero) return abits;
  if (a.sign) return invalid(f);
  if (a.cls === Cls.Inf) return abits;
  let k = Math.max(0, 2 * f.p + 4 - bitLength(a.sig));
  if (((a.exp - k) & 1) !== 0) k++;
  const rad = a.sig << BigInt(k);
  const r = isqrt(rad);
  return roundPack(f, false, r, (a.exp - k) / 2, r * r !== rad, rm);
}

/** (-1)^negProd * a*b + (-1)^negAdd * c with a single rounding. */
export function fma(f: Format, abits: bigint, bbits: bigint, cbits: bigint, negProd: boolean, negAdd: boolean, rm: number): bigint {
  const a = unpack(f, abits);
  const b = unpack(f, bbits);
  const c = unpack(f, cbits);
  // inf * 0 is invalid even when the addend is a quiet NaN.
  const infZero =
    (a.cls === Cls.Inf && b.cls === Cls.Zero) || (a.cls === Cls.Zero && b.cls === Cls.Inf);
  if (isNan(a) || isNan(b) || isNan(c)) {
    if (infZero) raise(FFlag.NV);
    return nanResult(f, a, b, c);
  }
  if (infZero) return invalid(f);
  const ps = a.sign !== b.sign !== negProd;
  const cs = c.sign !== negAdd;
  if (a.cls === Cls.Inf || b.cls === Cls.Inf) {
    if (c.cls === Cls.Inf && cs !== ps) return invalid(f);
    return infBits(f, ps);
  }
  if (c.cls === Cls.Inf) return infBits(f, cs);
  const prodZero = a.cls === Cls.Zero || b.cls === Cls.Zero;
  if (prodZero) {
    if (c.cls === Cls.Zero) return zeroBits(f, ps === cs ? ps : rm === Rm.RDN);
    return roundPack(f, cs, c.sig, c.exp, false, rm);
  }
  const psig = a.sig * b.sig;
  const pexp = a.exp + b.exp;
  if (c.cls === Cls.Zero) return roundPack(f, ps, psig, pexp, false, rm);
  return sumRound(f, ps, psig, pexp, cs, c.sig, c.exp, rm);
}

/** Converts between formats (D->S rounds; S->D is exact). */
export function convert(to: Format, from: Format, abits: bigint, rm: number): bigint {
  const a = unpack(from, abits);
  if (isNan(a)) return nanResult(to, a);
  if (a.cls === Cls.Inf) return infBits(to, a.sign);
  if (a.cls === Cls.Zero) return zeroBits(to, a.sign);
  return exact(to, a, rm);
}
