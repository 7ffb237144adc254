import type { TimeSource } from '../cpu/hart.js';

/** Host milliseconds on a time line every thread shares: performance.now() alone counts
 *  from each worker's own start. */
export function hostMs(): number {
  return TIME_ORIGIN + performance.now();
}
const TIME_ORIGIN = performance.timeOrigin;

/** The clock's state: [origin, frozenAt] in host ms (frozenAt NaN while running). */
const ORIGIN = 0, FROZEN_AT = 1;

/** Guest time (mtime) from the host's monotonic clock. It stands still while the VM is
 *  paused, as QEMU's virtual clock does, so a paused guest sees no time jump and its
 *  timers do not all fire at once on resume; a restored snapshot sets where it resumes.
 *  Its state is two doubles, in a SharedArrayBuffer when harts run on several threads:
 *  every thread's HostClock over the same cells reads the same time. */
export class HostClock implements TimeSource {
  private readonly ticksPerMs: number;
  /** mtime = (hostMs() - origin) * ticksPerMs while running; frozenAt holds it paused. */
  private readonly cells: Float64Array;

  constructor(timebaseHz = 10_000_000, cells?: Float64Array) {
    this.ticksPerMs = timebaseHz / 1000;
    if (cells) {
      this.cells = cells;
    } else {
      this.cells = new Float64Array(2);
      this.cells[ORIGIN] = hostMs();
      this.cells[FROZEN_AT] = NaN;
    }
  }

  /** The same clock, in cells another thread can share (a copy of the current state). */
  static shared(timebaseHz = 10_000_000): HostClock {
    const cells = new Float64Array(new SharedArrayBuffer(16));
    cells[ORIGIN] = hostMs();
    cells[FROZEN_AT] = NaN;
    return new HostClock(timebaseHz, cells);
  }

  /** The state cells, to hand to another thread's HostClock. */
  get state(): Float64Array {
    return this.cells;
  }

  mtime(): number {
    const frozen = this.cells[FROZEN_AT];
    if (frozen === frozen) return frozen;
    return Math.floor((hostMs() - this.cells[ORIGIN]) * this.ticksPerMs);
  }

  get paused(): boolean {
    return !Number.isNaN(this.cells[FROZEN_AT]);
  }

  // pause, resume and set are called by the one thread that owns the VM's run state.

  pause(): void {
    if (!this.paused) this.cells[FROZEN_AT] = this.mtime();
  }

  resume(): void {
    if (!this.paused) return;
    this.cells[ORIGIN] = hostMs() - this.cells[FROZEN_AT] / this.ticksPerMs;
    this.cells[FROZEN_AT] = NaN;
  }

  /** Continue counting from `mtime` (a restored snapshot's time); paused stays paused. */
  set(mtime: number): void {
    if (this.paused) this.cells[FROZEN_AT] = mtime;
    else this.cells[ORIGIN] = hostMs() - mtime / this.ticksPerMs;
  }
}

/** mtime from the host's monotonic clock, in ticks of `timebaseHz` since creation. */
export function hostClock(timebaseHz = 10_000_000): HostClock {
  return new HostClock(timebaseHz);
}
