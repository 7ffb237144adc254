// Code-generation context shared by the instruction emitters: the function's locals, the
// guest registers cached in wasm locals within one block, and the exits to the runtime.

import { HART_SCRATCH } from '../cpu/hart.js';
import { F_OFFSET, Slot, slotIndex } from '../cpu/state.js';
import { Bytes, W, features } from './wasm.js';

// A block function's parameters: instructions retired so far in this dispatcher call
// (updated in place), budget, state, read and write TLB sets, delta (i64); then its locals.
export const L_N = 0, P_BUDGET = 1, P_ST = 2, P_RSET = 3, P_WSET = 4, L_DELTA = 5;
export const L_LO = 6, L_T = 7;
export const L_VA = 8, L_V = 9, L_A = 10, L_B = 11, L_C = 12;
/** A block function's i32 locals after the parameters, then its fixed i64 locals (va, v,
 *  a, b, c), then one i64 local per guest register the block uses. */
export const I32_LOCALS = 2, I64_LOCALS = 5;
const FIRST_X_LOCAL = 13;

/** Byte offsets in the hart's area (state at 0, see hart.ts). */
export const PC_OFF = 512;
export const SCR_VALUE = HART_SCRATCH;
/** Non-zero asks translated code to return at the next block boundary (code invalidated). */
export const SCR_EXIT = HART_SCRATCH + 12;
/** Kept by the dispatcher for the fault handler: the current page's delta (virtual minus
 *  host) and its host offset. */
export const SCR_DLO = HART_SCRATCH + 20, SCR_DHI = HART_SCRATCH + 24, SCR_PAGE = HART_SCRATCH + 28;

/** Function indices: the five imports, then one function per block. */
export const FN_LD = 0, FN_ST = 1, FN_AMO = 2, FN_CSR = 3, FN_LR = 4, FN_BLOCK0 = 5;
/** The FP registers and mstatus (low word) in the state, and mstatus.FS. */
export const F_OFF = F_OFFSET, MSTATUS_OFF = slotIndex(Slot.Mstatus) * 4, FS_MASK = 3 << 13;
/** The LR/SC reservation in the state (address, high word -1 when none is held). */
export const RESERVATION_OFF = slotIndex(Slot.Reservation) * 4;
/** The value LR loaded, which SC compares-and-swaps against. */
export const RESERVED_VALUE_OFF = slotIndex(Slot.ReservedValue) * 4;
/** The type index of block functions in a page module. */
export const TYPE_BLOCK = 4;

/**
 * Guest registers are loaded into locals on first use in a block; writes stay in locals
 * (dirty) and are stored to the state before anything that may look at it: every exit
 * from the block and every slow-path call (which may fault, and a fault must see exact
 * registers). Reads and writes only happen on the block's straight path (never inside a
 * slow-path arm), so "loaded" and "dirty" are static properties.
 */
export class Gen {
  loaded = 0;
  dirty = 0;
  /** Guest memory is shared between threads (the module being built imports it so). */
  shared = false;
  /** Locals given to guest registers in this function (V8's baseline compiler zeroes
   *  every declared local on entry, so a block declares only those it uses). */
  xLocals = 0;
  /** Each register's local (0: none yet). */
  private readonly localOf = new Int32Array(32);
  constructor(readonly b: Bytes) {}

  /** A new function. */
  startFunction(): void {
    this.loaded = 0;
    this.dirty = 0;
    this.xLocals = 0;
    this.localOf.fill(0);
  }

  /** Forgets the cached registers (they may have changed behind the block's back: flush
   *  first). */
  startBlock(): void {
    this.loaded = 0;
    this.dirty = 0;
  }

  /** Stores the dirty registers to the state (they stay dirty for the code after an arm
   *  that flushed, since the other arm did not). */
  flush(): void {
    const b = this.b;
    for (let d = this.dirty; d !== 0; d &= d - 1) {
      const r = 31 - Math.clz32(d & -d);
      b.get(P_ST);
      b.get(this.xLocal(r));
      b.mem(W.I64Store, r * 8);
    }
  }

  private xLocal(r: number): number {
    let l = this.localOf[r];
    if (l === 0) l = this.localOf[r] = FIRST_X_LOCAL + this.xLocals++;
    return l;
  }

  /** Pushes x[r] (i64). */
  read(r: number): void {
    const b = this.b;
    if (r === 0) { b.i64(0); return; }
    if (this.loaded & (1 << r)) { b.get(this.xLocal(r)); return; }
    b.get(P_ST);
    b.mem(W.I64Load, r * 8);
    b.tee(this.xLocal(r));
    this.loaded |= 1 << r;
  }

  /** Pops an i64 into x[r] (dropped for x0). */
  write(r: number): void {
    const b = this.b;
    if (r === 0) { b.op(W.Drop); return; }
    b.set(this.xLocal(r));
    this.loaded |= 1 << r;
    this.dirty |= 1 << r;
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

  /** Returns to the dispatcher (retired count on the stack), which looks the pc up. */
  exit(): void {
    this.b.op(W.I64ExtendI32U);
    this.b.i64(0, -1);
    this.b.op(W.I64Or, W.Return);
  }

  /** Goes on with block function `fn` of this module by tail call where the engine has
   *  them, else (or for a block of another module, fn -1) returns to the dispatcher asking
   *  it to call table slot `slot` next. Retired count on the stack. */
  chain(fn: number, slot: number): void {
    if (fn < 0 || !features.tailCalls) {
      this.b.op(W.I64ExtendI32U); this.b.i64(0, slot); this.b.op(W.I64Or, W.Return);
      return;
    }
    this.pushBlockArgs();
    this.b.op(W.ReturnCall); this.b.u32(fn);
  }

  /** chain() to the table slot that `pushSlot` pushes, through the dispatcher. (Page
   *  modules do not import the table: V8 updates every importing instance on each change.) */
  chainIndirect(pushSlot: () => void): void {
    const b = this.b;
    b.op(W.I64ExtendI32U); pushSlot(); b.op(W.I64ExtendI32U); b.i64(32); b.op(W.I64Shl, W.I64Or, W.Return);
  }

  private pushBlockArgs(): void {
    for (const l of [P_BUDGET, P_ST, P_RSET, P_WSET, L_DELTA]) this.b.get(l);
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
