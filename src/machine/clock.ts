import type { TimeSource } from '../cpu/hart.js';

/** mtime from the host's monotonic clock, in ticks of `timebaseHz` since creation. */
export function hostClock(timebaseHz = 10_000_000): TimeSource {
  const start = performance.now();
  const ticksPerMs = timebaseHz / 1000;
  return { mtime: () => Math.floor((performance.now() - start) * ticksPerMs) };
}
