// Integer instructions (RV64I, M, Zba, Zbb, Zbs) as i64 wasm. Only encodings that
// scan.ts classifies as Plain reach here; each computes exactly what interp.ts does.

import { Gen, L_A, L_B, L_C, L_LO, L_T, L_V, L_VA } from './regs.js';
import { W } from './wasm.js';

/** Emits one Plain instruction at host offset `pa`. */
export function emitAlu(g: Gen, insn: number, pa: number): void {
  const b = g.b;
  const rd = (insn >> 7) & 31, r1 = (insn >> 15) & 31, r2 = (insn >> 20) & 31;
  const f3 = (insn >> 12) & 7, f7 = insn >>> 25, f6 = insn >>> 26;
  const imm = insn >> 20;
  switch ((insn >> 2) & 31) {
    case 0x0d: b.i64(insn & -4096); break; // lui
    case 0x05: g.pcOf(pa + (insn & -4096)); break; // auipc
    case 0x04: opImm(g, insn, r1, f3, f6, imm); break;
    case 0x0c: g.read(r1); g.read(r2); op(g, f7, f3); break;
    case 0x06: opImm32(g, insn, r1, f3, f6, f7); break;
    default: op32(g, r1, r2, f3, f7); break;
  }
  g.write(rd);
}

function opImm(g: Gen, insn: number, r1: number, f3: number, f6: number, imm: number): void {
  const b = g.b;
  const sh = imm & 63;
  g.read(r1);
  switch (f3) {
    case 0: b.i64(imm); b.op(W.I64Add); return;
    case 2: b.i64(imm); b.op(W.I64LtS, W.I64ExtendI32U); return;
    case 3: b.i64(imm); b.op(W.I64LtU, W.I64ExtendI32U); return;
    case 4: b.i64(imm); b.op(W.I64Xor); return;
    case 6: b.i64(imm); b.op(W.I64Or); return;
    case 7: b.i64(imm); b.op(W.I64And); return;
    case 1:
      if (f6 === 0) { b.i64(sh); b.op(W.I64Shl); return; }
      if (f6 === 0x0a) { bit(g, sh); b.op(W.I64Or); return; }
      if (f6 === 0x12) { bit(g, sh); b.i64(-1); b.op(W.I64Xor, W.I64And); return; }
      if (f6 === 0x1a) { bit(g, sh); b.op(W.I64Xor); return; }
      switch ((insn >>> 20) & 31) {
        case 0: b.op(W.I64Clz); return;
        case 1: b.op(W.I64Ctz); return;
        case 2: b.op(W.I64Popcnt); return;
        case 4: b.op(W.I64Extend8S); return;
        default: b.op(W.I64Extend16S); return;
      }
    default:
      if (f6 === 0) { b.i64(sh); b.op(W.I64ShrU); return; }
      if (f6 === 0x10) { b.i64(sh); b.op(W.I64ShrS); return; }
      if (f6 === 0x18) { b.i64(sh); b.op(W.I64Rotr); return; }
      if (f6 === 0x12) { b.i64(sh); b.op(W.I64ShrU); b.i64(1); b.op(W.I64And); return; }
      if ((insn >>> 20) === 0x287) { orcb(g); return; }
      rev8(g);
  }
}

function bit(g: Gen, sh: number): void {
  g.b.i64(sh < 32 ? 1 << sh : 0, sh >= 32 ? 1 << (sh - 32) : 0);
}

/** Each byte becomes 0xff when non-zero: its top bit set by ((b & 0x7f) + 0x7f) | b. */
function orcb(g: Gen): void {
  const b = g.b;
  b.set(L_A);
  b.get(L_A); b.i64(0x7f7f7f7f, 0x7f7f7f7f); b.op(W.I64And);
  b.i64(0x7f7f7f7f, 0x7f7f7f7f); b.op(W.I64Add);
  b.get(L_A); b.op(W.I64Or);
  b.i64(0x80808080 | 0, 0x80808080 | 0); b.op(W.I64And);
  b.i64(7); b.op(W.I64ShrU);
  b.i64(0xff); b.op(W.I64Mul);
}

