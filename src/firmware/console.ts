// DBCN (EID 0x4442434E) and the legacy console_putchar/getchar (EIDs 0x01, 0x02).
// DBCN buffers are guest-physical: a range is used only if it is all RAM that S-mode may
// access (PMP); anything else is SBI_ERR_INVALID_PARAM, never an exception in the VMM.

import type { Hart } from '../cpu/hart.js';
import { PAGE_SIZE } from '../cpu/memory.js';
import { Access } from '../cpu/pmp.js';
import type { SbiContext, SbiExtension } from './context.js';
import { A0, A1, A2, argLo, argU, Eid, ret, SbiErr, setReg } from './abi.js';

/** Bytes moved per call at most. The calls are non-blocking and may be partial, and
 *  callers loop on the count returned, so one call never copies an unbounded range. */
export const DBCN_MAX_TRANSFER = 65536;

/** True when S-mode may make `access` to every byte of [pa, pa + len). */
export function accessible(h: Hart, pa: number, len: number, access: Access): boolean {
  if (!h.mem.isRam(pa, len)) return false;
  for (let done = 0; done < len;) {
    const a = pa + done;
    const n = Math.min(PAGE_SIZE - (a % PAGE_SIZE), len - done);
    if (h.mem.hostOffset(a) < 0 || !h.pmp.check(a, n, access, 1)) return false;
    done += n;
  }
  return true;
}

/** The buffer (num_bytes, base_addr_lo, base_addr_hi) clipped to DBCN_MAX_TRANSFER, or
 *  undefined when the whole buffer is not accessible. */
function buffer(h: Hart, access: Access): { pa: number; len: number } | undefined {
  const size = argU(h, A0), pa = argU(h, A1);
  // base_addr_hi holds address bits 64 and up: no such memory on RV64.
  if (argU(h, A2) !== 0) return undefined;
  if (size === 0) return { pa, len: 0 };
  if (!h.mem.isRam(pa, size)) return undefined;
  const len = Math.min(size, DBCN_MAX_TRANSFER);
  return accessible(h, pa, len, access) ? { pa, len } : undefined;
}

function consoleWrite(ctx: SbiContext, h: Hart): void {
  const b = buffer(h, Access.Read);
  if (!b) return ret(h, SbiErr.InvalidParam);
  if (b.len > 0) ctx.platform.consoleWrite(h.mem.read(b.pa, b.len));
  ret(h, SbiErr.Success, b.len);
}

function consoleRead(ctx: SbiContext, h: Hart): void {
  const b = buffer(h, Access.Write);
  if (!b) return ret(h, SbiErr.InvalidParam);
  const got: number[] = [];
  while (got.length < b.len) {
    const c = ctx.platform.consoleRead();
    if (c < 0) break;
    got.push(c & 0xff);
  }
  if (got.length > 0) h.mem.write(b.pa, Uint8Array.from(got));
  ret(h, SbiErr.Success, got.length);
}

export const dbcn: SbiExtension = {
  eid: Eid.Dbcn,
  call(ctx, h, fid) {
    switch (fid) {
      case 0: return consoleWrite(ctx, h);
      case 1: return consoleRead(ctx, h);
      case 2:
        ctx.platform.consoleWrite(Uint8Array.of(argLo(h, A0) & 0xff));
        return ret(h, SbiErr.Success);
      default: return ret(h, SbiErr.NotSupported);
    }
  },
};

/** Legacy calls return only a0 and preserve a1. */
export const legacyPutchar: SbiExtension = {
  eid: Eid.LegacyPutchar,
  call(ctx, h) {
    ctx.platform.consoleWrite(Uint8Array.of(argLo(h, A0) & 0xff));
    setReg(h, A0, 0);
  },
};

export const legacyGetchar: SbiExtension = {
  eid: Eid.LegacyGetchar,
  call(ctx, h) {
    const c = ctx.platform.consoleRead();
    setReg(h, A0, c < 0 ? -1 : c & 0xff);
  },
};
