// What translated code imports besides memory: the hart's slow paths for loads, stores
// and AMOs (TLB misses, MMIO, page crossings, faults) and CSR instructions run by the
// interpreter. When a slow path raises, the state is made exact at the faulting
// instruction: registers are written through, so only the pc and the retired count are
// missing: the slow path's arguments give the count and the page offset, the dispatcher's
// scratch words the page and its delta (see SCR_DLO in regs.ts).

import { Hart, MSTATUS, PC, PRIV } from '../cpu/hart.js';
import { execute } from '../cpu/interp.js';
import { pendingInterrupt } from '../cpu/priv.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { Cause } from '../cpu/trap.js';

const MIE = slotIndex(Slot.Mie), MIP = slotIndex(Slot.Mip);

/** What the slow paths need of the cache: the hart running translated code and its
 *  scratch words ([0..1] load result, [2] retired at a fault, [3] exit flag, [5..7] the
 *  dispatcher's current page, [8] CSR instructions counted, [9] re-check interrupts). */
export interface SlowContext {
  cur: Hart | undefined;
  scr: Int32Array;
}

export function slowPaths(j: SlowContext): Record<string, (...args: number[]) => number | void> {
  /** The guest pc of page offset `off` in the dispatcher's current page call. */
  const pcAt = (h: Hart, off: number): void => {
    const scr = j.scr;
    const dlo = scr[5];
    const lo = (dlo + scr[7] + off) | 0;
    h.w[PC] = lo;
    h.w[PC + 1] = (scr[6] + ((lo >>> 0) < (dlo >>> 0) ? 1 : 0)) | 0;
  };
  const fault = (h: Hart, retired: number, off: number): void => {
    pcAt(h, off);
    j.scr[2] = retired;
  };
  return {
    ld(lo: number, hi: number, size: number, retired: number, off: number): void {
      const h = j.cur as Hart;
      try {
        j.scr[0] = h.loadSlow(lo, hi, size);
      } catch (e) {
        fault(h, retired, off);
        throw e;
      }
      j.scr[1] = h.ldHi;
    },
    st(lo: number, hi: number, size: number, vlo: number, vhi: number, retired: number, off: number): void {
      const h = j.cur as Hart;
      try {
        h.storeSlow(lo, hi, size, vlo, vhi);
      } catch (e) {
        fault(h, retired, off);
        throw e;
      }
      // A device asked the machine to stop: leave at the next block boundary.
      if (h.stopRequested) j.scr[3] = 1;
    },
    /** LR's load: alignment first (LR never splits), then as any load. */
    lr(lo: number, hi: number, size: number, retired: number, off: number): void {
      const h = j.cur as Hart;
      try {
        if (lo & (size - 1)) h.raise(Cause.LoadMisaligned, lo, hi);
        j.scr[0] = h.loadSlow(lo, hi, size);
      } catch (e) {
        fault(h, retired, off);
        throw e;
      }
      j.scr[1] = h.ldHi;
    },
    amo(lo: number, hi: number, size: number, retired: number, off: number): number {
      const h = j.cur as Hart;
      try {
        return h.amoHost(lo, hi, size);
      } catch (e) {
        fault(h, retired, off);
        throw e;
      }
    },
    /** A CSR instruction at page offset `off` (or an FP access with mstatus.FS off, which
     *  traps), run by the interpreter: 0 to go on, 1 when it
     *  retired but the block must end (data context changed, interrupt pending, stop), 2
     *  when it did not retire (trap, interrupt taken first, stop): the pc says where next. */
    csr(off: number): number {
      const h = j.cur as Hart;
      const w = h.w, scr = j.scr;
      pcAt(h, off);
      const lo = w[PC], hi = w[PC + 1];
      const ctx = h.dataContext(), ms = w[MSTATUS], mie = w[MIE], mip = w[MIP], priv = w[PRIV];
      execute(h, 1);
      const nlo = (lo + 4) | 0;
      if (w[PC] !== nlo || w[PC + 1] !== ((nlo >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi)) {
        scr[9] = 1;
        scr[3] = 1;
        return 2;
      }
      scr[8]++; // counted by the block, but execute() already added it to instret
      const irq = (ms !== w[MSTATUS] || mie !== w[MIE] || mip !== w[MIP] || priv !== w[PRIV]) && pendingInterrupt(h) >= 0;
      if (irq || h.dataContext() !== ctx || h.stopRequested) {
        scr[9] = 1;
        scr[3] = 1;
        return 1;
      }
      return 0;
    },
  };
}
