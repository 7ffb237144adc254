// HSM (EID 0x48534D): starting, stopping and suspending harts. On one thread the VMM
// runs every hart itself, so each transition completes within the call: START_PENDING
// and STOP_PENDING are never observed. With a thread per hart, a started hart is
// START_PENDING until its own thread has reset it. A stopped hart is parked (waiting with mie = 0, so even a run loop
// that ignored Sbi.isRunning would execute nothing on it); hart_start resets it.

import type { Hart } from '../cpu/hart.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { HsmState, type SbiContext, type SbiExtension } from './context.js';
import { A0, A1, A2, argLo, argU, Eid, ret, SbiErr } from './abi.js';
import { enterSMode, resetHartForSbi } from './boot.js';

const MIE = slotIndex(Slot.Mie);

/** Suspend types (SBI v2.0, "HSM Hart Suspend Types"). */
const RETENTIVE = 0;
const NON_RETENTIVE = 0x80000000;

/** Keeps a hart from running: execute() returns at once while it waits with no
 *  interrupt enabled. */
export function park(h: Hart): void {
  h.w[MIE] = 0;
  h.waiting = true;
}

/** True when S-mode code can start executing at `addr`: an even address in RAM. */
function validEntry(h: Hart, addr: number): boolean {
  return addr % 2 === 0 && h.mem.isRam(addr, 4) && h.mem.hostOffset(addr) >= 0;
}

function hartStart(ctx: SbiContext, h: Hart): void {
  const id = argU(h, A0);
  if (id >= ctx.harts.length) return ret(h, SbiErr.InvalidParam);
  const target = ctx.harts[id];
  const addr = argU(h, A1);
  if (!validEntry(target, addr)) return ret(h, SbiErr.InvalidAddress);
  if (ctx.status(id) !== HsmState.Stopped) return ret(h, SbiErr.AlreadyAvailable);
  const opaque = h.s.getX(A2);
  if (ctx.platform.threads) {
    // START_PENDING until the hart's own thread has reset and started it.
    ctx.platform.threads.startHart(id, addr, opaque);
    return ret(h, SbiErr.Success);
  }
  // "Interrupts as after reset": a fresh hart, then the firmware's M-mode setup.
  resetHartForSbi(target, id);
  enterSMode(target, BigInt(addr), BigInt(id), opaque);
  ctx.hsm[id] = HsmState.Started;
  ret(h, SbiErr.Success);
}

function hartStop(ctx: SbiContext, h: Hart): void {
  ctx.hsm[ctx.hartId(h)] = HsmState.Stopped;
  park(h);
}

function hartGetStatus(ctx: SbiContext, h: Hart): void {
  const id = argU(h, A0);
  if (id >= ctx.harts.length) return ret(h, SbiErr.InvalidParam);
  ret(h, SbiErr.Success, ctx.status(id));
}

/**
 * Both default suspend types are a WFI: the hart waits until an interrupt is pending and
 * enabled in sie, whatever sstatus.SIE says. Retentive returns success at the next
 * instruction; non-retentive resumes at resume_addr with the hart_start register state
 * (registers and CSRs may be lost by definition, so keeping them is allowed). Reserved
 * and platform-specific types are not implemented: SBI_ERR_INVALID_PARAM.
 */
function hartSuspend(ctx: SbiContext, h: Hart): void {
  const type = argLo(h, A0) >>> 0;
  const id = ctx.hartId(h);
  if (type === RETENTIVE) {
    ret(h, SbiErr.Success);
  } else if (type === NON_RETENTIVE) {
    const resume = argU(h, A1);
    if (!validEntry(h, resume)) return ret(h, SbiErr.InvalidAddress);
    enterSMode(h, BigInt(resume), BigInt(id), h.s.getX(A2));
  } else {
    return ret(h, SbiErr.InvalidParam);
  }
  ctx.hsm[id] = HsmState.Suspended;
  h.waiting = true;
}

export const hsm: SbiExtension = {
  eid: Eid.Hsm,
  call(ctx, h, fid) {
    switch (fid) {
      case 0: return hartStart(ctx, h);
      case 1: return hartStop(ctx, h);
      case 2: return hartGetStatus(ctx, h);
      case 3: return hartSuspend(ctx, h);
      default: return ret(h, SbiErr.NotSupported);
    }
  },
};
