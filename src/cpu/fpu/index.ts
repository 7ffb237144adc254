// Decoder and dispatcher for the F and D computational instructions. Arithmetic first tries
// the fast paths (fast.ts), which decline rather than risk a wrong result, then falls back
// to the exact BigInt implementation (soft.ts).

import type { HartState } from '../state.js';
import { IntKind, floatToInt, floatToIntS, intToFloat } from './conv.js';
import { addD, addS, divD, divS, fmaD, fmaS, mulD, mulS, narrowS, sqrtD, sqrtS } from './fast.js';
import { classD, classS, compareD, compareS, minMaxD, minMaxS, sgnjD, sgnjS, widenS } from './misc.js';
import { FCSR, loadS, readBitsD, readBitsS, writeBitsD, writeBitsS } from './regs.js';
import { F32, F64, add, convert, div, fma, mul, sqrt, takeFlags } from './soft.js';

/**
 * Executes one F/D instruction whose major opcode is OP-FP (0x53), MADD (0x43), MSUB (0x47),
 * NMSUB (0x4b) or NMADD (0x4f). Returns false, with no state changed, when the encoding is
 * illegal. Flags are ORed into fflags; the caller owns the mstatus.FS checks and updates.
 */
export function executeFp(s: HartState, insn: number): boolean {
  return execute(s, insn, true);
}

/** executeFp without the fast paths: the exact reference, for cross-checking. */
export function executeFpReference(s: HartState, insn: number): boolean {
  return execute(s, insn, false);
}

/** The effective rounding mode, or -1 when rm (or frm, for DYN) is reserved. */
function roundingMode(s: HartState, insn: number): number {
  let rm = (insn >>> 12) & 7;
  if (rm === 7) rm = s.w[FCSR + 1];
  return rm >>> 0 <= 4 ? rm : -1;
}

const enum Arith {
  Add,
  Sub,
  Mul,
  Div,
}

function execute(s: HartState, insn: number, fast: boolean): boolean {
  const opcode = insn & 0x7f;
  const rd = (insn >>> 7) & 31;
  const rs1 = (insn >>> 15) & 31;
  const rs2 = (insn >>> 20) & 31;
  if (opcode !== 0x53) return fusedOp(s, insn, opcode, rd, rs1, rs2, fast);
  const funct3 = (insn >>> 12) & 7;
  switch (insn >>> 25) {
    case 0x00:
    case 0x04:
    case 0x08:
    case 0x0c:
    case 0x01:
    case 0x05:
    case 0x09:
    case 0x0d: {
      const rm = roundingMode(s, insn);
      if (rm < 0) return false;
      arith(s, (insn >>> 27) as Arith, (insn & (1 << 25)) !== 0, rd, rs1, rs2, rm, fast);
      return true;
    }
    case 0x2c:
    case 0x2d: {
      const rm = roundingMode(s, insn);
      if (rm < 0 || rs2 !== 0) return false;
      if (insn & (1 << 25)) {
        if (!fast || !sqrtD(s, rd, s.f[rs1], rm)) slowD(s, rd, sqrt(F64, readBitsD(s, rs1), rm));
      } else if (!fast || !sqrtS(s, rd, loadS(s, rs1), rm)) {
        slowS(s, rd, sqrt(F32, readBitsS(s, rs1), rm));
      }
      return true;
    }
    case 0x10:
    case 0x11:
      if (funct3 > 2) return false;
      if (insn & (1 << 25)) sgnjD(s, rd, rs1, rs2, funct3);
      else sgnjS(s, rd, rs1, rs2, funct3);
      return true;
    case 0x14:
    case 0x15:
      if (funct3 > 1) return false;
      if (insn & (1 << 25)) minMaxD(s, rd, rs1, rs2, funct3 === 1);
      else minMaxS(s, rd, rs1, rs2, funct3 === 1);
      return true;
    case 0x20: {
      // FCVT.S.D
      const rm = roundingMode(s, insn);
      if (rm < 0 || rs2 !== 1) return false;
      const d = s.f[rs1];
      if (!fast || !narrowS(s, rd, d, rm)) slowS(s, rd, convert(F32, F64, readBitsD(s, rs1), rm));
      return true;
    }
    case 0x21:
      // FCVT.D.S is exact, but its rm field must still be valid.
      if (roundingMode(s, insn) < 0 || rs2 !== 0) return false;
      widenS(s, rd, rs1);
      return true;
    case 0x50:
    case 0x51:
      if (funct3 > 2) return false;
      if (insn & (1 << 25)) compareD(s, rd, rs1, rs2, funct3);
      else compareS(s, rd, rs1, rs2, funct3);
      return true;
    case 0x60:
    case 0x61: {
      const rm = roundingMode(s, insn);
      if (rm < 0 || rs2 > 3) return false;
      if (insn & (1 << 25)) floatToInt(s, rd, s.f[rs1], rs2 as IntKind, rm);
      else floatToIntS(s, rd, rs1, rs2 as IntKind, rm);
      return true;
    }
    case 0x68:
    case 0x69: {
      const rm = roundingMode(s, insn);
      if (rm < 0 || rs2 > 3) return false;
      intToFloat(s, rd, rs1, rs2 as IntKind, (insn & (1 << 25)) !== 0, rm, fast);
      return true;
    }
    case 0x70:
      if (rs2 !== 0) return false;
      if (funct3 === 0) {
        // FMV.X.W sign-extends the low word, whatever the boxing.
        if (rd !== 0) {
          const w = s.fi[2 * rs1];
          s.x[2 * rd] = w;
          s.x[2 * rd + 1] = w >> 31;
        }
      } else if (funct3 === 1) {
        classS(s, rd, rs1);
      } else {
        return false;
      }
      return true;
    case 0x71:
      if (rs2 !== 0) return false;
      if (funct3 === 0) {
        if (rd !== 0) {
          s.x[2 * rd] = s.fi[2 * rs1];
          s.x[2 * rd + 1] = s.fi[2 * rs1 + 1];
        }
      } else if (funct3 === 1) {
        classD(s, rd, rs1);
      } else {
        return false;
      }
      return true;
    case 0x78:
      if (rs2 !== 0 || funct3 !== 0) return false;
      s.fi[2 * rd] = s.x[2 * rs1];
      s.fi[2 * rd + 1] = -1;
      return true;
    case 0x79:
      if (rs2 !== 0 || funct3 !== 0) return false;
      s.fi[2 * rd] = s.x[2 * rs1];
      s.fi[2 * rd + 1] = s.x[2 * rs1 + 1];
      return true;
    default:
      return false;
  }
}

