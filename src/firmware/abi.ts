// The SBI calling convention (SBI v2.0, "Binary Encoding"): a7 = extension id, a6 =
// function id, arguments in a0..a5, results in a0 (error) and a1 (value). Registers are
// (low, high) int32 pairs in the hart's state, so arguments are read word by word.

import type { Hart } from '../cpu/hart.js';
import { PC } from '../cpu/hart.js';

/** Standard SBI error codes. */
export const enum SbiErr {
  Success = 0,
  Failed = -1,
  NotSupported = -2,
  InvalidParam = -3,
  Denied = -4,
  InvalidAddress = -5,
  AlreadyAvailable = -6,
  AlreadyStarted = -7,
  AlreadyStopped = -8,
}

/** Extension ids. */
export const enum Eid {
  LegacySetTimer = 0x00,
  LegacyPutchar = 0x01,
  LegacyGetchar = 0x02,
  LegacyClearIpi = 0x03,
  LegacyShutdown = 0x08,
  Base = 0x10,
  Time = 0x54494d45,
  Ipi = 0x735049,
  Rfence = 0x52464e43,
  Hsm = 0x48534d,
  Srst = 0x53525354,
  Dbcn = 0x4442434e,
  Sta = 0x535441,
}

export const A0 = 10, A1 = 11, A2 = 12, A3 = 13, A4 = 14, A5 = 15, A6 = 16, A7 = 17;

/** Low word of argument register `r` (for 32-bit parameters such as ids and types). */
export function argLo(h: Hart, r: number): number {
  return h.x[2 * r];
}

export function argHi(h: Hart, r: number): number {
  return h.x[2 * r + 1];
}

/** Argument register `r` as an unsigned number. Exact below 2^53; larger values round but
 *  stay at or above 2^53, which is all the range checks on addresses and sizes need. */
export function argU(h: Hart, r: number): number {
  return (h.x[2 * r + 1] >>> 0) * 4294967296 + (h.x[2 * r] >>> 0);
}

/** Writes an integer (|v| < 2^53) sign-extended into register `r`. */
export function setReg(h: Hart, r: number, v: number): void {
  h.x[2 * r] = v >>> 0;
  h.x[2 * r + 1] = Math.floor(v / 4294967296);
}

/** The sbiret of a v0.2+ call: error in a0, value in a1. */
export function ret(h: Hart, error: number, value = 0): void {
  setReg(h, A0, error);
  setReg(h, A1, value);
}

/** Sets the pc the hart resumes at. */
export function setPc(h: Hart, lo: number, hi: number): void {
  h.w[PC] = lo;
  h.w[PC + 1] = hi;
}

/** Resumes after the 4-byte ECALL at (lo, hi). */
export function setPcAfter(h: Hart, lo: number, hi: number): void {
  const next = (lo + 4) | 0;
  setPc(h, next, (next >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi);
}