function rev8(g: Gen): void {
  const b = g.b;
  const swap = (shift: number, lo: number, hi: number) => {
    b.set(L_A);
    b.get(L_A); b.i64(shift); b.op(W.I64ShrU); b.i64(lo, hi); b.op(W.I64And);
    b.get(L_A); b.i64(lo, hi); b.op(W.I64And); b.i64(shift); b.op(W.I64Shl);
    b.op(W.I64Or);
  };
  swap(8, 0x00ff00ff, 0x00ff00ff);
  swap(16, 0x0000ffff, 0x0000ffff);
  b.i64(32); b.op(W.I64Rotl);
}

/** OP with rs1, rs2 on the stack. */
function op(g: Gen, f7: number, f3: number): void {
  const b = g.b;
  switch (f7) {
    case 0x00:
      b.op([W.I64Add, W.I64Shl, W.I64LtS, W.I64LtU, W.I64Xor, W.I64ShrU, W.I64Or, W.I64And][f3]);
      if (f3 === 2 || f3 === 3) b.op(W.I64ExtendI32U);
      return;
    case 0x01: muldiv(g, f3); return;
    case 0x20:
      if (f3 === 0) b.op(W.I64Sub);
      else if (f3 === 5) b.op(W.I64ShrS);
      else {
        b.i64(-1); b.op(W.I64Xor); // ~rs2 for andn, orn; xnor = rs1 ^ ~rs2
        b.op(f3 === 7 ? W.I64And : f3 === 6 ? W.I64Or : W.I64Xor);
      }
      return;
    case 0x10: // shNadd: (rs1 << N) + rs2
      b.set(L_B); b.i64(f3 >> 1); b.op(W.I64Shl); b.get(L_B); b.op(W.I64Add);
      return;
    case 0x05: { // min, minu, max, maxu
      b.set(L_B); b.set(L_A);
      b.get(L_A); b.get(L_B); b.get(L_A); b.get(L_B);
      b.op(f3 & 1 ? W.I64LtU : W.I64LtS);
      if (f3 >= 6) b.op(W.I32Eqz);
      b.op(W.Select);
      return;
    }
    case 0x30: b.op(f3 === 1 ? W.I64Rotl : W.I64Rotr); return;
    case 0x24:
      if (f3 === 5) { b.op(W.I64ShrU); b.i64(1); b.op(W.I64And); return; } // bext
      b.set(L_B); b.i64(1); b.get(L_B); b.op(W.I64Shl); b.i64(-1); b.op(W.I64Xor, W.I64And); // bclr
      return;
    case 0x14: b.set(L_B); b.i64(1); b.get(L_B); b.op(W.I64Shl, W.I64Or); return; // bset
    default: b.set(L_B); b.i64(1); b.get(L_B); b.op(W.I64Shl, W.I64Xor); return; // binv
  }
}

/** Pushes the high 64 bits of the unsigned product of L_A and L_B, from 32-bit partial
 *  products (inline: hot multiprecision loops run mostly this). */
function mulhu(g: Gen): void {
  const b = g.b;
  const LH = L_VA, HL = L_V, MID = L_C;
  const lo = (x: number) => { b.get(x); b.i64(-1, 0); b.op(W.I64And); };
  const hi = (x: number) => { b.get(x); b.i64(32); b.op(W.I64ShrU); };
  lo(L_A); hi(L_B); b.op(W.I64Mul); b.set(LH);
  hi(L_A); lo(L_B); b.op(W.I64Mul); b.set(HL);
  lo(L_A); lo(L_B); b.op(W.I64Mul); b.i64(32); b.op(W.I64ShrU);
  lo(LH); b.op(W.I64Add); lo(HL); b.op(W.I64Add); b.set(MID);
  hi(L_A); hi(L_B); b.op(W.I64Mul);
  hi(LH); b.op(W.I64Add); hi(HL); b.op(W.I64Add); hi(MID); b.op(W.I64Add);
}

