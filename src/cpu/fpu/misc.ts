// The non-arithmetic F/D instructions: sign injection, min/max, comparisons, classify and
// register moves. They work on register words (no rounding involved), so NaN payloads and
// signed zeros are handled exactly.

import { FFlag, type HartState } from '../state.js';
import { CANON_D_HI, CANON_S, FCSR, boxedS, sf32, si32, writeX } from './regs.js';

const SIGN = 0x80000000 | 0;

function isSNaNS(w: number): boolean {
  return (w & 0x7fc00000) === 0x7f800000 && (w & 0x3fffff) !== 0;
}

function isSNaND(hi: number, lo: number): boolean {
  return (hi & 0x7ff80000) === 0x7ff00000 && ((hi & 0x7ffff) | lo) !== 0;
}

function wordToS(w: number): number {
  si32[0] = w;
  return sf32[0];
}

/** funct3: 0 FSGNJ, 1 FSGNJN, 2 FSGNJX. */
export function sgnjS(s: HartState, rd: number, rs1: number, rs2: number, op: number): void {
  const a = boxedS(s, rs1);
  const b = boxedS(s, rs2);
  const sign = op === 0 ? b : op === 1 ? ~b : a ^ b;
  s.fi[2 * rd] = (a & 0x7fffffff) | (sign & SIGN);
  s.fi[2 * rd + 1] = -1;
}

export function sgnjD(s: HartState, rd: number, rs1: number, rs2: number, op: number): void {
  const a = s.fi[2 * rs1 + 1];
  const b = s.fi[2 * rs2 + 1];
  const sign = op === 0 ? b : op === 1 ? ~b : a ^ b;
  s.fi[2 * rd] = s.fi[2 * rs1];
  s.fi[2 * rd + 1] = (a & 0x7fffffff) | (sign & SIGN);
}

/**
 * Which operand min/max returns (IEEE 754-2019 minimumNumber/maximumNumber, as RISC-V 2.2+):
 * 0 = a, 1 = b, 2 = canonical NaN. aNeg says a's sign bit is set.
 */
function pickMinMax(a: number, b: number, aNeg: boolean, max: boolean): number {
  if (a !== a) return b !== b ? 2 : 1;
  if (b !== b) return 0;
  // Equal values differ at most in the sign of zero, where -0 is the smaller.
  if (a === b) return aNeg !== max ? 0 : 1;
  return a < b !== max ? 0 : 1;
}

export function minMaxS(s: HartState, rd: number, rs1: number, rs2: number, max: boolean): void {
  const wa = boxedS(s, rs1);
  const wb = boxedS(s, rs2);
  if (isSNaNS(wa) || isSNaNS(wb)) s.w[FCSR] |= FFlag.NV;
  const k = pickMinMax(wordToS(wa), wordToS(wb), wa < 0, max);
  s.fi[2 * rd] = k === 0 ? wa : k === 1 ? wb : CANON_S;
  s.fi[2 * rd + 1] = -1;
}

export function minMaxD(s: HartState, rd: number, rs1: number, rs2: number, max: boolean): void {
  const ahi = s.fi[2 * rs1 + 1];
  const alo = s.fi[2 * rs1];
  const bhi = s.fi[2 * rs2 + 1];
  const blo = s.fi[2 * rs2];
  if (isSNaND(ahi, alo) || isSNaND(bhi, blo)) s.w[FCSR] |= FFlag.NV;
  const k = pickMinMax(s.f[rs1], s.f[rs2], ahi < 0, max);
  s.fi[2 * rd] = k === 0 ? alo : k === 1 ? blo : 0;
  s.fi[2 * rd + 1] = k === 0 ? ahi : k === 1 ? bhi : CANON_D_HI;
}

/**
 * funct3: 2 FEQ (quiet: NV only for signalling NaNs), 1 FLT, 0 FLE (signalling: NV for any NaN).
 * Returns the 0/1 result.
 */
function compare(a: number, b: number, op: number, snan: boolean, s: HartState): number {
  if (a !== a || b !== b) {
    if (op !== 2 || snan) s.w[FCSR] |= FFlag.NV;
    return 0;
  }
  return (op === 2 ? a === b : op === 1 ? a < b : a <= b) ? 1 : 0;
}

export function compareS(s: HartState, rd: number, rs1: number, rs2: number, op: number): void {
  const wa = boxedS(s, rs1);
  const wb = boxedS(s, rs2);
  writeX(s, rd, compare(wordToS(wa), wordToS(wb), op, isSNaNS(wa) || isSNaNS(wb), s), 0);
}

export function compareD(s: HartState, rd: number, rs1: number, rs2: number, op: number): void {
  const snan = isSNaND(s.fi[2 * rs1 + 1], s.fi[2 * rs1]) || isSNaND(s.fi[2 * rs2 + 1], s.fi[2 * rs2]);
  writeX(s, rd, compare(s.f[rs1], s.f[rs2], op, snan, s), 0);
}

/** FCLASS bit from the sign, a biased exponent that is all-ones or zero, and whether the fraction is zero. */
function classify(neg: boolean, expAllOnes: boolean, expZero: boolean, fracZero: boolean, quiet: boolean): number {
  if (expAllOnes) {
    if (fracZero) return neg ? 1 << 0 : 1 << 7;
    return quiet ? 1 << 9 : 1 << 8;
  }
  if (expZero) {
    if (fracZero) return neg ? 1 << 3 : 1 << 4;
    return neg ? 1 << 2 : 1 << 5;
  }
  return neg ? 1 << 1 : 1 << 6;
}

export function classS(s: HartState, rd: number, rs1: number): void {
  const w = boxedS(s, rs1);
  const e = w & 0x7f800000;
  writeX(s, rd, classify(w < 0, e === 0x7f800000, e === 0, (w & 0x7fffff) === 0, (w & 0x400000) !== 0), 0);
}

export function classD(s: HartState, rd: number, rs1: number): void {
  const hi = s.fi[2 * rs1 + 1];
  const e = hi & 0x7ff00000;
  const fracZero = ((hi & 0xfffff) | s.fi[2 * rs1]) === 0;
  writeX(s, rd, classify(hi < 0, e === 0x7ff00000, e === 0, fracZero, (hi & 0x80000) !== 0), 0);
}

/** FCVT.D.S: exact; NaNs become the canonical NaN. */
export function widenS(s: HartState, rd: number, rs1: number): void {
  const w = boxedS(s, rs1);
  const v = wordToS(w);
  if (v !== v) {
    if (isSNaNS(w)) s.w[FCSR] |= FFlag.NV;
    s.fi[2 * rd] = 0;
    s.fi[2 * rd + 1] = CANON_D_HI;
    return;
  }
  s.f[rd] = v;
}
