// The machine state OpenSBI hands to an S-mode kernel, set up directly (no M-mode code
// runs): trap delegation, Sstc, counters open to S, PMP open to S/U, hart in S-mode with
// the MMU off.

import type { Hart } from '../cpu/hart.js';
import { MSTATUS } from '../cpu/hart.js';
import { PmpCfg } from '../cpu/pmp.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { Cause, Mip, Ms } from '../cpu/trap.js';

const MEDELEG = slotIndex(Slot.Medeleg), MIDELEG = slotIndex(Slot.Mideleg);
const MENVCFG = slotIndex(Slot.Menvcfg), MCOUNTEREN = slotIndex(Slot.Mcounteren);
const MHARTID = slotIndex(Slot.Mhartid), SATP = slotIndex(Slot.Satp);

const bit = (c: Cause) => 1 << c;

/**
 * Exceptions handed straight to S-mode. OpenSBI delegates 0xb109: misaligned fetch,
 * breakpoint, ECALL from U, and the three page faults. It keeps misaligned loads/stores
 * in M-mode to emulate them; this hart performs misaligned loads and stores itself and
 * only raises the misaligned causes for AMO/LR/SC, which no firmware can emulate
 * atomically (OpenSBI ends up redirecting those to S-mode too), so they are delegated:
 * 0xb159. Everything else that is not delegated (illegal instruction, access faults)
 * reaches Sbi.onTrap and is redirected to S-mode as OpenSBI does.
 */
export const SBI_MEDELEG = bit(Cause.InsnMisaligned) | bit(Cause.Breakpoint) | bit(Cause.LoadMisaligned) |
  bit(Cause.StoreMisaligned) | bit(Cause.EcallU) | bit(Cause.InsnPageFault) | bit(Cause.LoadPageFault) |
  bit(Cause.StorePageFault);

/** All supervisor interrupts go to S-mode; the firmware takes no interrupt of its own. */
export const SBI_MIDELEG = Mip.SSIP | Mip.STIP | Mip.SEIP;

/** menvcfg.STCE, bit 63 (the high word's top bit). */
const STCE_HI = 0x80000000 | 0;

/** Told when a hart is booted directly into S-mode (the Sbi marks it started). */
export interface BootObserver {
  onHartBooted(h: Hart): void;
}

function isBootObserver(fw: unknown): fw is BootObserver {
  return typeof fw === 'object' && fw !== null && typeof (fw as Partial<BootObserver>).onHartBooted === 'function';
}

/**
 * Resets the hart and configures its M-mode state the way OpenSBI leaves it for Linux:
 * delegation, Sstc on, every counter readable from S, PMP entry 0 granting S/U all of
 * memory (RWX, NAPOT over the whole address space), S-mode, satp = 0, no interrupts
 * enabled. pc and the argument registers are the caller's business. h.firmware is kept.
 */
export function resetHartForSbi(h: Hart, hartid: number = h.w[MHARTID]): void {
  h.reset(hartid);
  const w = h.w;
  w[MEDELEG] = SBI_MEDELEG;
  w[MIDELEG] = SBI_MIDELEG;
  // Sstc: S-mode programs stimecmp itself and the hart raises STIP; set_timer writes the
  // same register.
  w[MENVCFG + 1] = STCE_HI;
  w[MCOUNTEREN] = -1;
  h.pmp.writeAddr(0, -1, -1);
  h.pmp.writeCfg(0, PmpCfg.R | PmpCfg.W | PmpCfg.X | (3 << PmpCfg.A_SHIFT));
  h.priv = 1;
}

/** Puts the hart in S-mode at `pc` with the MMU off and S interrupts disabled, a0/a1 set:
 *  the register state of HSM hart_start and of a non-retentive suspend's resume. */
export function enterSMode(h: Hart, pc: bigint, a0: bigint, a1: bigint): void {
  const w = h.w;
  w[SATP] = 0;
  w[SATP + 1] = 0;
  w[MSTATUS] &= ~Ms.SIE;
  h.priv = 1;
  h.pc = pc;
  h.s.setX(10, a0);
  h.s.setX(11, a1);
}

/**
 * Boots a hart into an S-mode kernel as OpenSBI would: resetHartForSbi, then pc = entry,
 * a0 = hartid, a1 = the device tree's address. If h.firmware is already the Sbi (its
 * constructor installs itself on every hart), the hart is marked started.
 */
export function bootHartInSMode(h: Hart, entry: bigint, hartid: number, dtb: bigint): void {
  resetHartForSbi(h, hartid);
  enterSMode(h, entry, BigInt(hartid), dtb);
  if (isBootObserver(h.firmware)) h.firmware.onHartBooted(h);
}
