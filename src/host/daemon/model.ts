// What the host daemon knows about its VMs, and the one interface its front ends (the
// REST API, later the dashboard) drive it through. The daemon core (host.ts) implements
// HostBackend over worker threads and the inventory; the API only translates HTTP.

import type { VmSpec } from '../../vmm/spec.js';
import type { NetworkSpec, NetworkView } from './networks.js';
import type { FirewallSpec } from '../../net/switch/index.js';

/** A VM as the daemon reports it. 'stopped': defined, no worker (never started, or the
 *  guest powered off, or stopped by the host); 'crashed': its worker died (crashReason);
 *  'incoming': waiting for its guest to arrive from another host (a migration). */
export type VmStatus = 'stopped' | 'starting' | 'running' | 'paused' | 'debug' | 'crashed' | 'incoming';

/** What the inventory persists for each VM: survives the daemon. */
export interface VmRecord {
  /** Stable, generated (a UUID); names can be reused after a delete, ids never. */
  id: string;
  /** Unique on the host; the spec's name. */
  name: string;
  spec: VmSpec;
  owner: string;
  labels: Record<string, string>;
  /** ISO 8601 times. */
  created: string;
  /** Last guest activity seen (console output, disk or network I/O). */
  lastActive?: string;
  /** Stopped by the daemon this long after creation; absent: never. */
  ttlSeconds?: number;
  /** With ttlSeconds: remove (not only stop) the VM when it expires. */
  removeOnExpiry?: boolean;
  /** A template: read-only, never started; clones are made from it. */
  template?: boolean;
  /** The template this VM was cloned from. */
  clonedFrom?: string;
}

export interface VmView extends VmRecord {
  status: VmStatus;
  crashReason?: string;
  /** Host CPU seconds the VM's worker has used (this run). */
  cpuSeconds: number;
  /** Guest instructions retired (this run). */
  instructions: number;
  /** A running VM's CPU lately, in shares of one host core: used, wanted (used plus what
   *  its limit withheld), the scheduler's allowance; and its steal time this run. */
  cpu?: { used: number; wanted: number; allowance: number; stolenSeconds: number };
}

export interface CreateRequest {
  /** Validated by parseVmSpec (vmm/spec.ts); a SpecError is a 400 naming each field. */
  spec: unknown;
  owner?: string;
  labels?: Record<string, string>;
  ttlSeconds?: number;
  removeOnExpiry?: boolean;
}

export interface PatchRequest {
  owner?: string;
  labels?: Record<string, string>;
  /** null clears the TTL. */
  ttlSeconds?: number | null;
}

export interface ListFilter {
  /** Default: only VMs with a worker (starting, running, paused, debug); all: every VM. */
  all?: boolean;
  status?: VmStatus;
  owner?: string;
  /** Every label given must match. */
  labels?: Record<string, string>;
  /** Only VMs with no guest activity for at least this many seconds. */
  idleSeconds?: number;
}

/** POST /vms/{vm}/migrate: move a running VM to another daemon. */
export interface MigrateRequest {
  /** The other daemon's API: unix:PATH, or http://HOST:PORT (with its bearer token). */
  target: string;
  token?: string;
  /** QEMU's downtime-limit, ms (default 300). */
  downtimeLimitMs?: number;
  /** Only predict (the dry run): the guest stays here, the target keeps nothing. */
  dryRun?: boolean;
}

/** A dry run's answer (vmm/migration/dry-run.ts), as the API gives it. */
export interface MigrationPrediction {
  vm: string;
  target: string;
  converges: boolean;
  /** Why not, when it would not converge. */
  reason?: string;
  expectedDowntimeMs: number;
  expectedTotalMs: number;
  rounds: number;
  /** The vCPU throttle auto-converge would reach, 0 to 1. */
  throttle: number;
  /** Bytes per second the guest dirties, and the link carries its pages. */
  dirtyRate: number;
  bandwidth: number;
  rttMs: number;
  restoreMs: number;
}

/** POST /migrations, sent by the source daemon to the target: make a VM that waits for
 *  this guest. `transport`: how the source reached this daemon, so how the guest's state
 *  will come (a Unix socket on the same machine, else TCP). */
