// SRST (EID 0x53525354) and the legacy shutdown (EID 0x08): the VMM decides what a reset
// means (SbiPlatform.systemReset). The call does not return on success, so the calling
// hart is stopped before the platform hears of it.

import type { Hart } from '../cpu/hart.js';
import { HsmState, type SbiContext, type SbiExtension } from './context.js';
import { A0, A1, argLo, Eid, ret, SbiErr } from './abi.js';
import { park } from './hsm.js';

/** Reset types 0 shutdown, 1 cold reboot, 2 warm reboot; reasons 0 none, 1 system
 *  failure. Everything else is reserved or vendor-specific and not implemented. */
const LAST_TYPE = 2;
const LAST_REASON = 1;

function reset(ctx: SbiContext, h: Hart, type: number, reason: number): void {
  ctx.hsm[ctx.hartId(h)] = HsmState.Stopped;
  park(h);
  ctx.platform.systemReset(type, reason);
}

export const srst: SbiExtension = {
  eid: Eid.Srst,
  call(ctx, h, fid) {
    if (fid !== 0) return ret(h, SbiErr.NotSupported);
    const type = argLo(h, A0) >>> 0, reason = argLo(h, A1) >>> 0;
    if (type > LAST_TYPE || reason > LAST_REASON) return ret(h, SbiErr.InvalidParam);
    reset(ctx, h, type, reason);
  },
};

export const legacyShutdown: SbiExtension = {
  eid: Eid.LegacyShutdown,
  call(ctx, h) {
    reset(ctx, h, 0, 0);
  },
};
