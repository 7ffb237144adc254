// Code-generation context shared by the instruction emitters: the function's locals, the
// guest registers cached in wasm locals within one block, and the exits to the runtime.

import { HART_SCRATCH } from '../cpu/hart.js';
import { Bytes, W } from './wasm.js';

// Parameters of the translated function `run`, then its locals.
export const P_ENTRY = 0, P_BUDGET = 1, P_ST = 2, P_RSET = 3, P_WSET = 4, P_DLO = 5, P_DHI = 6;
export const L_N = 7, L_NEXT = 8, L_LO = 9, L_T = 10;
export const L_DELTA = 11, L_VA = 12, L_V = 13, L_A = 14, L_B = 15;
/** i32 locals after the parameters, then i64 locals (delta, va, v, a, b, x1..x31). */
export const I32_LOCALS = 4, I64_LOCALS = 5 + 31;
export const xLocal = (r: number): number => 15 + r;

/** Byte offsets in the hart's area (state at 0, see hart.ts). */
export const PC_OFF = 512;
export const SCR_VALUE = HART_SCRATCH;
/** Non-zero asks translated code to return at the next block boundary (code invalidated). */
export const SCR_EXIT = HART_SCRATCH + 12;
/** Kept by the dispatcher for the fault handler: instructions retired before the current
 *  page call, that call's delta (virtual minus host) and its page. */
export const SCR_BASE = HART_SCRATCH + 16, SCR_DLO = HART_SCRATCH + 20, SCR_DHI = HART_SCRATCH + 24, SCR_PAGE = HART_SCRATCH + 28;

/** Function indices: the three imports, then run and the multiply-high helper. */
export const FN_LD = 0, FN_ST = 1, FN_AMO = 2, FN_CSR = 3, FN_RUN = 4, FN_MULHU = 5;

/**
 * Guest registers are loaded into locals on first use in a block and written through to
 * the state on every write, so the state is exact at any exit or fault without writeback
 * code (which made modules large and slow to compile). Reads only happen on the block's
 * straight path (never inside a slow-path arm), so "loaded" is a static property.
 */
export class Gen {
  loaded = 0;
  constructor(readonly b: Bytes) {}

  startBlock(): void {
    this.loaded = 0;
  }

  /** Pushes x[r] (i64). */
  read(r: number): void {
    const b = this.b;
    if (r === 0) { b.i64(0); return; }
    if (this.loaded & (1 << r)) { b.get(xLocal(r)); return; }
    b.get(P_ST);
    b.mem(W.I64Load, r * 8);
    b.tee(xLocal(r));
    this.loaded |= 1 << r;
  }

  /** Pops an i64 into x[r] (dropped for x0). */
  write(r: number): void {
    const b = this.b;
    if (r === 0) { b.op(W.Drop); return; }
    b.set(xLocal(r));
    b.get(P_ST);
    b.get(xLocal(r));
    b.mem(W.I64Store, r * 8);
    this.loaded |= 1 << r;
  }

  /** Pushes the guest-virtual address of host offset `pa` (same page mapping as the entry). */
  pcOf(pa: number): void {
    this.b.get(L_DELTA);
    this.b.i64n(pa);
    this.b.op(W.I64Add);
  }

  /** state.pc = va(pa). */
  setPc(pa: number): void {
    this.b.get(P_ST);
    this.pcOf(pa);
    this.b.mem(W.I64Store, PC_OFF);
  }

  /** Pushes the two arguments that let a slow path that raises leave the state exact:
   *  instructions retired before instruction `i`, and its offset in the page. */
  where(pa: number, i: number): void {
    const b = this.b;
    b.get(L_N);
    b.i32(i);
    b.op(W.I32Add);
    b.i32(pa & 0xfff);
  }
}
