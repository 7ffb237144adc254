// QEMU 6.0+'s job-based snapshot-save / snapshot-load. QEMU runs them as background jobs
// that report through JOB_STATUS_CHANGE events and stay in query-jobs (concluded, with
// any error) until job-dismiss, because the snapshot commands are JOB_MANUAL_DISMISS.
// Here the work is VmControl's promise; the job walks the same states around it, so
// clients that wait for "concluded" and then read the error work unchanged.
// snapshot-save/-load's `vmstate` and `devices` arguments are checked and then ignored:
// rvisor snapshots the whole VM (RAM, harts, devices, disks) under `tag` in its own
// store, so there is no choice of block nodes to make.

import type { VmEvent } from '../control.js';
import { errorText } from '../error-text.js';

export type JobStatus = 'created' | 'running' | 'waiting' | 'pending' | 'aborting' | 'concluded' | 'null';

export interface JobInfo {
  id: string;
  type: string;
  status: JobStatus;
  'current-progress': number;
  'total-progress': number;
  error?: string;
}

/** The work's outcome as a promise, whether it returned one, threw, or returned a value:
 *  a synchronous throw must become the job's error, not an exception in a timer
 *  callback (which would end the VMM). */
function settle(work: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => resolve(work()));
}

export class JobTable {
  private readonly jobs = new Map<string, JobInfo>();

  constructor(private readonly emit: (e: VmEvent) => void) {}

  private set(job: JobInfo, status: JobStatus): void {
    job.status = status;
    this.emit({ event: 'JOB_STATUS_CHANGE', data: { id: job.id, status } });
  }

  /** Starts a job; throws (a GenericError for the caller) when the id is taken. */
  start(id: string, type: string, work: () => Promise<void>): void {
    if (this.jobs.has(id)) throw new Error(`Job ID '${id}' already in use`);
    const job: JobInfo = { id, type, status: 'created', 'current-progress': 0, 'total-progress': 1 };
    this.jobs.set(id, job);
    // The command's {} reply goes out first, then the job's events, as in QEMU's
    // documented exchange (setImmediate: the reply is written after some awaits).
    setImmediate(() => {
      this.set(job, 'created');
      this.set(job, 'running');
      // QEMU's state machine: a job that succeeds waits for its transaction, is
      // finalised (pending) and concludes; one that fails goes through aborting.
      settle(work).then(
        () => {
          job['current-progress'] = 1;
          for (const s of ['waiting', 'pending', 'concluded'] as const) this.set(job, s);
        },
        (e: unknown) => {
          job.error = errorText(e);
          for (const s of ['aborting', 'concluded'] as const) this.set(job, s);
        },
      );
    });
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({ ...j }));
  }

  dismiss(id: string): void {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`Job not found`);
    if (job.status !== 'concluded') throw new Error(`Job '${id}' in state '${job.status}' cannot accept command verb 'dismiss'`);
    this.jobs.delete(id);
    this.set(job, 'null');
  }
}
