// Traps that reach the firmware without being an SBI call.
//
// An exception medeleg does not delegate (illegal instruction, access faults...) goes to
// S-mode as if it had been delegated, which is what OpenSBI does after finding nothing to
// emulate: the kernel sees scause/sepc/stval and its stvec runs.
//
// M-level interrupts: this firmware never enables one (mie has only the S bits Linux sets
// through sie, all delegated), so one that arrives was enabled behind its back, e.g. by a
// VMM bug. OpenSBI would use MTIP/MSIP for its own timer and IPIs; here Sstc and SBI IPIs
// need neither, so the source is masked in mie (an input such as the CLINT's MSIP is a
// level, and would fire again at once otherwise) and the hart resumes where it was.

import type { Hart } from '../cpu/hart.js';
import { trapInto } from '../cpu/priv.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { setPc } from './abi.js';

const MIE = slotIndex(Slot.Mie);

/** Delivers exception `cause` to S-mode, taken at pc with tval, from S or U mode, through
 *  the CPU's own trap entry (scause, sepc, stval, SPP, SPIE/SIE, pc = stvec, reservation). */
export function redirectToS(h: Hart, cause: number, pcLo: number, pcHi: number, tvalLo: number, tvalHi: number): void {
  trapInto(h, true, cause, false, pcLo, pcHi, tvalLo, tvalHi);
}

/** Masks interrupt `cause` in mie and resumes the interrupted code at pc. */
export function dismissInterrupt(h: Hart, cause: number, pcLo: number, pcHi: number): void {
  h.w[MIE] &= ~(1 << cause);
  setPc(h, pcLo, pcHi);
}
