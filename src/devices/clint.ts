// CLINT in the SiFive layout (ACLINT MSWI + MTIMER): per-hart msip and mtimecmp, and a
// shared mtime. mtime is the platform clock the harts' `time` CSR also reads, so it is
// read-only here: writes are ignored rather than letting the two views drift apart.

import type { HartInterrupts, MmioDevice } from './mmio.js';
import { StateReader } from './snapshot.js';

/** 32-bit registers; 64-bit ones may also be accessed whole (split low word first). */
export const CLINT_WIDTHS = 4 | 8;

/** The platform clock in timebase ticks (10 MHz on virt); structurally the cpu's TimeSource. */
export interface MtimeSource {
  mtime(): number;
}

const MSIP = 1 << 3;
const MTIP = 1 << 7;

const MTIMECMP_BASE = 0x4000;
const MTIME = 0xbff8;
const TWO32 = 2 ** 32;

/** Per-hart registers; mtime is the machine clock's, saved with it. */
export interface ClintState {
  harts: { msip: number; mtimecmp: string }[];
  /** The high word of mtime latched by a low-word read, or -1. */
  latchedHigh: number;
}

export class Clint implements MmioDevice {
  private readonly msip: Uint8Array;
  private readonly cmpLo: Uint32Array;
  private readonly cmpHi: Uint32Array;
  /** mtime's high word as of the last low-word read, handed to a high-word read that
   *  directly follows it so a split 64-bit load cannot tear across a carry. */
  private latchedHigh = -1;

  constructor(
    private readonly harts: readonly HartInterrupts[],
    private readonly time: MtimeSource,
  ) {
    const n = harts.length;
    this.msip = new Uint8Array(n);
    // mtimecmp resets to all ones: no timer interrupt until software programs one.
    this.cmpLo = new Uint32Array(n).fill(0xffffffff);
    this.cmpHi = new Uint32Array(n).fill(0xffffffff);
  }

  read(offset: number, _size: number): number {
    const latched = this.latchedHigh;
    this.latchedHigh = -1;
    const n = this.harts.length;
    if (offset < MTIMECMP_BASE) {
      const h = offset >> 2;
      return h < n && (offset & 3) === 0 ? this.msip[h] : 0;
    }
    if (offset < MTIME) {
      const rel = offset - MTIMECMP_BASE;
      const h = rel >> 3;
      if (h >= n) return 0;
      return rel & 4 ? this.cmpHi[h] : this.cmpLo[h];
    }
    const now = this.now();
    if (offset === MTIME) {
      this.latchedHigh = Math.floor(now / TWO32);
      return now % TWO32;
    }
    if (offset === MTIME + 4) return latched >= 0 ? latched : Math.floor(now / TWO32);
    return 0;
  }

  write(offset: number, _size: number, value: number): void {
    this.latchedHigh = -1;
    const n = this.harts.length;
    if (offset < MTIMECMP_BASE) {
      const h = offset >> 2;
      if (h < n && (offset & 3) === 0) {
        this.msip[h] = value & 1;
        this.harts[h].setInterrupt(MSIP, (value & 1) !== 0);
      }
      return;
    }
    if (offset < MTIME) {
      const rel = offset - MTIMECMP_BASE;
      const h = rel >> 3;
      if (h >= n) return;
      if (rel & 4) this.cmpHi[h] = value;
      else this.cmpLo[h] = value;
      // Software writes mtimecmp to acknowledge the timer; MTIP must drop before it returns.
      this.updateHart(h, this.now());
    }
    // mtime: read-only (see the header comment).
  }

  save(): ClintState {
    return {
      harts: Array.from(this.msip, (msip, h) => ({ msip, mtimecmp: String(BigInt(this.cmpHi[h]) << 32n | BigInt(this.cmpLo[h])) })),
      latchedHigh: this.latchedHigh,
    };
  }

  /** Validates, applies, then drives MSIP and MTIP from the restored registers and the
   *  (already restored) clock. */
  restore(state: unknown): void {
    const r = StateReader.of(state, 'clint');
    const harts = r.objects('harts', this.harts.length).map((h) => ({ msip: h.int('msip', 0, 1), cmp: h.big('mtimecmp') }));
    const latched = r.int('latchedHigh', -1, 0xffff_ffff);
    harts.forEach((h, i) => {
      this.msip[i] = h.msip;
      this.cmpLo[i] = Number(h.cmp & 0xffff_ffffn);
      this.cmpHi[i] = Number(h.cmp >> 32n);
      this.harts[i].setInterrupt(MSIP, h.msip !== 0);
    });
    this.latchedHigh = latched;
    const now = this.now();
    for (let h = 0; h < this.harts.length; h++) this.updateHart(h, now);
  }

  /** Raises or clears each hart's MTIP from mtime >= mtimecmp; returns the earliest future
   *  mtimecmp (in ticks) for the run loop to sleep until, or Infinity if none. Only needed
   *  as time passes: writes to msip and mtimecmp take effect at once. */
  update(): number {
    const now = this.now();
    let next = Infinity;
    for (let h = 0; h < this.harts.length; h++) {
      const cmp = this.updateHart(h, now);
      if (cmp > now && cmp < next) next = cmp;
    }
    // Past 2^53 ticks (28 years at 10 MHz) a deadline is unreachable: report none.
    return next > Number.MAX_SAFE_INTEGER ? Infinity : next;
  }

  /** Whether hart h's mtimecmp is set to a time that will come (not the all-ones "off"). */
  armed(h: number): boolean {
    return this.cmpHi[h] * TWO32 + this.cmpLo[h] <= Number.MAX_SAFE_INTEGER;
  }

  private updateHart(h: number, now: number): number {
    // As a double the all-ones reset value rounds to 2^64, still above any reachable mtime.
    const cmp = this.cmpHi[h] * TWO32 + this.cmpLo[h];
    this.harts[h].setInterrupt(MTIP, now >= cmp);
    return cmp;
  }

  private now(): number {
    return Math.floor(this.time.mtime());
  }
}
