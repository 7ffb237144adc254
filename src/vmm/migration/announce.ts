// After a migration the guest's network cards announce themselves from their new host,
// so that switches (rvisor's, a bridge's, a physical one behind a TAP) learn the MACs'
// new ports at once instead of when the guest next sends. QEMU's announce defaults
// (qapi/migration.json announce-*): 5 rounds, the first after 50 ms, each gap 100 ms
// longer than the last, at most 550 ms.

export interface AnnounceTiming {
  initialMs: number;
  maxMs: number;
  rounds: number;
  stepMs: number;
}

export const QEMU_ANNOUNCE: Readonly<AnnounceTiming> = { initialMs: 50, maxMs: 550, rounds: 5, stepMs: 100 };

/** The gaps before each round, in milliseconds. */
export function announceDelays(t: AnnounceTiming = QEMU_ANNOUNCE): number[] {
  return Array.from({ length: t.rounds }, (_, i) => Math.min(t.maxMs, t.initialMs + i * t.stepMs));
}

/** Calls `announce` on QEMU's schedule; the returned function stops what is left. */
export function scheduleAnnounce(announce: () => void, t: AnnounceTiming = QEMU_ANNOUNCE): () => void {
  const delays = announceDelays(t);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const next = (i: number) => {
    if (i >= delays.length) return;
    timer = setTimeout(() => {
      announce();
      next(i + 1);
    }, delays[i]);
  };
  next(0);
  return () => clearTimeout(timer);
}
