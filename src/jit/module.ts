// One WebAssembly module per guest page: every translated block of the page in one
// function `run(entry, budget, state, readSet, writeSet, deltaLo, deltaHi) -> retired`,
// dispatched by br_table. Direct branches to another block of the same page chain inside
// the function (a loop around the br_table) while the budget lasts, so hot loops never
// leave wasm. Addresses are host offsets; the guest pc is delta + host offset, delta being
// the entry's virtual-minus-host page offset (the same for the whole page).

import { TLB_ARRAY_BYTES } from '../cpu/hart.js';
import { emitAlu } from './alu.js';
import { emitIndirectExit } from './dispatch.js';
import {
  FN_AMO, FN_BLOCK0, FN_CSR, FN_LD, FN_RUN, FN_ST, Gen, TYPE_BLOCK, L_A, L_B, I32_LOCALS, I64_LOCALS, L_LO, L_N, L_T, L_V, L_VA,
  P_BUDGET, P_DHI, P_DLO, P_ENTRY, P_RSET, P_ST, P_WSET, SCR_EXIT, SCR_VALUE,
} from './regs.js';
import { Kind, classify } from './scan.js';
import { Bytes, T, W } from './wasm.js';

export interface BlockCode {
  /** Host offset of the first instruction. */
  pa: number;
  insns: number[];
  lens: number[];
}

const LOAD_OPS = [W.I64Load8S, W.I64Load16S, W.I64Load32S, W.I64Load, W.I64Load8U, W.I64Load16U, W.I64Load32U];
const SLOW_EXTEND = [W.I64Extend8S, W.I64Extend16S, W.I64Extend32S];
/** Buffers reused from one module to the next (growing them was a large part of the
 *  code generator's time). */
const BODY = new Bytes(), HEAD = new Bytes(), RUN = new Bytes(), CODE = new Bytes(), MODULE = new Bytes();
const STORE_OPS = [W.I64Store8, W.I64Store16, W.I64Store32, W.I64Store];

/** Builds the module's bytes for the blocks of one page. `lookup`: the dispatcher's lookup
 *  table in memory (-1: none), for chaining JALRs. Each block is a function of its own, so
 *  V8 tiers up (optimises) just the hot blocks, and `run` is only the dispatch loop:
 *  optimising one large function per page cost far more than the code ever saved. */
export function buildModule(blocks: BlockCode[], lookup = -1): Uint8Array<ArrayBuffer> {
  const index = new Map<number, number>();
  blocks.forEach((bl, i) => index.set(bl.pa, i));
  const code = CODE.reset();
  code.u32(2 + blocks.length);
  appendBody(code, runBody());
  appendBody(code, mulhuBody());
  const g = new Gen(BODY);
  for (const bl of blocks) appendBody(code, blockBody(g, bl, blocks, index, lookup));
  return wrapModule(code, blocks.length);
}

function appendBody(code: Bytes, body: Bytes): void {
  code.u32(body.len);
  code.bytes(body.view());
}

/** run(entry, budget, state, readSet, writeSet, deltaLo, deltaHi) -> retired: calls block
 *  functions through the module's table, starting at block `entry`, while each names the
 *  next one. (An indirect call rather than br_table: V8's baseline compiler turns a large
 *  br_table into a chain of compares.) */
function runBody(): Bytes {
  const body = RUN.reset();
  const N = 7, NEXT = 8, DELTA = 9, R = 10;
  body.u32(2);
  body.u32(2); body.byte(T.I32);
  body.u32(2); body.byte(T.I64);
  body.get(P_DLO); body.op(W.I64ExtendI32U); body.get(P_DHI); body.op(W.I64ExtendI32U);
  body.i64(32); body.op(W.I64Shl, W.I64Or); body.set(DELTA);
  body.get(P_ENTRY); body.set(NEXT);
  body.op(W.Loop, T.Void);
  body.get(N);
  for (const p of [P_BUDGET, P_ST, P_RSET, P_WSET]) body.get(p);
  body.get(DELTA);
  body.get(NEXT);
  body.op(W.CallIndirect); body.u32(TYPE_BLOCK); body.u32(0);
  body.tee(R); body.op(W.I32WrapI64); body.set(N);
  body.get(R); body.i64(32); body.op(W.I64ShrU, W.I32WrapI64); body.tee(NEXT);
  body.i32(0); body.op(W.I32GeS, W.BrIf); body.u32(0);
  body.op(W.End);
  body.get(N); body.op(W.End);
  return body;
}

/** One block's function: (retired so far, budget, state, readSet, writeSet, delta) ->
 *  retired | next << 32, next being a block index of the module or -1 (see Gen.ret). */
