// TIME (EID 0x54494D45) and the legacy set_timer (EID 0x00). The timer is the hart's own
// Sstc comparator: set_timer writes stimecmp and the hart raises STIP when time reaches it.

import type { Hart } from '../cpu/hart.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { Mip } from '../cpu/trap.js';
import type { SbiExtension } from './context.js';
import { A0, argHi, argLo, Eid, ret, SbiErr, setReg } from './abi.js';

const STIMECMP = slotIndex(Slot.Stimecmp), MENVCFG = slotIndex(Slot.Menvcfg), MIP = slotIndex(Slot.Mip);

function setTimer(h: Hart): void {
  const w = h.w;
  w[STIMECMP] = argLo(h, A0);
  w[STIMECMP + 1] = argHi(h, A0);
  // resetHartForSbi turns Sstc on; keep it on in case a VMM configured the hart itself,
  // since without it nothing would ever raise STIP.
  w[MENVCFG + 1] |= 0x80000000;
  // The spec wants a future deadline to clear a pending timer interrupt. With Sstc the
  // hart derives STIP from (time >= stimecmp) on every read, so clearing the stored bit
  // is exact whichever side of `time` the new value lies.
  Atomics.and(w, MIP, ~Mip.STIP);
}

export const time: SbiExtension = {
  eid: Eid.Time,
  call(_ctx, h, fid) {
    if (fid !== 0) return ret(h, SbiErr.NotSupported);
    setTimer(h);
    ret(h, SbiErr.Success);
  },
};

/** Legacy calls return only a0 and preserve a1. */
export const legacySetTimer: SbiExtension = {
  eid: Eid.LegacySetTimer,
  call(_ctx, h) {
    setTimer(h);
    setReg(h, A0, 0);
  },
};
