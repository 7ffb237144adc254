// The messages between the daemon's main thread and a VM's worker thread. The main
// thread never runs guest code: it posts typed actions and reads typed events, so a VM
// that spins or crashes cannot stall the API or the other VMs.

import type { VmEvent } from '../../vmm/control.js';
import type { VmSpec } from '../../vmm/spec.js';
import type { VmAction, VmExit } from '../../vmm/vm.js';
import type { PortLinkEnd } from '../net/port-link.js';

/** workerData of a VM worker. */
export interface WorkerStart {
  spec: VmSpec;
  /** Where this VM's snapshots live (<state>/vms/<id>/snapshots). */
  snapshotDir: string;
  /** The VM's QMP socket (<state>/vms/<id>/qmp.sock). */
  qmpSocket: string;
  /** Start from this snapshot. */
  loadvm?: string;
  /** Tests only: honour the label rvisor.test/crash-after-ms (a worker broken on purpose). */
  testHooks: boolean;
  /** Per NIC of the spec: its wire to a daemon switch (network 'switch'), else null. */
  switchLinks: (PortLinkEnd | null)[];
  /** Wait for the guest from a migration source, listening here (tcp:HOST:0 takes any
   *  free port); the worker says where with an 'incoming' message. */
  incoming?: string;
}

export type ToWorker =
  | { type: 'action'; id: number; action: VmAction }
  | { type: 'stats'; id: number }
  /** The scheduler's allowance: the share of one host core the VM may use now. */
  | { type: 'cpu'; allowance: number }
  /** Migrate the VM to a destination listening at `uri`; the reply's result is the
   *  figures (MigrationStats) once the guest runs there. */
  | { type: 'migrate'; id: number; uri: string; downtimeLimitMs?: number; blk?: boolean }
  /** A dry run against a destination at `uri`; the reply's result is the prediction
   *  (MigrationController.predict's, in QMP's names). */
  | { type: 'predict'; id: number; uri: string; downtimeLimitMs?: number };

export interface VmStats {
  /** Wall milliseconds the VM's harts ran, and were withheld by its CPU limit. */
  cpu: { busyMs: number; stolenMs: number };
  /** Per vCPU: instructions retired and steal time reported to it (SBI STA). */
  harts: { instructions: number; stealNs: number }[];
  /** Translator counters (undefined with exec interp). */
  translator?: Record<string, number>;
  /** Guest RAM pages written at least once (touched). */
  ramTouchedBytes: number;
  disk: { readBytes: number; writeBytes: number; requests: number };
  net: { rxBytes: number; txBytes: number; rxFrames: number; txFrames: number };
}

export type FromWorker =
  /** The VM is built and running (or paused); the boot files were read. */
  | { type: 'started' }
  | { type: 'event'; event: VmEvent }
  | { type: 'console'; bytes: Uint8Array }
  | { type: 'reply'; id: number; result?: unknown; error?: { message: string; illegal: boolean } }
  /** An incoming VM listens for its source here. */
  | { type: 'incoming'; uri: string }
  | { type: 'stats'; id: number; stats: VmStats }
  /** The run ended; the worker exits after this. */
  | { type: 'exit'; exit: VmExit }
  /** The VM could not start (bad image, disk): the user's to fix. */
  | { type: 'failed'; message: string };