function blockBody(g: Gen, bl: BlockCode, blocks: BlockCode[], index: Map<number, number>, lookup: number): Bytes {
  const code = BODY.reset();
  g.startFunction();
  // A loop around the block, for branches back to its own start (hot loops stay here).
  code.op(W.Loop, T.Void);
  emitBlock(g, bl, blocks, index, lookup);
  code.op(W.End, W.Unreachable, W.End);
  // The locals are known only now: the declarations go in front.
  const body = HEAD.reset();
  body.u32(2);
  body.u32(I32_LOCALS); body.byte(T.I32);
  body.u32(I64_LOCALS + g.xLocals); body.byte(T.I64);
  body.bytes(code.view());
  return body;
}

function emitBlock(g: Gen, bl: BlockCode, blocks: BlockCode[], index: Map<number, number>, lookup: number): void {
  const b = g.b;
  g.startBlock();
  const count = bl.insns.length;
  let pa = bl.pa;
  /** Leaves the block for `target`, `retired` instructions in, `depth` structures inside
   *  the function's loop: chains to it when it is a block of this module. */
  const leave = (target: number, retired: number, depth: number) => {
    const j = index.get(target);
    if (j === undefined) {
      g.setPc(target);
      b.get(L_N); b.i32(retired); b.op(W.I32Add); g.ret(-1);
      return;
    }
    b.get(L_N); b.i32(retired); b.op(W.I32Add); b.tee(L_N);
    b.i32(blocks[j].insns.length); b.op(W.I32Add); b.get(P_BUDGET); b.op(W.I32GtU);
    b.get(P_ST); b.mem(W.I32Load, SCR_EXIT); b.op(W.I32Or);
    b.op(W.If, T.Void); g.setPc(target); b.get(L_N); g.ret(-1); b.op(W.End);
    if (target === bl.pa) { b.op(W.Br); b.u32(depth); return; }
    b.get(L_N); g.chain(j);
  };
  for (let i = 0; i < count; i++, pa += bl.lens[i - 1]) {
    const insn = bl.insns[i];
    const len = bl.lens[i];
    const rd = (insn >> 7) & 31, r1 = (insn >> 15) & 31, r2 = (insn >> 20) & 31, f3 = (insn >> 12) & 7;
    switch (classify(insn)) {
      case Kind.Plain: emitAlu(g, insn, pa); break;
      case Kind.Load: emitLoad(g, pa, i, rd, r1, f3, insn >> 20); break;
      case Kind.Store: emitStore(g, pa, i, r1, r2, f3, ((insn >> 25) << 5) | ((insn >> 7) & 31)); break;
      case Kind.Fence: break;
      case Kind.Amo: emitAmo(g, pa, i, rd, r1, r2, f3, insn >>> 27); break;
      case Kind.Csr:
        // Run by the interpreter (state is exact: registers are written through). 0: go on;
        // 1: it retired but the block must end (context or interrupts changed); 2: it did
        // not retire (trap, interrupt, stop): the state's pc says where to resume.
        b.i32(pa & 0xfff); b.op(W.Call); b.u32(FN_CSR); b.tee(L_LO);
        b.op(W.If, T.Void);
        b.get(L_N); b.i32(i); b.op(W.I32Add); b.get(L_LO); b.i32(1); b.op(W.I32Eq, W.I32Add); g.ret(-1); b.op(W.End);
        g.startBlock();
        break;
      case Kind.Branch: {
        g.read(r1); g.read(r2);
        b.op([W.I64Eq, W.I64Ne, 0, 0, W.I64LtS, W.I64GeS, W.I64LtU, W.I64GeU][f3]);
        const imm = ((insn >> 31) << 12) | (((insn >> 7) & 1) << 11) | (((insn >> 25) & 0x3f) << 5) | (((insn >> 8) & 0xf) << 1);
        b.op(W.If, T.Void);
        leave(pa + imm, i + 1, 1);
        if (i + 1 < count) {
          // A side exit: the block goes on along the not-taken path.
          b.op(W.End);
          break;
        }
        b.op(W.Else);
        leave(pa + len, i + 1, 1);
        b.op(W.End);
        return;
      }
      case Kind.Jal: {
        const imm = ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >> 20) & 1) << 11) | (((insn >> 21) & 0x3ff) << 1);
        g.pcOf(pa + len); g.write(rd);
        leave(pa + imm, count, 0);
        return;
      }
      case Kind.Jalr:
        g.read(r1); b.i64(insn >> 20); b.op(W.I64Add); b.i64(-2); b.op(W.I64And); b.set(L_VA);
        g.pcOf(pa + len); g.write(rd);
        emitIndirectExit(g, bl.pa >>> 12, count, lookup);
        return;
      default: throw new Error('jit: untranslatable instruction in a block');
    }
  }
  leave(pa, count, 0);
}