export interface IncomingRequest {
  spec: unknown;
  owner?: string;
  labels?: Record<string, string>;
  transport: 'unix' | 'tcp';
  /** Disks the source copies along (by index in the spec, with their virtual size): the
   *  target makes an empty image of each for them to go into. */
  copyDisks?: { index: number; size: number }[];
}

export interface IncomingView {
  vm: VmView;
  /** Where the VM listens for the source (tcp:HOST:PORT or unix:PATH). */
  uri: string;
}

/** What a finished migration reports (query-migrate's figures). */
export interface MigrationReport {
  vm: string;
  target: string;
  totalMs: number;
  downtimeMs: number;
  setupMs: number;
  rounds: number;
  transferredBytes: number;
}

export type VmActionRequest =
  | { type: 'start' | 'stop' | 'pause' | 'resume' | 'reset' | 'powerdown' }
  | { type: 'snapshot' | 'restore'; name: string };

/** Lifecycle events with QMP's names, tagged with the VM; plus the daemon's own. */
export interface HostEvent {
  vm: { id: string; name: string };
  event: 'STOP' | 'RESUME' | 'RESET' | 'SHUTDOWN' | 'POWERDOWN' | 'CREATED' | 'DELETED' | 'CRASHED' | 'EXPIRED' | 'MIGRATION' | 'MIGRATED';
  data?: Record<string, unknown>;
  /** QMP's timestamp form. */
  timestamp: { seconds: number; microseconds: number };
}

export interface HostInfo {
  version: string;
  cpus: number;
  memoryBytes: number;
  vms: Record<VmStatus, number>;
}

export interface ImageView {
  name: string;
  kernelVersion: string;
  size: number;
  created: string;
}

/** One reader of a VM's serial console: output from now on, input to the guest. */
export interface ConsoleAttachment {
  onOutput(listener: (bytes: Uint8Array) => void): void;
  input(bytes: Uint8Array): void;
  detach(): void;
}

/** A refusal the client can act on: maps to an HTTP status with a JSON body. */
export class HostError extends Error {
  override name = 'HostError';

  constructor(
    readonly status: 400 | 401 | 404 | 409 | 413 | 422 | 500 | 502 | 503,
    readonly code: string,
    message: string,
    /** One line per bad field, for validation errors. */
    readonly problems?: string[],
  ) {
    super(message);
  }
}

/** Everything the daemon does for its front ends. VMs are named by name or id. */
export interface HostBackend {
  info(): HostInfo;
  list(filter: ListFilter): VmView[];
  get(vm: string): VmView;
  create(req: CreateRequest): Promise<VmView>;
  patch(vm: string, req: PatchRequest): VmView;
  /** A running VM only with force (it is stopped first). */
  remove(vm: string, opts: { force: boolean }): Promise<void>;
  action(vm: string, action: VmActionRequest): Promise<VmView>;
  /** Turns a stopped VM into a template. */
  makeTemplate(vm: string): Promise<VmView>;
  /** A new VM whose disks are qcow2 overlays on the template's. */
  clone(template: string, req: { name: string; owner?: string; labels?: Record<string, string> }): Promise<VmView>;
  /** Moves a running VM to another daemon; resolves once it runs there (and is gone
   *  here), rejects with it running on here. */
  migrate(vm: string, req: MigrateRequest): Promise<MigrationReport | MigrationPrediction>;
  /** The target's side: a VM waiting for the guest a source daemon sends. */
  acceptMigration(req: IncomingRequest): Promise<IncomingView>;
  images(): Promise<ImageView[]>;
  /** The virtual switches (rvisor network ...). */
  listNetworks(): NetworkView[];
  getNetwork(name: string): NetworkView;
  createNetwork(spec: NetworkSpec): Promise<NetworkView>;
  /** Refused while ports are attached. */
  removeNetwork(name: string): void;
  /** Replaces the firewall of every VM port on the network; null removes it. */
  setNetworkFirewall(name: string, firewall: FirewallSpec | null): NetworkView;
  /** Subscribes to every VM's events; returns the unsubscribe function. */
  events(listener: (e: HostEvent) => void): () => void;
  console(vm: string): ConsoleAttachment;
  /** Prometheus text exposition format. */
  metrics(): string;
}
