// The daemon's hold on one running VM: its worker thread, the requests in flight to it,
// its console readers, and the status its events imply. When the worker ends, however
// it ends (the guest's exit, a start that failed, a crash), `ended` says how; the worker
// dying never throws on the main thread.

import { Worker } from 'node:worker_threads';
import type { VmEvent } from '../../vmm/control.js';
import type { MigrationStats } from '../../vmm/migration/engine.js';
import type { VmAction, VmExit } from '../../vmm/vm.js';
import { HostError, type VmStatus } from './model.js';
import type { FromWorker, ToWorker, VmStats, WorkerStart } from './worker-protocol.js';

export type HandleEnd =
  | { kind: 'exit'; exit: VmExit }
  | { kind: 'failed'; message: string }
  | { kind: 'crashed'; reason: string };

export interface HandleHooks {
  event(e: VmEvent): void;
  console(bytes: Uint8Array): void;
}

const WORKER_URL = new URL('./vm-worker.js', import.meta.url);

/** The messages that expect an answer, before they get their id. */
type WorkerRequest =
  | { type: 'action'; action: VmAction }
  | { type: 'migrate' | 'predict'; uri: string; downtimeLimitMs?: number; blk?: boolean }
  | { type: 'stats' };

export class VmHandle {
  status: VmStatus = 'starting';
  /** The last stats the worker sent (metrics read these, never wait for a worker). */
  stats: VmStats | undefined;
  /** CPU lately, as shares of one core: used (harts running), wanted (used plus what its
   *  limit withheld), and the scheduler's allowance. */
  readonly cpu = { used: 0, wanted: 0, allowance: 1 };
  private lastCpu: { at: number; busyMs: number; stolenMs: number } | undefined;
  readonly ended: Promise<HandleEnd>;
  /** Resolves when the VM runs (or is paused); rejects with a HostError if it cannot start. */
  readonly started: Promise<void>;
  /** An incoming VM: where it listens for its source. */
  readonly incoming: Promise<string>;
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly readers = new Set<(bytes: Uint8Array) => void>();
  private end: HandleEnd | undefined;
  private killed = false;

