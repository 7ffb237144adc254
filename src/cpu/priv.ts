// Privilege transitions: trap entry (with medeleg/mideleg delegation), MRET/SRET, and
// the choice of the interrupt to take.

import { readMip } from './csr.js';
import type { Hart } from './hart.js';
import { MSTATUS, PC, PRIV } from './hart.js';
import { Slot, slotIndex } from './state.js';
import { Cause, Ms } from './trap.js';

const I = (s: Slot) => slotIndex(s);
const MEDELEG = I(Slot.Medeleg), MIDELEG = I(Slot.Mideleg), MIE = I(Slot.Mie);
const MTVEC = I(Slot.Mtvec), STVEC = I(Slot.Stvec), MEPC = I(Slot.Mepc), SEPC = I(Slot.Sepc);
const MCAUSE = I(Slot.Mcause), SCAUSE = I(Slot.Scause), MTVAL = I(Slot.Mtval), STVAL = I(Slot.Stval);
const RESERVATION = I(Slot.Reservation);

/** Interrupt priority order (MEI, MSI, MTI, SEI, SSI, STI). */
const PRIORITY = [11, 3, 7, 9, 1, 5];

/** Enters the trap handler for `cause` (an interrupt when `interrupt`), taken at pc. */
export function enterTrap(h: Hart, cause: number, interrupt: boolean, pcLo: number, pcHi: number, tvalLo: number, tvalHi: number): void {
  const w = h.w;
  const priv = w[PRIV];
  const deleg = interrupt ? w[MIDELEG] : w[MEDELEG];
  const toS = priv <= 1 && cause < 32 && ((deleg >>> cause) & 1) === 1;
  if (!toS && h.firmware && h.firmware.onTrap(h, cause, interrupt, pcLo, pcHi, tvalLo, tvalHi)) return;
  trapInto(h, toS, cause, interrupt, pcLo, pcHi, tvalLo, tvalHi);
}

/** Takes the trap in S-mode (`toS`) or M-mode, whatever the delegation registers say:
 *  firmware redirecting an undelegated trap to S-mode calls this directly. */
export function trapInto(h: Hart, toS: boolean, cause: number, interrupt: boolean, pcLo: number, pcHi: number, tvalLo: number, tvalHi: number): void {
  const w = h.w;
  const priv = w[PRIV];
  const causeHi = interrupt ? 0x80000000 | 0 : 0;
  let ms = w[MSTATUS];
  let tvec: number;
  if (toS) {
    w[SCAUSE] = cause; w[SCAUSE + 1] = causeHi;
    w[SEPC] = pcLo; w[SEPC + 1] = pcHi;
    w[STVAL] = tvalLo; w[STVAL + 1] = tvalHi;
    ms = (ms & ~(Ms.SPIE | Ms.SIE | Ms.SPP)) | ((ms & Ms.SIE) ? Ms.SPIE : 0) | (priv === 1 ? Ms.SPP : 0);
    tvec = STVEC;
    w[PRIV] = 1;
  } else {
    w[MCAUSE] = cause; w[MCAUSE + 1] = causeHi;
    w[MEPC] = pcLo; w[MEPC + 1] = pcHi;
    w[MTVAL] = tvalLo; w[MTVAL + 1] = tvalHi;
    ms = (ms & ~(Ms.MPIE | Ms.MIE | Ms.MPP)) | ((ms & Ms.MIE) ? Ms.MPIE : 0) | (priv << Ms.MPP_SHIFT);
    tvec = MTVEC;
    w[PRIV] = 3;
  }
  w[MSTATUS] = ms;
  const base = w[tvec] & ~3;
  const vectored = interrupt && (w[tvec] & 3) === 1;
  w[PC] = (base + (vectored ? 4 * cause : 0)) | 0;
  w[PC + 1] = w[tvec + 1];
  w[RESERVATION + 1] = -1;
  h.invalidateFetch();
}

/** The interrupt to take now, or -1. */
export function pendingInterrupt(h: Hart): number {
  const w = h.w;
  const pending = readMip(h) & w[MIE];
  if (pending === 0) return -1;
  const priv = w[PRIV];
  const ms = w[MSTATUS];
  const mideleg = w[MIDELEG];
  const mEnabled = priv < 3 || (ms & Ms.MIE) !== 0;
  const sEnabled = priv < 1 || (priv === 1 && (ms & Ms.SIE) !== 0);
  // Interrupts for M-mode come before any for S-mode; within a mode, the fixed order.
  const forM = mEnabled ? pending & ~mideleg : 0;
  const enabled = forM !== 0 ? forM : sEnabled ? pending & mideleg : 0;
  if (enabled === 0) return -1;
  for (const irq of PRIORITY) if (enabled & (1 << irq)) return irq;
  return -1;
}

/** True when WFI should stop waiting: some interrupt is pending and enabled in mie. */
export function wakeupPending(h: Hart): boolean {
  return (readMip(h) & h.w[MIE]) !== 0;
}

export function mret(h: Hart): void {
  const w = h.w;
  if (w[PRIV] !== 3) h.raise(Cause.IllegalInsn);
  let ms = w[MSTATUS];
  const mpp = (ms >>> Ms.MPP_SHIFT) & 3;
  ms = (ms & ~(Ms.MIE | Ms.MPP)) | ((ms & Ms.MPIE) ? Ms.MIE : 0) | Ms.MPIE;
  if (mpp !== 3) ms &= ~Ms.MPRV;
  w[MSTATUS] = ms;
  w[PRIV] = mpp;
  w[PC] = w[MEPC];
  w[PC + 1] = w[MEPC + 1];
  h.invalidateFetch();
}

export function sret(h: Hart): void {
  const w = h.w;
  const priv = w[PRIV];
  if (priv === 0 || (priv === 1 && (w[MSTATUS] & Ms.TSR))) h.raise(Cause.IllegalInsn);
  let ms = w[MSTATUS];
  const spp = (ms & Ms.SPP) ? 1 : 0;
  ms = (ms & ~(Ms.SIE | Ms.SPP | Ms.MPRV)) | ((ms & Ms.SPIE) ? Ms.SIE : 0) | Ms.SPIE;
  w[MSTATUS] = ms;
  w[PRIV] = spp;
  w[PC] = w[SEPC];
  w[PC + 1] = w[SEPC + 1];
  h.invalidateFetch();
}