/** Leaves lo = low word of the address and t = the TLB entry's address; pushes the hit test. */
function tlbProbe(g: Gen, r1: number, imm: number, set: number, size: number): void {
  const b = g.b;
  g.read(r1); b.i64(imm); b.op(W.I64Add); b.tee(L_VA); b.op(W.I32WrapI64); b.tee(L_LO);
  b.i32(10); b.op(W.I32ShrU); b.i32(0x3fc); b.op(W.I32And); b.get(set); b.op(W.I32Add); b.tee(L_T);
  b.mem(W.I32Load, 0); b.get(L_LO); b.i32(-4096); b.op(W.I32And, W.I32Eq);
  b.get(L_T); b.mem(W.I32Load, TLB_ARRAY_BYTES);
  b.get(L_VA); b.i64(32); b.op(W.I64ShrU, W.I32WrapI64, W.I32Eq, W.I32And);
  if (size > 1) { b.get(L_LO); b.i32(0xfff); b.op(W.I32And); b.i32(4096 - size); b.op(W.I32LeU, W.I32And); }
}

/** Pushes the host address of a TLB hit. */
function hostAddr(g: Gen): void {
  const b = g.b;
  b.get(L_T); b.mem(W.I32Load, 2 * TLB_ARRAY_BYTES); b.get(L_LO); b.i32(0xfff); b.op(W.I32And, W.I32Add);
}

function vaHi(g: Gen): void {
  g.b.get(L_VA); g.b.i64(32); g.b.op(W.I64ShrU, W.I32WrapI64);
}

function emitLoad(g: Gen, pa: number, i: number, rd: number, r1: number, f3: number, imm: number): void {
  const b = g.b;
  const size = 1 << (f3 & 3);
  tlbProbe(g, r1, imm, P_RSET, size);
  b.op(W.If, T.I64);
  hostAddr(g); b.mem(LOAD_OPS[f3], 0);
  b.op(W.Else);
  b.get(L_LO); vaHi(g); b.i32(size); g.where(pa, i); b.op(W.Call); b.u32(FN_LD);
  b.get(P_ST); b.mem(W.I64Load, SCR_VALUE);
  if (f3 < 3) b.op(SLOW_EXTEND[f3]);
  b.op(W.End);
  g.write(rd);
}

function emitStore(g: Gen, pa: number, i: number, r1: number, r2: number, f3: number, imm: number): void {
  const b = g.b;
  const size = 1 << f3;
  g.read(r2); b.set(L_V);
  tlbProbe(g, r1, imm, P_WSET, size);
  b.op(W.If, T.Void);
  hostAddr(g); b.get(L_V); b.mem(STORE_OPS[f3], 0);
  b.op(W.Else);
  b.get(L_LO); vaHi(g); b.i32(size);
  b.get(L_V); b.op(W.I32WrapI64); b.get(L_V); b.i64(32); b.op(W.I64ShrU, W.I32WrapI64);
  g.where(pa, i);
  b.op(W.Call); b.u32(FN_ST);
  b.op(W.End);
}

/** AMOs (not LR/SC): the write TLB when it hits an aligned address, else the hart's
 *  amoHost (alignment, permission, dirty log; raises exactly); then the operation on
 *  sign-extended operands as interp.ts does it. */
function emitAmo(g: Gen, pa: number, i: number, rd: number, r1: number, r2: number, f3: number, f5: number): void {
  const b = g.b;
  const size = f3 === 2 ? 4 : 8;
  g.read(r2); b.set(L_V);
  tlbProbe(g, r1, 0, P_WSET, size);
  b.get(L_LO); b.i32(size - 1); b.op(W.I32And, W.I32Eqz, W.I32And);
  b.op(W.If, T.I32);
  hostAddr(g);
  b.op(W.Else);
  b.get(L_LO); vaHi(g); b.i32(size); g.where(pa, i); b.op(W.Call); b.u32(FN_AMO);
  b.op(W.End);
  b.set(L_T);
  b.get(L_T); b.mem(size === 4 ? W.I64Load32S : W.I64Load, 0); b.set(L_A);
  b.get(L_V);
  if (size === 4) b.op(W.I32WrapI64, W.I64ExtendI32S);
  b.set(L_B);
  b.get(L_T);
  switch (f5) {
    case 0x01: b.get(L_B); break;
    case 0x00: b.get(L_A); b.get(L_B); b.op(W.I64Add); break;
    case 0x04: b.get(L_A); b.get(L_B); b.op(W.I64Xor); break;
    case 0x0c: b.get(L_A); b.get(L_B); b.op(W.I64And); break;
    case 0x08: b.get(L_A); b.get(L_B); b.op(W.I64Or); break;
    default: // min, max, minu, maxu: the old value when it wins
      b.get(L_A); b.get(L_B); b.get(L_A); b.get(L_B);
      b.op(f5 >= 0x18 ? W.I64LtU : W.I64LtS);
      if (f5 === 0x14 || f5 === 0x1c) b.op(W.I32Eqz);
      b.op(W.Select);
  }
  b.mem(size === 4 ? W.I64Store32 : W.I64Store, 0);
  b.get(L_A);
  g.write(rd);
}

