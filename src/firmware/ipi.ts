// IPI (EID 0x735049), the legacy clear_ipi (EID 0x03), and RFENCE (EID 0x52464E43).
// An IPI is a supervisor software interrupt: SSIP set on the target, which S-mode clears
// through sip. A remote fence flushes the targets' software TLBs (and so their fetch
// caches, which also covers FENCE.I).

import { Mip } from '../cpu/trap.js';
import { Slot, slotIndex } from '../cpu/state.js';
import type { SbiExtension } from './context.js';
import { A0, Eid, ret, SbiErr, setReg } from './abi.js';
import { selectedHarts } from './hartmask.js';

const MIP = slotIndex(Slot.Mip);

export const ipi: SbiExtension = {
  eid: Eid.Ipi,
  call(ctx, h, fid) {
    if (fid !== 0) return ret(h, SbiErr.NotSupported);
    const targets = selectedHarts(ctx, h);
    if (!targets) return ret(h, SbiErr.InvalidParam);
    for (const t of targets) t.setInterrupt(Mip.SSIP, true);
    ret(h, SbiErr.Success);
  },
};

/** Returns 1 in a0 if an IPI was pending (then cleared), 0 otherwise; a1 is preserved. */
export const legacyClearIpi: SbiExtension = {
  eid: Eid.LegacyClearIpi,
  call(_ctx, h) {
    const pending = (h.w[MIP] & Mip.SSIP) !== 0;
    h.setInterrupt(Mip.SSIP, false);
    setReg(h, A0, pending ? 1 : 0);
  },
};

export const rfence: SbiExtension = {
  eid: Eid.Rfence,
  call(ctx, h, fid) {
    // 0 fence.i, 1 sfence.vma, 2 sfence.vma with ASID. The TLB has no ASID tags and no
    // per-range flush, so every form flushes it all (any range is valid then). 3-6 are
    // the hypervisor fences: this hart has no H extension.
    if (fid < 0 || fid > 2) return ret(h, SbiErr.NotSupported);
    const targets = selectedHarts(ctx, h);
    if (!targets) return ret(h, SbiErr.InvalidParam);
    if (ctx.platform.threads) ctx.platform.threads.fence(targets.map((t) => ctx.hartId(t)));
    else for (const t of targets) t.flushTlb();
    ret(h, SbiErr.Success);
  },
};
