// One WebAssembly module per batch of hot blocks of one guest page, one function per block
// (so V8 optimises just the hot ones): `(retired, budget, state, readSet, writeSet, delta)
// -> retired | next << 32`, exported as b0, b1, ... for the dispatcher's table. A block
// continues into a block of the same page, the budget and exit flag permitting: by tail
// call within the module, else by naming the next table slot to the dispatcher (next -1:
// look the pc up), so hot code never leaves wasm.
// Addresses are host offsets; the guest pc is delta + host offset, delta being the
// virtual-minus-host offset of the page (the same for every block of the page).

import { TLB_ARRAY_BYTES } from '../cpu/hart.js';
import { emitAlu } from './alu.js';
import { emitIndirectExit } from './dispatch.js';
import {
  F_OFF, FN_AMO, FN_BLOCK0, FN_CSR, FN_LD, FN_LR, FN_ST, FS_MASK, Gen, MSTATUS_OFF, RESERVATION_OFF, RESERVED_VALUE_OFF, TYPE_BLOCK, L_A, L_B, L_C, I32_LOCALS, I64_LOCALS, L_LO, L_N, L_T, L_V, L_VA,
  P_BUDGET, P_RSET, P_ST, P_WSET, SCR_EXIT, SCR_VALUE,
} from './regs.js';
import { Kind, classify } from './scan.js';
import { Atomic, Bytes, T, W } from './wasm.js';

export interface BlockCode {
  /** Host offset of the first instruction. */
  pa: number;
  insns: number[];
  lens: number[];
  /** The block's slot in the dispatcher's table. */
  slot: number;
}

/** A block of the page compiled earlier (in another module): where to chain to it. */
export interface CompiledBlock {
  slot: number;
  trans: number;
}

const LOAD_OPS = [W.I64Load8S, W.I64Load16S, W.I64Load32S, W.I64Load, W.I64Load8U, W.I64Load16U, W.I64Load32U];
const SLOW_EXTEND = [W.I64Extend8S, W.I64Extend16S, W.I64Extend32S];
/** Buffers reused from one module to the next (growing them was a large part of the
 *  code generator's time). */
const BODY = new Bytes(), HEAD = new Bytes(), CODE = new Bytes(), MODULE = new Bytes();
const STORE_OPS = [W.I64Store8, W.I64Store16, W.I64Store32, W.I64Store];

/** Builds the module's bytes for `blocks` (all of one page). `compiled` finds the page's
 *  blocks from earlier modules; `lookup` is the dispatcher's lookup table in memory (-1:
 *  none), for chaining JALRs; `shared`: guest memory is shared between threads. */
export function buildModule(blocks: BlockCode[], compiled: (pa: number) => CompiledBlock | undefined, lookup = -1, shared = false): Uint8Array<ArrayBuffer> {
  const index = new Map<number, number>();
  blocks.forEach((bl, i) => index.set(bl.pa, i));
  const code = CODE.reset();
  code.u32(blocks.length);
  const g = new Gen(BODY);
  g.shared = shared;
  /** Where a block chains to `target`: a function of this module or another slot. */
  const targetOf = (target: number): { fn: number; slot: number; trans: number } | undefined => {
    const j = index.get(target);
    if (j !== undefined) return { fn: FN_BLOCK0 + j, slot: blocks[j].slot, trans: blocks[j].insns.length };
    const c = compiled(target);
    return c && { fn: -1, slot: c.slot, trans: c.trans };
  };
  for (const bl of blocks) appendBody(code, blockBody(g, bl, targetOf, lookup));
  return wrapModule(code, blocks, shared);
}

type TargetOf = (target: number) => { fn: number; slot: number; trans: number } | undefined;

function appendBody(code: Bytes, body: Bytes): void {
  code.u32(body.len);
  code.bytes(body.view());
}

function blockBody(g: Gen, bl: BlockCode, targetOf: TargetOf, lookup: number): Bytes {
  const code = BODY.reset();
  g.startFunction();
  // A loop around the block, for branches back to its own start (hot loops stay here).
  code.op(W.Loop, T.Void);
  emitBlock(g, bl, targetOf, lookup);
  code.op(W.End, W.Unreachable, W.End);
  // The locals are known only now: the declarations go in front.
  const body = HEAD.reset();
  body.u32(2);
  body.u32(I32_LOCALS); body.byte(T.I32);
  body.u32(I64_LOCALS + g.xLocals); body.byte(T.I64);
  body.bytes(code.view());
  return body;
}

