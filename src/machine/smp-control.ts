// The control block of an SMP bare-metal run: a few int32 words in a SharedArrayBuffer
// that every hart thread and the thread that started them see. The first thread to
// know how the run ends (a hart that saw the program's tohost, one that faulted, the
// host on a crash or timeout) claims the outcome with a compare-and-swap, so exactly
// one reason is reported, and notifies the waiter (Atomics.waitAsync: nothing polls).

/** Word indices. */
export const enum Ctl {
  /** 0 while running, then the Outcome. */
  Outcome = 0,
  /** Set to 1 (and notified) when every hart should leave its loop. */
  Stop,
  /** The hart the outcome is about (-1: none). */
  Hart,
  /** Exit code, or the fault's mcause. */
  Code,
  PcLo, PcHi, TvalLo, TvalHi,
  /** Taken (0 -> 1) while a thread handles an HTIF request, so one request is handled once. */
  HtifLock,
  Words = 16,
}

export const enum Outcome { Running = 0, Exit, Fault, Limit, Crashed, Timeout }

/** The per-hart instruction counts follow the header words, as float64 (no wrap at 2^31). */
const COUNTS_AT = Ctl.Words * 4;

export class SmpControl {
  readonly words: Int32Array;
  /** Instructions each hart retired, updated by its thread after every slice. */
  readonly instructions: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer, harts: number) {
    this.words = new Int32Array(buffer, 0, Ctl.Words);
    this.instructions = new Float64Array(buffer, COUNTS_AT, harts);
  }

  static create(harts: number): SmpControl {
    return new SmpControl(new SharedArrayBuffer(COUNTS_AT + 8 * harts), harts);
  }

  /** Records how the run ends unless something else did first; true when this call won. */
  claim(outcome: Outcome, hart: number, code = 0, pc = [0, 0], tval = [0, 0]): boolean {
    const w = this.words;
    // The details are written under a provisional -1 so the waiter never sees half of them.
    if (Atomics.compareExchange(w, Ctl.Outcome, Outcome.Running, -1) !== Outcome.Running) return false;
    w[Ctl.Hart] = hart;
    w[Ctl.Code] = code;
    w[Ctl.PcLo] = pc[0]; w[Ctl.PcHi] = pc[1];
    w[Ctl.TvalLo] = tval[0]; w[Ctl.TvalHi] = tval[1];
    Atomics.store(w, Ctl.Outcome, outcome);
    Atomics.notify(w, Ctl.Outcome);
    return true;
  }

  /** The outcome so far (Running, also while a claim is being written). */
  get outcome(): Outcome {
    const o = Atomics.load(this.words, Ctl.Outcome);
    return o < 0 ? Outcome.Running : o;
  }

  /** Tells every hart to stop, waking those asleep in WFI. */
  stop(): void {
    Atomics.store(this.words, Ctl.Stop, 1);
    Atomics.notify(this.words, Ctl.Stop);
  }

  get stopping(): boolean {
    return Atomics.load(this.words, Ctl.Stop) !== 0;
  }

  /** Sleeps up to `ms` unless stop() is called meanwhile (a hart waiting in WFI). */
  nap(ms: number): void {
    Atomics.wait(this.words, Ctl.Stop, 0, ms);
  }

  /** Runs `f` unless another thread is inside it; false when it was. */
  exclusive(f: () => void): boolean {
    if (Atomics.compareExchange(this.words, Ctl.HtifLock, 0, 1) !== 0) return false;
    try {
      f();
    } finally {
      Atomics.store(this.words, Ctl.HtifLock, 0);
    }
    return true;
  }

  /** A 64-bit pair of the header as an unsigned value. */
  u64(lo: Ctl): bigint {
    return (BigInt(this.words[lo + 1] >>> 0) << 32n) | BigInt(this.words[lo] >>> 0);
  }
}
