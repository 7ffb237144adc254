// Runs an SMP bare-metal board with each hart on its own worker thread over the board's
// shared memory (tests and benchmarks of multi-threaded harts). The main thread runs no
// guest code: it waits on the control block (Atomics.waitAsync) for the first outcome,
// which a hart thread claims (exit, fault, limit) or this side does (a worker that
// crashed, the timeout); then it asks every hart to stop, waits for their threads to
// end and terminates any that do not, so the memory is still when the caller reads it.

import { Worker } from 'node:worker_threads';
import { Ctl, Outcome } from '../../machine/smp-control.js';
import type { ExecMode, SmpBoard } from '../../machine/smp-board.js';
import type { HartWorkerData, HartWorkerMessage } from './protocol.js';

const WORKER_URL = new URL('./hart-worker.js', import.meta.url);
/** How long hart threads get to leave their loops after a stop before they are terminated. */
const STOP_GRACE_MS = 2000;

export interface SmpRunOptions {
  exec: ExecMode;
  /** End the run as 'timeout' after this long (default 60 s). */
  timeoutMs?: number;
  /** A hart that retires this many instructions ends the run as 'limit'. */
  maxInstructions?: number;
  /** Console output of the program (HTIF), from whichever hart wrote it. */
  output?: (bytes: Uint8Array) => void;
}

export type SmpOutcome =
  | { kind: 'exit'; hart: number; code: number }
  | { kind: 'fault'; hart: number; cause: number; pc: bigint; tval: bigint }
  | { kind: 'limit'; hart: number }
  | { kind: 'crashed'; hart: number; message: string }
  | { kind: 'timeout' };

export type SmpResult = SmpOutcome & {
  /** Instructions each hart retired (as of its last slice). */
  instructions: number[];
  ms: number;
};

export async function runSmp(board: SmpBoard, opts: SmpRunOptions): Promise<SmpResult> {
  const control = board.control;
  if (control.outcome !== Outcome.Running || control.stopping) throw new Error('this SMP board has already run');
  const t0 = performance.now();
  const job = board.job(opts.exec, opts.maxInstructions);
  const crash = new Map<number, string>();
  const ended: Promise<void>[] = [];
  const workers = board.harts.map((_, index) => {
    const w = new Worker(WORKER_URL, { workerData: { job, index } satisfies HartWorkerData });
    w.on('message', (m: HartWorkerMessage) => opts.output?.(m.bytes));
    w.on('error', (e) => {
      crash.set(index, e instanceof Error ? e.message : String(e));
      control.claim(Outcome.Crashed, index);
    });
    ended.push(new Promise((resolve) => w.once('exit', () => resolve())));
    return w;
  });
  // Threads that all end without a result (a bug in the loop) must not leave us waiting.
  void Promise.all(ended).then(() => control.claim(Outcome.Crashed, -1));
  const timer = setTimeout(() => control.claim(Outcome.Timeout, -1), opts.timeoutMs ?? 60_000);
  await settled(control.words);
  clearTimeout(timer);
  control.stop();
  const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_GRACE_MS).unref());
  if ((await Promise.race([Promise.all(ended), grace])) === 'late') await Promise.all(workers.map((w) => w.terminate()));
  return { ...outcomeOf(board, crash), instructions: Array.from(control.instructions), ms: performance.now() - t0 };
}

/** Resolves once an outcome is claimed: claim() notifies after writing its details (the
 *  word is -1 while it writes them, 0 before). */
async function settled(words: Int32Array): Promise<void> {
  for (;;) {
    const v = Atomics.load(words, Ctl.Outcome);
    if (v > 0) return;
    const wait = Atomics.waitAsync(words, Ctl.Outcome, v);
    if (wait.async) await wait.value;
  }
}

function outcomeOf(board: SmpBoard, crash: Map<number, string>): SmpOutcome {
  const c = board.control;
  const hart = c.words[Ctl.Hart];
  switch (c.outcome) {
    case Outcome.Exit: return { kind: 'exit', hart, code: c.words[Ctl.Code] };
    case Outcome.Fault: return { kind: 'fault', hart, cause: c.words[Ctl.Code], pc: c.u64(Ctl.PcLo), tval: c.u64(Ctl.TvalLo) };
    case Outcome.Limit: return { kind: 'limit', hart };
    case Outcome.Timeout: return { kind: 'timeout' };
    default: return { kind: 'crashed', hart, message: crash.get(hart) ?? 'every hart thread ended without a result' };
  }
}