/** Types, imports (memory, ld, st, amo, csr), the functions' declarations and the exports
 *  around the code section `code`. */
function wrapModule(code: Bytes, blockCount: number): Uint8Array<ArrayBuffer> {
  const m = MODULE.reset();
  m.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const types = new Bytes();
  types.u32(7);
  types.bytes([0x60, 7, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, 1, T.I32]);
  types.bytes([0x60, 5, T.I32, T.I32, T.I32, T.I32, T.I32, 0]);
  types.bytes([0x60, 7, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, 0]);
  types.bytes([0x60, 2, T.I64, T.I64, 1, T.I64]);
  types.bytes([0x60, 5, T.I32, T.I32, T.I32, T.I32, T.I32, 1, T.I32]);
  types.bytes([0x60, 1, T.I32, 1, T.I32]);
  types.bytes([0x60, 6, T.I32, T.I32, T.I32, T.I32, T.I32, T.I64, 1, T.I64]);
  m.section(1, types);
  const imports = new Bytes();
  imports.u32(5);
  imports.name('e'); imports.name('m'); imports.bytes([0x02, 0x00]); imports.u32(1);
  imports.name('e'); imports.name('ld'); imports.bytes([0x00, 1]);
  imports.name('e'); imports.name('st'); imports.bytes([0x00, 2]);
  imports.name('e'); imports.name('amo'); imports.bytes([0x00, 4]);
  imports.name('e'); imports.name('csr'); imports.bytes([0x00, 5]);
  m.section(2, imports);
  const funcs = new Bytes();
  funcs.u32(2 + blockCount);
  funcs.bytes([0, 3]);
  for (let i = 0; i < blockCount; i++) funcs.byte(6);
  m.section(3, funcs);
  const table = new Bytes();
  table.u32(1); table.byte(0x70); table.byte(0x01); table.u32(blockCount); table.u32(blockCount);
  m.section(4, table);
  // The module's table slot, set at install: JALR chaining checks the lookup against it.
  const globals = new Bytes();
  globals.u32(1); globals.bytes([T.I32, 0x01, W.I32Const]); globals.s32(-1); globals.byte(W.End);
  m.section(6, globals);
  const exports = new Bytes();
  exports.u32(2); exports.name('run'); exports.bytes([0x00, FN_RUN]);
  exports.name('slot'); exports.bytes([0x03, 0]);
  m.section(7, exports);
  const elems = new Bytes();
  elems.u32(1); elems.byte(0x00); elems.i32(0); elems.byte(W.End);
  elems.u32(blockCount);
  for (let i = 0; i < blockCount; i++) elems.u32(FN_BLOCK0 + i);
  m.section(9, elems);
  m.section(10, code);
  return m.view().slice();
}

/** The high 64 bits of an unsigned 64 x 64 product, from 32-bit partial products. */
function mulhuBody(): Bytes {
  const b = new Bytes();
  const A = 0, B = 1, LH = 2, HL = 3, MID = 4;
  b.u32(1); b.u32(3); b.byte(T.I64);
  const lo = (x: number) => { b.get(x); b.i64(-1, 0); b.op(W.I64And); };
  const hi = (x: number) => { b.get(x); b.i64(32); b.op(W.I64ShrU); };
  lo(A); hi(B); b.op(W.I64Mul); b.set(LH);
  hi(A); lo(B); b.op(W.I64Mul); b.set(HL);
  lo(A); lo(B); b.op(W.I64Mul); b.i64(32); b.op(W.I64ShrU);
  lo(LH); b.op(W.I64Add); lo(HL); b.op(W.I64Add); b.set(MID);
  hi(A); hi(B); b.op(W.I64Mul);
  hi(LH); b.op(W.I64Add); hi(HL); b.op(W.I64Add); hi(MID); b.op(W.I64Add);
  b.op(W.End);
  return b;
}