function arith(s: HartState, op: Arith, double: boolean, rd: number, rs1: number, rs2: number, rm: number, fast: boolean): void {
  if (double) {
    if (fast) {
      const a = s.f[rs1];
      const b = s.f[rs2];
      if (op === Arith.Add ? addD(s, rd, a, b, rm) : op === Arith.Sub ? addD(s, rd, a, -b, rm) : op === Arith.Mul ? mulD(s, rd, a, b, rm) : divD(s, rd, a, b, rm)) return;
    }
    const a = readBitsD(s, rs1);
    const b = readBitsD(s, rs2);
    slowD(s, rd, op === Arith.Mul ? mul(F64, a, b, rm) : op === Arith.Div ? div(F64, a, b, rm) : add(F64, a, b, op === Arith.Sub, rm));
  } else {
    if (fast) {
      const a = loadS(s, rs1);
      const b = loadS(s, rs2);
      if (op === Arith.Add ? addS(s, rd, a, b, rm) : op === Arith.Sub ? addS(s, rd, a, -b, rm) : op === Arith.Mul ? mulS(s, rd, a, b, rm) : divS(s, rd, a, b, rm)) return;
    }
    const a = readBitsS(s, rs1);
    const b = readBitsS(s, rs2);
    slowS(s, rd, op === Arith.Mul ? mul(F32, a, b, rm) : op === Arith.Div ? div(F32, a, b, rm) : add(F32, a, b, op === Arith.Sub, rm));
  }
}

/** FMADD/FMSUB/FNMSUB/FNMADD: opcode bits 2..3 select the negations. */
function fusedOp(s: HartState, insn: number, opcode: number, rd: number, rs1: number, rs2: number, fast: boolean): boolean {
  if (opcode !== 0x43 && opcode !== 0x47 && opcode !== 0x4b && opcode !== 0x4f) return false;
  const fmt = (insn >>> 25) & 3;
  const rm = roundingMode(s, insn);
  if (fmt > 1 || rm < 0) return false;
  const rs3 = insn >>> 27;
  const negAdd = opcode === 0x47 || opcode === 0x4f;
  const negProd = opcode === 0x4b || opcode === 0x4f;
  if (fmt === 1) {
    if (fast && fmaD(s, rd, negProd ? -s.f[rs1] : s.f[rs1], s.f[rs2], negAdd ? -s.f[rs3] : s.f[rs3], rm)) return true;
    slowD(s, rd, fma(F64, readBitsD(s, rs1), readBitsD(s, rs2), readBitsD(s, rs3), negProd, negAdd, rm));
  } else if (!fast || !fmaS(s, rd, rs1, rs2, rs3, negProd, negAdd, rm)) {
    slowS(s, rd, fma(F32, readBitsS(s, rs1), readBitsS(s, rs2), readBitsS(s, rs3), negProd, negAdd, rm));
  }
  return true;
}

function slowD(s: HartState, rd: number, bits: bigint): void {
  s.w[FCSR] |= takeFlags();
  writeBitsD(s, rd, bits);
}

function slowS(s: HartState, rd: number, bits: bigint): void {
  s.w[FCSR] |= takeFlags();
  writeBitsS(s, rd, bits);
}
