// Notices a guest that has stopped for good, so that the run ends instead of spinning or
// sleeping forever, as QEMU's does. Debian's kernel with --mem 64M panics in
// mm_core_init_early, before it enables any interrupt source (mie = 0), and panic() then
// loops in mdelay() forever: SIE is set, but no interrupt can ever be taken. A panic once
// the timer is up (--mem 80M without panic=) loops the same way with interrupts on and
// the timer ticking: from outside, that is a busy kernel, told apart only by the panic
// text on the console ('spinning' below). Neither loop prints or touches a device.
//
// A guest has stalled when, for a long stretch, no hart could take an interrupt that can
// still arrive, and nothing left the harts: no device register was written and no byte
// reached a console. A healthy guest is never in that state for long: an idle one waits
// in WFI with its timer or device interrupts enabled in mie (WFI wakes on those even with
// SIE clear), and a busy one takes its timer interrupts. Linux keeps interrupts off for
// milliseconds, except at boot before it enables any: Debian's kernel runs about 80
// million instructions (2.3 s on the translator, 512 MiB to 2 GiB of RAM) that way, well
// inside the limits below.
//
// The board checks this once per pass of its run loop (every hart's slice), never on the
// instruction path.

import { readMip } from '../cpu/csr.js';
import type { Hart } from '../cpu/hart.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { Mip, Ms } from '../cpu/trap.js';

const MSTATUS = slotIndex(Slot.Mstatus), MIE = slotIndex(Slot.Mie), MIDELEG = slotIndex(Slot.Mideleg);
const PRIV = slotIndex(Slot.Priv), MENVCFG = slotIndex(Slot.Menvcfg), STIMECMP = slotIndex(Slot.Stimecmp);
const STCE = 0x80000000 | 0; // menvcfg bit 63, in the high word

export interface StallLimits {
  /** Guest time without progress, in mtime ticks. */
  ticks: number;
  /** Instructions the harts must have run meanwhile, unless all of them slept: a host
   *  that stopped this process for a while is no evidence against the guest. */
  instructions: number;
}

/** 10 s of guest time (the threshold of Linux's own hard-lockup detector) and 300
 *  million instructions (almost 4 times Debian's interrupt-less start-up; 3 to 8 s of a
 *  panic loop, on the translator or the interpreter). */
export const STALL_LIMITS: StallLimits = { ticks: 10 * 10_000_000, instructions: 300_000_000 };

/** A comparator value a guest can reach (Linux writes all ones for "no timer"). */
export function reachable(cmp: number): boolean {
  return cmp <= Number.MAX_SAFE_INTEGER;
}

/** The hart's Sstc comparator, if it is on and set to a time that will come. */
export function stimecmpArmed(h: Hart): boolean {
  const w = h.w;
  return (w[MENVCFG + 1] & STCE) !== 0 && reachable((w[STIMECMP + 1] >>> 0) * 4294967296 + (w[STIMECMP] >>> 0));
}

/**
 * The mip bits that are pending or may still become pending for `h`: device interrupts
 * always (a device or the host can raise them at any time), IPIs when another hart
 * exists, timer interrupts when a comparator is armed.
 */
export function possibleInterrupts(h: Hart, o: { otherHarts: boolean; timerArmed: boolean }): number {
  return readMip(h) | Mip.SEIP | Mip.MEIP | (o.otherHarts ? Mip.SSIP | Mip.MSIP : 0) | (o.timerArmed ? Mip.STIP | Mip.MTIP : 0);
}

/**
 * Whether the hart would take one of the interrupts in `possible` now (the rules of
 * pendingInterrupt in cpu/priv.ts), or, waiting in WFI, be woken by one (WFI ignores the
 * global enables).
 */
export function interruptible(h: Hart, possible: number): boolean {
  const w = h.w;
  const enabled = w[MIE] & possible;
  if (h.waiting) return enabled !== 0;
  const priv = w[PRIV], ms = w[MSTATUS], mideleg = w[MIDELEG];
  const forM = priv < 3 || (ms & Ms.MIE) !== 0 ? enabled & ~mideleg : 0;
  const forS = priv < 1 || (priv === 1 && (ms & Ms.SIE) !== 0) ? enabled & mideleg : 0;
  return (forM | forS) !== 0;
}

/** One hart at the end of a pass of the run loop. */
export interface HartSample {
  /** Running (not parked by HSM) and interruptible(). */
  interruptible: boolean;
  /** Running in S- or M-mode, not waiting in WFI. */
  inKernel: boolean;
  /** Instructions retired in the pass. */
  retired: number;
}

/**
 * `hung`: no hart could be interrupted, nothing left the harts: the guest can never go
 * on. `spinning`: some hart stayed in the kernel, never in user mode nor in WFI, with
 * nothing leaving the harts: a healthy kernel does this for long stretches too (with
 * interrupts on, it is as good as busy), but after a kernel panic it is the panic loop.
 */
export type Stall = 'hung' | 'spinning';

/** A stretch without progress: since when, and the instructions run in it. */
class Stretch {
  since: number | undefined;
  ran = 0;
  restart(now: number): void {
    this.since = now;
    this.ran = 0;
  }
  lasted(now: number, limits: StallLimits): boolean {
    return this.since !== undefined && now - this.since >= limits.ticks && this.ran >= limits.instructions;
  }
}

/** Follows the run loop's passes and says when the guest has stalled. */
export class StallWatch {
  private activity = 0;
  private readonly machine = new Stretch();
  /** Since when every hart has slept (or been parked) throughout. */
  private asleepSince: number | undefined;
  private readonly kernel: Stretch[] = [];

  constructor(private readonly limits: StallLimits) {}

  /**
   * One pass of the run loop at guest time `now`. `activity` is a count that grows
   * whenever the guest does something outside its harts (device writes, console output,
   * a hart started or stopped).
   */
  observe(now: number, harts: readonly HartSample[], activity: number): Stall | undefined {
    const acted = activity !== this.activity;
    this.activity = activity;
    let alive = acted, ran = 0, spinning = false;
    harts.forEach((h, i) => {
      const k = (this.kernel[i] ??= new Stretch());
      if (acted || !h.inKernel || k.since === undefined) k.restart(now);
      else k.ran += h.retired;
      if (k.lasted(now, this.limits)) spinning = true;
      if (h.interruptible) alive = true;
      ran += h.retired;
    });
    const m = this.machine;
    if (alive || m.since === undefined) {
      m.restart(now);
      this.asleepSince = undefined;
      return spinning ? 'spinning' : undefined;
    }
    m.ran += ran;
    if (ran > 0) this.asleepSince = undefined;
    else this.asleepSince ??= now;
    // Spinning harts must really have spun (a host that stopped this process for a while
    // is no evidence against the guest); harts that all sleep with nothing to wake them
    // never will.
    if (m.lasted(now, this.limits) || (this.asleepSince !== undefined && now - this.asleepSince >= this.limits.ticks)) return 'hung';
    return spinning ? 'spinning' : undefined;
  }
}
