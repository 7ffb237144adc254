// What the monitors (QMP, HMP) need from a running machine. Kept small and free of
// VirtMachine types so that the protocol servers are testable with fakes and the machine
// can change underneath them.

/** QEMU's run states that rvisor has; 'debug' is a pause by the GDB stub. */
/** 'inmigrate': waiting for an incoming migration's state (QEMU's name). */
export type RunState = 'running' | 'paused' | 'debug' | 'shutdown' | 'inmigrate';

/** QMP's event names for the life cycle of the VM (QEMU's spelling). */
export type VmEventName = 'STOP' | 'RESUME' | 'SHUTDOWN' | 'RESET' | 'POWERDOWN';

export interface VmEvent {
  event: VmEventName | 'JOB_STATUS_CHANGE' | 'MIGRATION';
  /** QEMU's payload, e.g. SHUTDOWN {guest: false, reason: 'host-qmp-quit'}. */
  data?: Record<string, unknown>;
}

export interface CpuInfo {
  /** Position in the machine's hart array (QEMU's cpu-index). */
  index: number;
  hartId: number;
  pc: bigint;
  /** 0 = U, 1 = S, 3 = M. */
  priv: number;
  /** Waiting in WFI or stopped by SBI HSM. */
  halted: boolean;
}

export interface BlockInfo {
  /** Device name as QEMU shows it (e.g. virtio0). */
  device: string;
  file: string;
  format: string;
  readOnly: boolean;
}

export interface NamedValue {
  name: string;
  value: bigint;
}

/** The translator's counters (issue 5), named as they are shown. */
export type TranslatorStats = Record<string, number>;

export interface VcpuStats {
  instructions: number;
  stealNs: number;
}

/** Live migration, as QMP drives it (migrate, migrate_cancel, query-migrate,
 *  migrate-set-parameters and the MIGRATION event); the host implements it. */
export interface MigrationControl {
  /** Starts an outgoing migration to a QEMU URI (tcp:HOST:PORT, unix:PATH); throws when
   *  one is already running or the URI is bad. */
  start(uri: string, o?: { blk?: boolean }): void;
  cancel(): void;
  /** query-migrate's answer, in QEMU's field names. */
  query(): Record<string, unknown>;
  setParameters(p: { downtimeLimitMs?: number; maxBandwidth?: number }): void;
  /** Waits for an incoming migration at `uri` (QMP migrate-incoming after -incoming
   *  defer); throws when the VM waits for none or already listens. */
  listen(uri: string): void;
  /** A dry run against a destination: the prediction, in QMP's style of names. */
  predict(uri: string, seconds: number): Promise<Record<string, unknown>>;
  onEvent(listener: (e: VmEvent) => void): () => void;
}

export interface VmControl {
  status(): RunState;
  /** Stops every hart at the next instruction boundary; emits STOP when it was running. */
  pause(): void;
  /** Emits RESUME when it was paused. */
  resume(): void;
  /** The ACPI-button equivalent: asks the guest to power off (emits POWERDOWN). */
  powerdown(): void;
  /** Resets the machine (emits RESET). */
  reset(): void;
  /** Ends the VMM (emits SHUTDOWN {guest: false, reason: 'host-qmp-quit'}). */
  quit(): void;
  cpus(): CpuInfo[];
  blocks(): BlockInfo[];
  /** Register dump for `info registers` (pc, x1..x31, key CSRs) of one hart. */
  registers(cpu: number): NamedValue[];
  /** Whole-VM snapshot under a tag (RAM, harts, devices); rejects with a message. */
  saveSnapshot(tag: string): Promise<void>;
  loadSnapshot(tag: string): Promise<void>;
  /** The translator's counters; undefined when the harts run in the interpreter only. */
  translatorStats(): TranslatorStats | undefined;
  /** Per vCPU: guest instructions retired and steal time (SBI STA), for query-stats. */
  vcpuStats?(): VcpuStats[];
  /** Present when the host can migrate this VM. */
  migration?: MigrationControl;
  /** Subscribes to life-cycle events; returns the unsubscribe function. */
  onEvent(listener: (e: VmEvent) => void): () => void;
}