/** M extension on (rs1, rs2); division by zero and overflow as the ISA defines them. */
function muldiv(g: Gen, f3: number): void {
  const b = g.b;
  b.set(L_B); b.set(L_A);
  switch (f3) {
    case 0: b.get(L_A); b.get(L_B); b.op(W.I64Mul); return;
    case 1: case 2: case 3: {
      mulhu(g);
      // Signed corrections: mulh = mulhu - (a<0 ? b : 0) - (b<0 ? a : 0); mulhsu the first.
      if (f3 !== 3) { b.get(L_A); b.i64(63); b.op(W.I64ShrS); b.get(L_B); b.op(W.I64And, W.I64Sub); }
      if (f3 === 1) { b.get(L_B); b.i64(63); b.op(W.I64ShrS); b.get(L_A); b.op(W.I64And, W.I64Sub); }
      return;
    }
  }
  // div/divu/rem/remu: if b == 0 the ISA's fixed result, else the wasm op (div_s overflow
  // MIN / -1 traps in wasm, so it gets its own case; rem_s gives 0 there as RISC-V does).
  b.get(L_B); b.op(W.I64Eqz, W.If, 0x7e);
  if (f3 === 4 || f3 === 5) b.i64(-1); else b.get(L_A);
  b.op(W.Else);
  if (f3 === 4) {
    b.get(L_A); b.i64(0, 0x80000000 | 0); b.op(W.I64Eq); b.get(L_B); b.i64(-1); b.op(W.I64Eq, W.I32And);
    b.op(W.If, 0x7e); b.i64(0, 0x80000000 | 0); b.op(W.Else);
    b.get(L_A); b.get(L_B); b.op(W.I64DivS, W.End);
  } else {
    b.get(L_A); b.get(L_B); b.op(f3 === 5 ? W.I64DivU : f3 === 6 ? W.I64RemS : W.I64RemU);
  }
  b.op(W.End);
}

function opImm32(g: Gen, insn: number, r1: number, f3: number, f6: number, f7: number): void {
  const b = g.b;
  const sh = (insn >>> 20) & 31;
  g.read(r1);
  if (f3 === 1 && f6 === 0x02) { // slli.uw
    b.i64(-1, 0); b.op(W.I64And); b.i64((insn >>> 20) & 63); b.op(W.I64Shl);
    return;
  }
  b.op(W.I32WrapI64);
  if (f3 === 0) { b.i32(insn >> 20); b.op(W.I32Add); }
  else if (f3 === 1 && f7 === 0) { b.i32(sh); b.op(W.I32Shl); }
  else if (f3 === 1) b.op([W.I32Clz, W.I32Ctz, W.I32Popcnt][sh]);
  else { b.i32(sh); b.op(f7 === 0 ? W.I32ShrU : f7 === 0x20 ? W.I32ShrS : W.I32Rotr); }
  b.op(W.I64ExtendI32S);
}

function op32(g: Gen, r1: number, r2: number, f3: number, f7: number): void {
  const b = g.b;
  if (f7 === 0x04 || f7 === 0x10) { // add.uw, shNadd.uw, zext.h
    g.read(r1);
    if (f7 === 0x04 && f3 === 4) { b.i64(0xffff); b.op(W.I64And); return; } // zext.h
    b.i64(-1, 0); b.op(W.I64And);
    if (f7 === 0x10) { b.i64(f3 >> 1); b.op(W.I64Shl); }
    g.read(r2); b.op(W.I64Add);
    return;
  }
  g.read(r1); b.op(W.I32WrapI64); b.set(L_LO);
  g.read(r2); b.op(W.I32WrapI64); b.set(L_T);
  if (f7 === 0x01 && f3 >= 4) {
    // divw/divuw/remw/remuw: the ISA's results for a zero divisor and for INT_MIN / -1.
    b.get(L_T); b.op(W.I32Eqz, W.If, 0x7f);
    if (f3 <= 5) b.i32(-1); else b.get(L_LO);
    b.op(W.Else);
    if (f3 === 4) {
      b.get(L_LO); b.i32(0x80000000 | 0); b.op(W.I32Eq); b.get(L_T); b.i32(-1); b.op(W.I32Eq, W.I32And);
      b.op(W.If, 0x7f); b.i32(0x80000000 | 0); b.op(W.Else);
      b.get(L_LO); b.get(L_T); b.op(W.I32DivS, W.End);
    } else {
      b.get(L_LO); b.get(L_T); b.op(f3 === 5 ? W.I32DivU : f3 === 6 ? W.I32RemS : W.I32RemU);
    }
    b.op(W.End, W.I64ExtendI32S);
    return;
  }
  b.get(L_LO); b.get(L_T);
  if (f7 === 0x01) b.op(W.I32Mul);
  else if (f7 === 0x30) b.op(f3 === 1 ? W.I32Rotl : W.I32Rotr);
  else if (f3 === 0) b.op(f7 === 0 ? W.I32Add : W.I32Sub);
  else if (f3 === 1) b.op(W.I32Shl);
  else b.op(f7 === 0 ? W.I32ShrU : W.I32ShrS);
  b.op(W.I64ExtendI32S);
}
