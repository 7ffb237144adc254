// The hart list parameter (SBI v2.0, "Hart list parameter"): a bit mask of hartids
// counted from hart_mask_base, or every hart when the base is -1.

import type { Hart } from '../cpu/hart.js';
import type { SbiContext } from './context.js';
import { A0, A1, argHi, argLo, argU } from './abi.js';

/** The harts the (mask, base) arguments select, or undefined when any selected hartid
 *  does not exist (the caller answers SBI_ERR_INVALID_PARAM and touches no hart). */
export function selectedHarts(ctx: SbiContext, h: Hart, maskReg = A0, baseReg = A1): Hart[] | undefined {
  const harts = ctx.harts;
  if (argLo(h, baseReg) === -1 && argHi(h, baseReg) === -1) return harts.slice();
  const base = argU(h, baseReg);
  const lo = argLo(h, maskReg), hi = argHi(h, maskReg);
  const out: Hart[] = [];
  for (let i = 0; i < 64; i++) {
    const set = i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
    if (!set) continue;
    const id = base + i;
    if (id >= harts.length) return undefined;
    out.push(harts[id]);
  }
  return out;
}
