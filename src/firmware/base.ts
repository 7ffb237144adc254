// BASE (EID 0x10): versions, ids, and probing for the other extensions.

import type { SbiContext, SbiExtension } from './context.js';
import { A0, argLo, Eid, ret, SbiErr } from './abi.js';

/** SBI specification v2.0: major in bits 30:24, minor in bits 23:0. */
export const SPEC_VERSION = (2 << 24) | 0;
/**
 * Implementation id. The spec's registry numbers implementations from 0 (BBL, OpenSBI,
 * Xvisor, KVM, ...) up to 11 (bhyve) today; rvisor is not registered, so it uses "rvis"
 * in ASCII, far above that sequence so a future registration cannot collide with it.
 */
export const IMPL_ID = 0x72766973;
/** Implementation version (ours: major << 16 | minor). */
export const IMPL_VERSION = (0 << 16) | 1;

export const base: SbiExtension = {
  eid: Eid.Base,
  call(ctx: SbiContext, h, fid) {
    switch (fid) {
      case 0: return ret(h, SbiErr.Success, SPEC_VERSION);
      case 1: return ret(h, SbiErr.Success, IMPL_ID);
      case 2: return ret(h, SbiErr.Success, IMPL_VERSION);
      case 3: return ret(h, SbiErr.Success, ctx.probe(argLo(h, A0)));
      // mvendorid, marchid, mimpid: the hart reports 0 for all three.
      case 4: case 5: case 6: return ret(h, SbiErr.Success, 0);
      default: return ret(h, SbiErr.NotSupported);
    }
  },
};
