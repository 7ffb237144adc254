// When pre-copy stops copying and pauses the guest, and how hard it throttles a guest
// that dirties memory faster than the link carries it. Pure arithmetic over what each
// round measured, so the live migration and the dry run ("would this converge, with what
// downtime?") share one model, and tests check it without a guest.
//
// The rule is QEMU's (migration/ram.c and the auto-converge parameters): after each
// round, the bandwidth is what that round sent over the time it took, and the expected
// downtime is what is dirty now over that bandwidth; at or under the limit, stop and copy.
// Auto-converge: when a round dirtied more than half of what it sent, twice in a row, the
// vCPUs are throttled (20 % at first, then 10 % more each time, at most 99 %).

export interface ConvergenceParameters {
  /** QEMU's downtime-limit, milliseconds (default 300). */
  downtimeLimitMs: number;
  autoConverge: boolean;
  throttleInitial: number;
  throttleIncrement: number;
  throttleMax: number;
  /** A round that dirtied more than this share of what it sent counts against convergence. */
  triggerThreshold: number;
}

export const DEFAULT_CONVERGENCE: Readonly<ConvergenceParameters> = {
  downtimeLimitMs: 300,
  autoConverge: true,
  throttleInitial: 0.2,
  throttleIncrement: 0.1,
  throttleMax: 0.99,
  triggerThreshold: 0.5,
};

export interface RoundResult {
  bytesSent: number;
  seconds: number;
  /** Bytes dirty when the round ended: what the next round (or stop-and-copy) must send. */
  dirtyBytes: number;
}

export interface Decision {
  action: 'continue' | 'stop-and-copy';
  /** Bytes per second this round achieved. */
  bandwidth: number;
  expectedDowntimeMs: number;
  /** Share of the vCPUs' time to withhold from now on (0 none). */
  throttle: number;
}

export class Convergence {
  private throttleNow = 0;
  private strikes = 0;
  rounds = 0;

  constructor(readonly p: ConvergenceParameters = DEFAULT_CONVERGENCE) {}

  get throttle(): number {
    return this.throttleNow;
  }

  afterRound(r: RoundResult): Decision {
    this.rounds++;
    // A round that sent nothing in no time (an idle guest's last pages) tells nothing
    // about the link: any dirty remainder is then small by definition.
    const bandwidth = r.seconds > 0 && r.bytesSent > 0 ? r.bytesSent / r.seconds : Infinity;
    const expectedDowntimeMs = r.dirtyBytes === 0 ? 0 : (r.dirtyBytes / bandwidth) * 1000;
    if (expectedDowntimeMs <= this.p.downtimeLimitMs) return { action: 'stop-and-copy', bandwidth, expectedDowntimeMs, throttle: this.throttleNow };
    if (this.p.autoConverge && r.dirtyBytes > this.p.triggerThreshold * r.bytesSent) {
      if (++this.strikes >= 2) {
        this.strikes = 0;
        this.throttleNow = this.throttleNow === 0 ? this.p.throttleInitial : Math.min(this.p.throttleMax, Math.round((this.throttleNow + this.p.throttleIncrement) * 1000) / 1000);
      }
    } else {
      this.strikes = 0;
    }
    return { action: 'continue', bandwidth, expectedDowntimeMs, throttle: this.throttleNow };
  }
}

export interface PredictionInput {
  /** Bytes the first round must send (guest RAM in use: untouched pages go as zeroes). */
  memoryBytes: number;
  /** Bytes per second the guest dirties (measured over a short window). */
  dirtyRate: number;
  /** The most the guest dirties however long it runs (distinct pages seen dirty in the
   *  window): a round never has more than this to resend. */
  workingSetBytes: number;
  /** Bytes per second the link carries. */
  bandwidth: number;
  /** Bytes of device state sent while paused (a few hundred KiB). */
  stateBytes?: number;
  /** Milliseconds a switch-over costs beyond sending (the confirmation's round trip,
   *  the destination's restore); 0 when unknown. */
  switchoverMs?: number;
}

export interface Prediction {
  converges: boolean;
  rounds: number;
  expectedDowntimeMs: number;
  totalMs: number;
  /** The throttle auto-converge reaches (0 when not needed). */
  throttle: number;
  /** Why it does not converge, when it does not. */
  reason?: string;
}

/** Runs the rounds the live migration would, on the measured rates instead of a guest. */
export function predictMigration(input: PredictionInput, p: ConvergenceParameters = DEFAULT_CONVERGENCE, maxRounds = 100): Prediction {
  const c = new Convergence(p);
  const state = input.stateBytes ?? 256 << 10;
  let toSend = input.memoryBytes;
  let totalMs = 0;
  for (let round = 0; round < maxRounds; round++) {
    const seconds = toSend / input.bandwidth;
    totalMs += seconds * 1000;
    // Dirtied while this round ran, with the vCPUs slowed by the current throttle.
    const dirty = Math.min(input.workingSetBytes, input.dirtyRate * (1 - c.throttle) * seconds);
    const d = c.afterRound({ bytesSent: toSend, seconds, dirtyBytes: dirty });
    if (d.action === 'stop-and-copy') {
      const downtime = ((dirty + state) / input.bandwidth) * 1000 + (input.switchoverMs ?? 0);
      return { converges: true, rounds: c.rounds, expectedDowntimeMs: downtime, totalMs: totalMs + downtime, throttle: c.throttle };
    }
    toSend = dirty;
  }
  return {
    converges: false, rounds: c.rounds, expectedDowntimeMs: ((toSend + state) / input.bandwidth) * 1000, totalMs, throttle: c.throttle,
    reason: `the guest dirties ${mb(input.dirtyRate)}/s against a link of ${mb(input.bandwidth)}/s${p.autoConverge ? ', even throttled' : ' (auto-converge is off)'}`,
  };
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
