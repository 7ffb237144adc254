// Debugger register access on a Hart: the register files and pc straight from the state
// buffer, CSRs through the hart's own csrRead/csrWrite (so WARL rules, sstatus/sie views
// and TLB flushes on satp writes apply) run as if from M-mode, and the virtual "priv".

import { csrHi, csrRead, csrWrite } from '../cpu/csr.js';
import { PRIV, type Hart } from '../cpu/hart.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { TRAP } from '../cpu/trap.js';
import type { RegRef } from './gdb/registers.js';

const FCSR = slotIndex(Slot.Fcsr);

/** Runs a CSR access at M-mode without letting an illegal-instruction trap escape or
 *  leave a trace in the hart (the trap fields are restored). */
function asMachine<T>(h: Hart, f: () => T): T | undefined {
  const priv = h.w[PRIV];
  const cause = h.trapCause, lo = h.trapTvalLo, hi = h.trapTvalHi;
  h.w[PRIV] = 3;
  try {
    return f();
  } catch (e) {
    if (e !== TRAP) throw e;
    return undefined;
  } finally {
    h.w[PRIV] = priv;
    h.trapCause = cause;
    h.trapTvalLo = lo;
    h.trapTvalHi = hi;
  }
}

export function readHartRegister(h: Hart, r: RegRef): bigint | undefined {
  switch (r.kind) {
    case 'x': return h.s.getX(r.index);
    case 'pc': return h.pc;
    case 'f': return h.s.getF(r.index);
    case 'priv': return BigInt(h.w[PRIV]);
    case 'csr':
      // The FP CSRs straight from the slot: csrRead refuses them while mstatus.FS is Off,
      // but a debugger still wants to see them.
      if (r.csr === 1) return BigInt(h.w[FCSR] & 0x1f);
      if (r.csr === 2) return BigInt(h.w[FCSR + 1] & 7);
      if (r.csr === 3) return BigInt((h.w[FCSR] & 0x1f) | ((h.w[FCSR + 1] & 7) << 5));
      return asMachine(h, () => {
        const lo = csrRead(h, r.csr);
        return (BigInt(csrHi >>> 0) << 32n) | BigInt(lo >>> 0);
      });
  }
}

export function writeHartRegister(h: Hart, r: RegRef, v: bigint): boolean {
  const lo = Number(BigInt.asIntN(32, v)), hi = Number(BigInt.asIntN(32, v >> 32n));
  switch (r.kind) {
    case 'x': h.s.setX(r.index, v); return true;
    case 'pc': h.pc = BigInt.asUintN(64, v) & ~1n; return true;
    case 'f': h.s.setF(r.index, v); return true;
    case 'priv': {
      // 2 is reserved: QEMU's stub maps it to S as well.
      const p = Number(v & 3n);
      h.priv = p === 2 ? 1 : p;
      return true;
    }
    case 'csr':
      if (r.csr === 1) { h.w[FCSR] = lo & 0x1f; return true; }
      if (r.csr === 2) { h.w[FCSR + 1] = lo & 7; return true; }
      if (r.csr === 3) { h.w[FCSR] = lo & 0x1f; h.w[FCSR + 1] = (lo >>> 5) & 7; return true; }
      return asMachine(h, () => {
        csrRead(h, r.csr);
        csrWrite(h, r.csr, lo, hi);
        return true;
      }) ?? false;
  }
}