  constructor(start: WorkerStart, private readonly hooks: HandleHooks) {
    this.worker = new Worker(WORKER_URL, { workerData: start, transferList: start.switchLinks.flatMap((l) => (l ? [l.port] : [])) });
    let started!: () => void, failed!: (e: Error) => void;
    this.started = new Promise((resolve, reject) => { started = resolve; failed = reject; });
    // Nobody may be waiting for a start that fails (the daemon's restart of a VM).
    this.started.catch(() => {});
    let listening!: (uri: string) => void, notListening!: (e: Error) => void;
    this.incoming = new Promise((resolve, reject) => { listening = resolve; notListening = reject; });
    this.incoming.catch(() => {});
    const waitsForGuest = start.incoming !== undefined;
    this.ended = new Promise((resolve) => {
      const finish = (end: HandleEnd) => {
        if (this.end) return;
        this.end = end;
        this.status = end.kind === 'crashed' ? 'crashed' : 'stopped';
        const why = new HostError(end.kind === 'failed' ? 422 : 500, end.kind === 'failed' ? 'start_failed' : 'crashed', end.kind === 'exit' ? 'the VM ended while starting' : end.kind === 'failed' ? end.message : `the VM crashed: ${end.reason}`);
        failed(why);
        notListening(why);
        for (const p of this.pending.values()) p.reject(new HostError(409, 'vm_ended', 'the VM ended before it answered'));
        this.pending.clear();
        // A worker that posted its end has nothing left to do; one that crashed is gone.
        void this.worker.terminate();
        resolve(end);
      };
      this.worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'started':
            if (this.status === 'starting') this.status = waitsForGuest ? 'incoming' : 'running';
            started();
            return;
          case 'incoming':
            listening(m.uri);
            return;
          case 'event':
            this.track(m.event);
            this.hooks.event(m.event);
            return;
          case 'console':
            this.hooks.console(m.bytes);
            for (const r of [...this.readers]) r(m.bytes);
            return;
          case 'reply': {
            const p = this.pending.get(m.id);
            this.pending.delete(m.id);
            if (!m.error) p?.resolve(m.result);
            else p?.reject(new HostError(m.error.illegal ? 409 : 422, m.error.illegal ? 'illegal_state' : 'action_failed', m.error.message));
            return;
          }
          case 'stats':
            this.stats = m.stats;
            this.sampleCpu(m.stats);
            this.pending.get(m.id)?.resolve(m.stats);
            this.pending.delete(m.id);
            return;
          case 'exit': return finish({ kind: 'exit', exit: m.exit });
          case 'failed': return finish({ kind: 'failed', message: m.message });
        }
      });
      this.worker.on('error', (e) => finish({ kind: 'crashed', reason: e.message }));
      this.worker.on('exit', (code) => finish(this.killed ? { kind: 'exit', exit: { kind: 'quit' } } : { kind: 'crashed', reason: `its worker exited with status ${code}` }));
    });
  }

  private track(e: VmEvent): void {
    // A guest arriving by migration is paused until it runs: still 'incoming'.
    if (e.event === 'STOP' && this.status !== 'incoming') this.status = 'paused';
    if (e.event === 'RESUME') this.status = 'running';
  }

  private sampleCpu(s: VmStats): void {
    const now = performance.now(), last = this.lastCpu;
    this.lastCpu = { at: now, ...s.cpu };
    if (!last || now - last.at < 50) return;
    const dt = now - last.at;
    // A reset's new board restarts its counters: a negative step is no step.
    this.cpu.used = Math.max(0, Math.min(1, (s.cpu.busyMs - last.busyMs) / dt));
    this.cpu.wanted = Math.max(0, Math.min(1, (s.cpu.busyMs + s.cpu.stolenMs - last.busyMs - last.stolenMs) / dt));
  }

  /** The scheduler's allowance; sent only when it changes. */
  setAllowance(fraction: number): void {
    if (this.end || Math.abs(fraction - this.cpu.allowance) < 0.01) return;
    this.cpu.allowance = fraction;
    this.worker.postMessage({ type: 'cpu', allowance: fraction } satisfies ToWorker);
  }

  /** Host CPU seconds the worker has spent running (its event loop's active time). */
  get cpuSeconds(): number {
    return this.end ? 0 : this.worker.performance.eventLoopUtilization().active / 1000;
  }

  private request<T>(m: WorkerRequest): Promise<T> {
    if (this.end) return Promise.reject(new HostError(409, 'not_running', 'the VM is not running'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...m, id } as ToWorker);
    });
  }

  action(action: VmAction): Promise<void> {
    return this.request({ type: 'action', action });
  }

  /** Migrates the VM to a destination listening at `uri`; resolves with the figures. */
  migrate(uri: string, downtimeLimitMs?: number, blk = false): Promise<MigrationStats> {
    return this.request({ type: 'migrate', uri, downtimeLimitMs, blk });
  }

  /** A dry run against a destination listening at `uri`: the prediction, in QMP's names. */
  predict(uri: string, downtimeLimitMs?: number): Promise<Record<string, unknown>> {
    return this.request({ type: 'predict', uri, downtimeLimitMs });
  }

  refreshStats(): Promise<VmStats> {
    return this.request({ type: 'stats' });
  }

  input(bytes: Uint8Array): void {
    if (!this.end) void this.action({ type: 'console-input', bytes }).catch(() => {});
  }

  read(listener: (bytes: Uint8Array) => void): () => void {
    this.readers.add(listener);
    return () => this.readers.delete(listener);
  }

  /** Ends the worker at once (the daemon shutting down, a stop that was not obeyed). */
  kill(): Promise<HandleEnd> {
    this.killed = true;
    void this.worker.terminate();
    return this.ended;
  }
}