function emitBlock(g: Gen, bl: BlockCode, targetOf: TargetOf, lookup: number): void {
  const b = g.b;
  g.startBlock();
  const count = bl.insns.length;
  let pa = bl.pa;
  /** Leaves the block for `target`, `retired` instructions in, `depth` structures inside
   *  the function's loop: chains to it when it is a compiled block of the page. */
  const leave = (target: number, retired: number, depth: number) => {
    g.flush();
    const t = targetOf(target);
    if (t === undefined) {
      g.setPc(target);
      b.get(L_N); b.i32(retired); b.op(W.I32Add); g.exit();
      return;
    }
    b.get(L_N); b.i32(retired); b.op(W.I32Add); b.tee(L_N);
    b.i32(t.trans); b.op(W.I32Add); b.get(P_BUDGET); b.op(W.I32GtU);
    b.get(P_ST); b.mem(W.I32Load, SCR_EXIT); b.op(W.I32Or);
    b.op(W.If, T.Void); g.setPc(target); b.get(L_N); g.exit(); b.op(W.End);
    if (target === bl.pa) { b.op(W.Br); b.u32(depth); return; }
    b.get(L_N); g.chain(t.fn, t.slot);
  };
  for (let i = 0; i < count; i++, pa += bl.lens[i - 1]) {
    const insn = bl.insns[i];
    const len = bl.lens[i];
    const rd = (insn >> 7) & 31, r1 = (insn >> 15) & 31, r2 = (insn >> 20) & 31, f3 = (insn >> 12) & 7;
    switch (classify(insn)) {
      case Kind.Plain: emitAlu(g, insn, pa); break;
      case Kind.Load: emitLoad(g, pa, i, rd, r1, f3, insn >> 20); break;
      case Kind.Store: emitStore(g, pa, i, r1, r2, f3, ((insn >> 25) << 5) | ((insn >> 7) & 31)); break;
      case Kind.LoadFp:
        exitUnlessFpOn(g, pa, i);
        emitLoad(g, pa, i, rd, r1, f3 === 2 ? 6 : 3, insn >> 20, true);
        break;
      case Kind.StoreFp:
        exitUnlessFpOn(g, pa, i);
        emitStore(g, pa, i, r1, r2, f3, ((insn >> 25) << 5) | ((insn >> 7) & 31), true);
        break;
      case Kind.Fence:
        // The host may let a later load pass an earlier store (x86 does): a FENCE that
        // orders writes before reads is a host fence (pred.W bit 24, succ.R bit 21).
        if ((insn & 0x01200000) === 0x01200000) g.b.fence();
        break;
      case Kind.FenceI:
        // On a shared memory the interpreter runs it: it syncs with code other threads
        // wrote (Jit.syncForeignWrites), and the block ends.
        if (g.shared) { interpretOne(g, pa, i, true); return; }
        // Writes to translated pages already dropped them (and raised the exit flag that
        // leave() checks), so all that is left is to end the block.
        leave(pa + len, count, 0);
        return;
      case Kind.Amo: emitAmo(g, pa, i, rd, r1, r2, f3, insn >>> 27); break;
      case Kind.Lr: emitLr(g, pa, i, rd, r1, f3); break;
      case Kind.Sc: emitSc(g, pa, i, rd, r1, r2, f3); break;
      case Kind.Csr:
        interpretOne(g, pa, i, false);
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

/** Leaves lo = low word of the address and t = the TLB entry's address; pushes the hit
 *  test, which also requires the access to be aligned (as QEMU's: the page mask keeps the
 *  low address bits, so a misaligned address never equals a tag and takes the slow path;
 *  an aligned one cannot cross the page). */
function tlbProbe(g: Gen, r1: number, imm: number, set: number, size: number): void {
  const b = g.b;
  g.read(r1); b.i64(imm); b.op(W.I64Add); b.tee(L_VA); b.op(W.I32WrapI64); b.tee(L_LO);
  b.i32(10); b.op(W.I32ShrU); b.i32(0x3fc); b.op(W.I32And); b.get(set); b.op(W.I32Add); b.tee(L_T);
  b.mem(W.I32Load, 0); b.get(L_LO); b.i32(-4096 | (size - 1)); b.op(W.I32And, W.I32Eq);
  b.get(L_T); b.mem(W.I32Load, TLB_ARRAY_BYTES);
  b.get(L_VA); b.i64(32); b.op(W.I64ShrU, W.I32WrapI64, W.I32Eq, W.I32And);
}

/** Pushes the host address of a TLB hit. */
function hostAddr(g: Gen): void {
  const b = g.b;
  b.get(L_T); b.mem(W.I32Load, 2 * TLB_ARRAY_BYTES); b.get(L_LO); b.i32(0xfff); b.op(W.I32And, W.I32Add);
}

function vaHi(g: Gen): void {
  g.b.get(L_VA); g.b.i64(32); g.b.op(W.I64ShrU, W.I32WrapI64);
}

/**
 * Runs instruction `i` of the block (at `pa`) in the interpreter, through the `csr` slow
 * path (the state is exact: dirty registers are stored first). Its answer: 0, go on; 1, it
 * retired but the block must end (context or interrupts changed); 2, it did not retire
 * (trap, interrupt, stop) and the state's pc says where to resume. The block ends on 1 and
 * 2, and always with `alwaysLeave`.
 */
function interpretOne(g: Gen, pa: number, i: number, alwaysLeave: boolean): void {
  const b = g.b;
  g.flush();
  b.i32(pa & 0xfff); b.op(W.Call); b.u32(FN_CSR);
  const leave = () => { b.get(L_N); b.i32(i); b.op(W.I32Add); b.get(L_LO); b.i32(1); b.op(W.I32Eq, W.I32Add); g.exit(); };
  if (alwaysLeave) { b.set(L_LO); leave(); return; }
  b.tee(L_LO);
  b.op(W.If, T.Void); leave(); b.op(W.End);
}

/** FP loads and stores need mstatus.FS on (CSR writes in the block may have changed it):
 *  else the interpreter runs the instruction, raising the illegal-instruction trap. */
function exitUnlessFpOn(g: Gen, pa: number, i: number): void {
  const b = g.b;
  b.get(P_ST); b.mem(W.I32Load, MSTATUS_OFF); b.i32(FS_MASK); b.op(W.I32And, W.I32Eqz);
  b.op(W.If, T.Void);
  interpretOne(g, pa, i, true);
  b.op(W.End);
}

/** A load into x[rd], or with `fp` into f[rd] (flw NaN-boxed, mstatus.FS made dirty);
 *  `slow` is the slow path to import (LR's checks alignment first). */
function emitLoad(g: Gen, pa: number, i: number, rd: number, r1: number, f3: number, imm: number, fp = false, slow = FN_LD, keep = -1): void {
  const b = g.b;
  const size = 1 << (f3 & 3);
  tlbProbe(g, r1, imm, P_RSET, size);
  b.op(W.If, T.I64);
  hostAddr(g); b.mem(LOAD_OPS[f3], 0);
  b.op(W.Else);
  g.flush();
  b.get(L_LO); vaHi(g); b.i32(size); g.where(pa, i); b.op(W.Call); b.u32(slow);
  b.get(P_ST); b.mem(W.I64Load, SCR_VALUE);
  if (f3 < 3) b.op(SLOW_EXTEND[f3]);
  b.op(W.End);
  if (!fp) {
    // `keep`: a local that gets the value too (LR's, even into x0).
    if (keep >= 0) b.tee(keep);
    g.write(rd);
    return;
  }
  if (size === 4) { b.i64(-1, 0); b.op(W.I64And); b.i64(0, -1); b.op(W.I64Or); }
  b.set(L_V);
  b.get(P_ST); b.get(L_V); b.mem(W.I64Store, F_OFF + 8 * rd);
  b.get(P_ST); b.get(P_ST); b.mem(W.I32Load, MSTATUS_OFF); b.i32(FS_MASK); b.op(W.I32Or); b.mem(W.I32Store, MSTATUS_OFF);
}

/** A store of x[r2], or with `fp` of f[r2]. */
function emitStore(g: Gen, pa: number, i: number, r1: number, r2: number, f3: number, imm: number, fp = false): void {
  const b = g.b;
  const size = 1 << f3;
  if (fp) { b.get(P_ST); b.mem(W.I64Load, F_OFF + 8 * r2); } else g.read(r2);
  b.set(L_V);
  tlbProbe(g, r1, imm, P_WSET, size);
  b.op(W.If, T.Void);
  hostAddr(g); b.get(L_V); b.mem(STORE_OPS[f3], 0);
  b.op(W.Else);
  g.flush();
  b.get(L_LO); vaHi(g); b.i32(size);
  b.get(L_V); b.op(W.I32WrapI64); b.get(L_V); b.i64(32); b.op(W.I64ShrU, W.I32WrapI64);
  g.where(pa, i);
  b.op(W.Call); b.u32(FN_ST);
  b.op(W.End);
}

/** LR: a load whose slow path is `lr` (alignment first, then MMIO and faults exactly as
 *  the interpreter), then the reservation: its address and the value loaded. */
function emitLr(g: Gen, pa: number, i: number, rd: number, r1: number, f3: number): void {
  const b = g.b;
  emitLoad(g, pa, i, rd, r1, f3, 0, false, FN_LR, L_V);
  b.get(P_ST); b.get(L_VA); b.i64(-1, 0x7fffffff); b.op(W.I64And); b.mem(W.I64Store, RESERVATION_OFF);
  b.get(P_ST); b.get(L_V); b.mem(W.I64Store, RESERVED_VALUE_OFF);
}

/** SC, in the interpreter's order: alignment and store permission are checked (through
 *  the AMO slow path unless the write TLB hits) whether or not the reservation holds; the
 *  reservation is dropped; then, if it held, a compare-and-swap against the value LR
 *  loaded, so that a store by another hart in between fails the SC. */
function emitSc(g: Gen, pa: number, i: number, rd: number, r1: number, r2: number, f3: number): void {
  const b = g.b;
  const size = f3 === 2 ? 4 : 8;
  g.read(r2); b.set(L_V);
  amoHost(g, pa, i, r1, size);
  b.get(P_ST); b.mem(W.I64Load, RESERVATION_OFF); b.get(L_VA); b.i64(-1, 0x7fffffff); b.op(W.I64And, W.I64Eq); b.set(L_LO);
  b.get(P_ST); b.i32(-1); b.mem(W.I32Store, RESERVATION_OFF + 4);
  b.get(L_LO);
  b.op(W.If, T.Void);
  // The expected value as the narrow compare-exchange sees it (32 bits, zero-extended).
  b.get(P_ST); b.mem(size === 4 ? W.I64Load32U : W.I64Load, RESERVED_VALUE_OFF); b.set(L_A);
  b.get(L_T); b.get(L_A); b.get(L_V);
  b.atomic(size === 4 ? Atomic.I64Cmpxchg32U : Atomic.I64Cmpxchg, size === 4 ? 2 : 3);
  b.get(L_A); b.op(W.I64Eq); b.set(L_LO);
  b.op(W.End);
  b.get(L_LO); b.op(W.I32Eqz, W.I64ExtendI32U);
  g.write(rd);
}

/** Leaves in L_T the host address for an AMO of `size` at x[r1] (L_VA the address): the
 *  write TLB when it hits (so aligned), else the hart's amoHost (alignment,
 *  permission, dirty log; raises exactly). */
function amoHost(g: Gen, pa: number, i: number, r1: number, size: number): void {
  const b = g.b;
  tlbProbe(g, r1, 0, P_WSET, size);
  b.op(W.If, T.I32);
  hostAddr(g);
  b.op(W.Else);
  g.flush();
  b.get(L_LO); vaHi(g); b.i32(size); g.where(pa, i); b.op(W.Call); b.u32(FN_AMO);
  b.op(W.End);
  b.set(L_T);
}

/** The host's atomic rmw for each simple AMO funct5 (64-bit form, 32-bit form). */
const AMO_RMW: Record<number, [Atomic, Atomic]> = {
  0x01: [Atomic.I64Xchg, Atomic.I64Xchg32U],
  0x00: [Atomic.I64Add, Atomic.I64Add32U],
  0x04: [Atomic.I64Xor, Atomic.I64Xor32U],
  0x0c: [Atomic.I64And, Atomic.I64And32U],
  0x08: [Atomic.I64Or, Atomic.I64Or32U],
};

/** AMOs (not LR/SC): the write TLB when it hits an aligned address, else the hart's
 *  amoHost (alignment, permission, dirty log; raises exactly); then one host atomic rmw,
 *  or for min/max a compare-exchange loop on sign-extended operands as interp.ts
 *  compares them. The old value, sign-extended for .W, goes to x[rd]. */
function emitAmo(g: Gen, pa: number, i: number, rd: number, r1: number, r2: number, f3: number, f5: number): void {
  const b = g.b;
  const size = f3 === 2 ? 4 : 8;
  const narrow = size === 4;
  const align = narrow ? 2 : 3;
  g.read(r2); b.set(L_V);
  amoHost(g, pa, i, r1, size);
  const rmw = AMO_RMW[f5];
  if (rmw) {
    b.get(L_T); b.get(L_V); b.atomic(rmw[narrow ? 1 : 0], align);
    if (narrow) b.op(W.I64Extend32S);
    g.write(rd);
    return;
  }
  // min, max, minu, maxu: new = the old value when it wins, else the operand; retried
  // until memory still held the old value. L_A: old (sign-extended), L_B: operand,
  // L_C: old as the compare-exchange sees it.
  b.get(L_V);
  if (narrow) b.op(W.I64Extend32S);
  b.set(L_B);
  b.op(W.Loop, T.Void);
  b.get(L_T); b.atomic(narrow ? Atomic.I64Load32U : Atomic.I64Load, align); b.tee(L_C);
  if (narrow) b.op(W.I64Extend32S);
  b.set(L_A);
  b.get(L_T); b.get(L_C);
  b.get(L_A); b.get(L_B);
  // min: old wins when old < operand; max: when operand < old.
  if (f5 === 0x10 || f5 === 0x18) { b.get(L_A); b.get(L_B); } else { b.get(L_B); b.get(L_A); }
  b.op(f5 >= 0x18 ? W.I64LtU : W.I64LtS);
  b.op(W.Select);
  b.atomic(narrow ? Atomic.I64Cmpxchg32U : Atomic.I64Cmpxchg, align);
  b.get(L_C); b.op(W.I64Ne, W.BrIf); b.u32(0);
  b.op(W.End);
  b.get(L_A);
  g.write(rd);
}

/** Types, imports (memory, ld, st, amo, csr, lr), the functions' declarations and the
 *  exports around the code section `code`. */
function wrapModule(code: Bytes, blocks: BlockCode[], shared: boolean): Uint8Array<ArrayBuffer> {
  const m = MODULE.reset();
  m.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const types = new Bytes();
  types.u32(5);
  types.bytes([0x60, 5, T.I32, T.I32, T.I32, T.I32, T.I32, 0]);
  types.bytes([0x60, 7, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, 0]);
  types.bytes([0x60, 5, T.I32, T.I32, T.I32, T.I32, T.I32, 1, T.I32]);
  types.bytes([0x60, 1, T.I32, 1, T.I32]);
  types.bytes(BLOCK_TYPE);
  m.section(1, types);
  const imports = new Bytes();
  imports.u32(6);
  imports.memoryImport(shared);
  imports.name('e'); imports.name('ld'); imports.bytes([0x00, 0]);
  imports.name('e'); imports.name('st'); imports.bytes([0x00, 1]);
  imports.name('e'); imports.name('amo'); imports.bytes([0x00, 2]);
  imports.name('e'); imports.name('csr'); imports.bytes([0x00, 3]);
  imports.name('e'); imports.name('lr'); imports.bytes([0x00, 0]);
  m.section(2, imports);
  const funcs = new Bytes();
  funcs.u32(blocks.length);
  for (let i = 0; i < blocks.length; i++) funcs.byte(TYPE_BLOCK);
  m.section(3, funcs);
  const exports = new Bytes();
  exports.u32(blocks.length);
  for (let i = 0; i < blocks.length; i++) { exports.name(BLOCK_EXPORT(i)); exports.byte(0x00); exports.u32(FN_BLOCK0 + i); }
  m.section(7, exports);
  m.section(10, code);
  return m.view().slice();
}

/** The export name of block `i` of a page module. */
export const BLOCK_EXPORT = (i: number): string => 'b' + i;

/** The block function type: (i32 retired, budget, state, readSet, writeSet; i64 delta) -> i64. */
export const BLOCK_TYPE = [0x60, 6, T.I32, T.I32, T.I32, T.I32, T.I32, T.I64, 1, T.I64];

