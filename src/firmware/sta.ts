// STA (EID 0x535441, SBI 2.0): steal-time accounting. The guest registers, per hart, 64
// bytes of its RAM; the VMM reports there, in nanoseconds, the time that hart was ready
// to run but withheld (a CPU cap, or other VMs' turn), so the guest's scheduler and
// /proc/stat can tell stolen time from time it used.
//
//   offset 0  u32 sequence   odd while an update is being written
//          4  u32 flags      zero
//          8  u64 steal      nanoseconds
//         16  u8  preempted  advisory; rvisor writes 0
//
// The total is kept here, not read back from guest RAM, so a guest that scribbles on its
// structure confuses only itself.

import type { Hart } from '../cpu/hart.js';
import { Access } from '../cpu/pmp.js';
import type { SbiContext, SbiExtension } from './context.js';
import { A0, A1, A2, argHi, argLo, argU, Eid, ret, SbiErr } from './abi.js';
import { accessible } from './console.js';

export const STA_BYTES = 64;
/** No structure registered for the hart. */
export const STA_OFF = -1;

function allOnes(h: Hart, r: number): boolean {
  return argLo(h, r) === -1 && argHi(h, r) === -1;
}

function setShmem(ctx: SbiContext, h: Hart): void {
  const id = ctx.hartId(h);
  if (allOnes(h, A0) && allOnes(h, A1)) {
    ctx.sta.shmem[id] = STA_OFF;
    return ret(h, SbiErr.Success);
  }
  const lo = argU(h, A0);
  if (argU(h, A2) !== 0 || lo % STA_BYTES !== 0) return ret(h, SbiErr.InvalidParam);
  // shmem_phys_hi holds address bits 64 and up: no such memory on RV64.
  if (argU(h, A1) !== 0 || !accessible(h, lo, STA_BYTES, Access.Write)) return ret(h, SbiErr.InvalidAddress);
  h.mem.write(lo, new Uint8Array(STA_BYTES));
  ctx.sta.shmem[id] = lo;
  // Steal before registration is not reported: the guest's counter starts at zero.
  ctx.sta.reported[id] = ctx.sta.steal[id];
  ret(h, SbiErr.Success);
}

export const sta: SbiExtension = {
  eid: Eid.Sta,
  call(ctx, h, fid) {
    if (fid !== 0) return ret(h, SbiErr.NotSupported);
    setShmem(ctx, h);
  },
};

/** Per hart: the structure's address, the steal total and the part of it the guest's
 *  counter started from. Floats: nanoseconds stay exact up to 2^53 (104 days). */
export class StealTime {
  readonly shmem: Float64Array;
  readonly steal: Float64Array;
  readonly reported: Float64Array;

  constructor(harts: number) {
    this.shmem = new Float64Array(harts).fill(STA_OFF);
    this.steal = new Float64Array(harts);
    this.reported = new Float64Array(harts);
  }

  /** Adds `ns` of stolen time to hart `id` and, if it registered a structure, publishes
   *  the new total there with the sequence protocol. */
  add(h: Hart, id: number, ns: number): void {
    if (!(ns > 0)) return;
    this.steal[id] += Math.round(ns);
    const pa = this.shmem[id];
    if (pa === STA_OFF || !h.mem.isRam(pa, STA_BYTES)) return;
    const head = h.mem.read(pa, 4);
    const seq = new DataView(head.buffer, head.byteOffset).getUint32(0, true);
    const out = new Uint8Array(16);
    const dv = new DataView(out.buffer);
    // Odd while writing, even after: a reader retries on an odd or changed sequence.
    dv.setUint32(0, (seq | 1) >>> 0, true);
    h.mem.write(pa, out.subarray(0, 4));
    dv.setUint32(0, ((seq | 1) + 1) >>> 0, true);
    dv.setUint32(4, 0, true);
    dv.setBigUint64(8, BigInt(this.steal[id] - this.reported[id]), true);
    h.mem.write(pa + 8, out.subarray(8, 16));
    h.mem.write(pa + 16, Uint8Array.of(0));
    h.mem.write(pa, out.subarray(0, 8));
  }
}
