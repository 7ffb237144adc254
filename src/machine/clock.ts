import type { TimeSource } from '../cpu/hart.js';

/** Guest time (mtime) from the host's monotonic clock. It stands still while the VM is
 *  paused, as QEMU's virtual clock does, so a paused guest sees no time jump and its
 *  timers do not all fire at once on resume; a restored snapshot sets where it resumes. */
export class HostClock implements TimeSource {
  private readonly ticksPerMs: number;
  /** mtime = (performance.now() - origin) * ticksPerMs while running. */
  private origin = performance.now();
  private frozenAt: number | undefined;

  constructor(timebaseHz = 10_000_000) {
    this.ticksPerMs = timebaseHz / 1000;
  }

  mtime(): number {
    return this.frozenAt ?? Math.floor((performance.now() - this.origin) * this.ticksPerMs);
  }

  get paused(): boolean {
    return this.frozenAt !== undefined;
  }

  pause(): void {
    this.frozenAt ??= this.mtime();
  }

  resume(): void {
    if (this.frozenAt === undefined) return;
    this.origin = performance.now() - this.frozenAt / this.ticksPerMs;
    this.frozenAt = undefined;
  }

  /** Continue counting from `mtime` (a restored snapshot's time); paused stays paused. */
  set(mtime: number): void {
    if (this.frozenAt !== undefined) this.frozenAt = mtime;
    else this.origin = performance.now() - mtime / this.ticksPerMs;
  }
}

/** mtime from the host's monotonic clock, in ticks of `timebaseHz` since creation. */
export function hostClock(timebaseHz = 10_000_000): HostClock {
  return new HostClock(timebaseHz);
}
