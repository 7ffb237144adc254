// A TEST DOUBLE of the daemon core: HostBackend over a Map of VmView, with the state
// rules the real core has (starting a running VM is a 409, a running VM is removed only
// with force, templates never start...), events, and console attachments the tests can
// write output to and read input from. No workers, no guests.

import { randomUUID } from 'node:crypto';
import { parseVmSpec } from '../../src/vmm/spec.js';
import type { NetworkSpec, NetworkView } from '../../src/host/daemon/networks.js';
import type { FirewallSpec } from '../../src/net/switch/index.js';
import {
  HostError, type ConsoleAttachment, type CreateRequest, type HostBackend, type HostEvent, type HostInfo, type ImageView,
  type IncomingRequest, type IncomingView, type ListFilter, type MigrateRequest, type MigrationPrediction, type MigrationReport, type PatchRequest, type VmActionRequest,
  type VmStatus, type VmView,
} from '../../src/host/daemon/model.js';

const WITH_WORKER: VmStatus[] = ['starting', 'running', 'paused', 'debug', 'incoming'];

/** Which statuses each action starts from, where it leads and the event it sends. */
const MOVES: Record<VmActionRequest['type'], { from: VmStatus[]; to?: VmStatus; event?: HostEvent['event'] }> = {
  start: { from: ['stopped', 'crashed'], to: 'running', event: 'RESUME' },
  stop: { from: ['running', 'paused', 'debug'], to: 'stopped', event: 'SHUTDOWN' },
  pause: { from: ['running'], to: 'paused', event: 'STOP' },
  resume: { from: ['paused'], to: 'running', event: 'RESUME' },
  reset: { from: ['running', 'paused'], event: 'RESET' },
  powerdown: { from: ['running'], event: 'POWERDOWN' },
  snapshot: { from: ['running', 'paused', 'stopped'] },
  restore: { from: ['running', 'paused', 'stopped'] },
};

class Attachment implements ConsoleAttachment {
  readonly listeners: ((bytes: Uint8Array) => void)[] = [];
  detached = false;

  constructor(private readonly inputs: Uint8Array[], private readonly gone: (a: Attachment) => void) {}

  onOutput(listener: (bytes: Uint8Array) => void): void {
    this.listeners.push(listener);
  }

  input(bytes: Uint8Array): void {
    this.inputs.push(bytes);
  }

  detach(): void {
    this.detached = true;
    this.gone(this);
  }
}

export class FakeHost implements HostBackend {
  readonly vms = new Map<string, VmView>();
  readonly snapshots = new Map<string, Set<string>>();
  readonly attachments = new Map<string, Set<Attachment>>();
  /** Console input, per VM id, in the order received. */
  readonly inputs = new Map<string, Uint8Array[]>();
  private readonly listeners = new Set<(e: HostEvent) => void>();
  /** Set to make info() fail as a bug in the core would (not a HostError). */
  broken = false;

  info(): HostInfo {
    if (this.broken) throw new TypeError('the double was told to break');
    const vms = { stopped: 0, starting: 0, running: 0, paused: 0, debug: 0, crashed: 0, incoming: 0 };
    for (const vm of this.vms.values()) vms[vm.status]++;
    return { version: '0.1.0-test', cpus: 2, memoryBytes: 8 << 30, vms };
  }

  list(f: ListFilter): VmView[] {
    const now = Date.now();
    return [...this.vms.values()].filter((vm) =>
      (f.all || f.status !== undefined || WITH_WORKER.includes(vm.status))
      && (f.status === undefined || vm.status === f.status)
      && (f.owner === undefined || vm.owner === f.owner)
      && Object.entries(f.labels ?? {}).every(([k, v]) => vm.labels[k] === v)
      && (f.idleSeconds === undefined || now - Date.parse(vm.lastActive ?? vm.created) >= f.idleSeconds * 1000));
  }

  get(name: string): VmView {
    const vm = [...this.vms.values()].find((v) => v.name === name || v.id === name);
    if (!vm) throw new HostError(404, 'no-such-vm', `no VM named ${name}`);
    return vm;
  }

  private add(name: string, fields: Omit<VmView, 'id' | 'name' | 'created' | 'status' | 'cpuSeconds' | 'instructions'>): VmView {
    if ([...this.vms.values()].some((v) => v.name === name)) throw new HostError(409, 'name-taken', `a VM named ${name} exists`);
    const vm: VmView = { id: randomUUID(), name, created: new Date().toISOString(), status: 'stopped', cpuSeconds: 0, instructions: 0, ...fields };
    this.vms.set(vm.id, vm);
    this.emit(vm, 'CREATED');
    return vm;
  }

  async create(req: CreateRequest): Promise<VmView> {
    const spec = parseVmSpec(req.spec); // a SpecError goes to the API as the real core's would
    if (spec.name === undefined) throw new HostError(400, 'name-required', 'the spec needs a name', ['spec.name: missing']);
    return this.add(spec.name, { spec, owner: req.owner ?? 'nobody', labels: req.labels ?? {}, ttlSeconds: req.ttlSeconds, removeOnExpiry: req.removeOnExpiry });
  }

  patch(name: string, req: PatchRequest): VmView {
    const vm = this.get(name);
    if (req.owner !== undefined) vm.owner = req.owner;
    if (req.labels !== undefined) vm.labels = req.labels;
    if (req.ttlSeconds === null) delete vm.ttlSeconds;
    else if (req.ttlSeconds !== undefined) vm.ttlSeconds = req.ttlSeconds;
    return vm;
  }

  async remove(name: string, opts: { force: boolean }): Promise<void> {
    const vm = this.get(name);
    if (WITH_WORKER.includes(vm.status) && !opts.force) throw new HostError(409, 'vm-running', `${vm.name} is ${vm.status}: stop it or force`);
    this.vms.delete(vm.id);
    this.emit(vm, 'DELETED');
  }

  async action(name: string, action: VmActionRequest): Promise<VmView> {
    const vm = this.get(name);
    const move = MOVES[action.type];
    if (vm.template) throw new HostError(409, 'is-template', `${vm.name} is a template`);
    if (!move.from.includes(vm.status)) throw new HostError(409, 'bad-state', `${vm.name} is ${vm.status}: cannot ${action.type}`);
    if (action.type === 'snapshot') this.snapshotsOf(vm).add(action.name);
    if (action.type === 'restore' && !this.snapshotsOf(vm).has(action.name)) throw new HostError(404, 'no-such-snapshot', `${vm.name} has no snapshot ${action.name}`);
    if (move.to) vm.status = move.to;
    if (move.event) this.emit(vm, move.event);
    return vm;
  }

  private snapshotsOf(vm: VmView): Set<string> {
    if (!this.snapshots.has(vm.id)) this.snapshots.set(vm.id, new Set());
    return this.snapshots.get(vm.id)!;
  }

  async makeTemplate(name: string): Promise<VmView> {
    const vm = this.get(name);
    if (vm.status !== 'stopped') throw new HostError(409, 'bad-state', `${vm.name} is ${vm.status}: stop it first`);
    vm.template = true;
    return vm;
  }

  async clone(template: string, req: { name: string; owner?: string; labels?: Record<string, string> }): Promise<VmView> {
    const source = this.get(template);
    if (!source.template) throw new HostError(409, 'not-a-template', `${source.name} is not a template`);
    return this.add(req.name, { spec: { ...source.spec, name: req.name }, owner: req.owner ?? source.owner, labels: req.labels ?? source.labels, clonedFrom: source.id });
  }

  /** Migrations asked of this host, in order. */
  readonly migrations: MigrateRequest[] = [];

  async migrate(name: string, req: MigrateRequest): Promise<MigrationReport | MigrationPrediction> {
    const vm = this.get(name);
    if (vm.status !== 'running') throw new HostError(409, 'bad-state', `${vm.name} is ${vm.status}`);
    this.migrations.push(req);
    if (req.dryRun) {
      return { vm: vm.name, target: req.target, converges: true, expectedDowntimeMs: 5, expectedTotalMs: 400, rounds: 1, throttle: 0, dirtyRate: 1e6, bandwidth: 2e8, rttMs: 0.3, restoreMs: 1 };
    }
    this.vms.delete(vm.id);
    return { vm: vm.name, target: req.target, totalMs: 1, downtimeMs: 1, setupMs: 0, rounds: 1, transferredBytes: 4096 };
  }

  async acceptMigration(req: IncomingRequest): Promise<IncomingView> {
    const spec = req.spec as { name: string };
    const vm = this.add(spec.name, { spec: req.spec as VmView['spec'], owner: req.owner ?? 'someone', labels: req.labels ?? {} });
    vm.status = 'incoming';
    return { vm, uri: 'tcp:127.0.0.1:4444' };
  }

  readonly networks = new Map<string, NetworkView>();

  listNetworks(): NetworkView[] {
    return [...this.networks.values()];
  }

  getNetwork(name: string): NetworkView {
    const n = this.networks.get(name);
    if (!n) throw new HostError(404, 'no_network', `no network named ${name}`);
    return n;
  }

  async createNetwork(spec: NetworkSpec): Promise<NetworkView> {
    if (this.networks.has(spec.name)) throw new HostError(409, 'name_taken', `a network named ${spec.name} exists already`);
    const n: NetworkView = { name: spec.name, socket: `/state/networks/${spec.name}.sock`, ports: [], macTable: [], stats: { macMoves: 0, macEvictions: 0, floods: 0 } };
    this.networks.set(spec.name, n);
    return n;
  }

  setNetworkFirewall(name: string, firewall: FirewallSpec | null): NetworkView {
    const n = this.getNetwork(name);
    if (firewall) n.firewall = firewall;
    else delete n.firewall;
    return n;
  }

  removeNetwork(name: string): void {
    if (this.getNetwork(name).ports.length) throw new HostError(409, 'in_use', `network ${name} has ports attached`);
    this.networks.delete(name);
  }

  async images(): Promise<ImageView[]> {
    return [{ name: 'debian', kernelVersion: '6.12.0-riscv64', size: 1 << 20, created: '2025-01-01T00:00:00.000Z' }];
  }

  events(listener: (e: HostEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  emit(vm: VmView, event: HostEvent['event'], data?: Record<string, unknown>): void {
    const now = Date.now();
    const e: HostEvent = { vm: { id: vm.id, name: vm.name }, event, timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 } };
    if (data) e.data = data;
    for (const l of this.listeners) l(e);
  }

  console(name: string): ConsoleAttachment {
    const vm = this.get(name);
    if (!WITH_WORKER.includes(vm.status)) throw new HostError(409, 'bad-state', `${vm.name} is ${vm.status}: no console`);
    if (!this.inputs.has(vm.id)) this.inputs.set(vm.id, []);
    const set = this.attachments.get(vm.id) ?? new Set();
    this.attachments.set(vm.id, set);
    const a = new Attachment(this.inputs.get(vm.id)!, (gone) => set.delete(gone));
    set.add(a);
    return a;
  }

  /** The guest writes to its console: every attached reader gets it. */
  output(name: string, bytes: Uint8Array): void {
    for (const a of this.attachments.get(this.get(name).id) ?? []) for (const l of a.listeners) l(bytes);
  }

  metrics(): string {
    const counts = this.info().vms;
    return ['# HELP rvisor_vms VMs by status.', '# TYPE rvisor_vms gauge',
      ...Object.entries(counts).map(([s, n]) => `rvisor_vms{status="${s}"} ${n}`)].join('\n') + '\n';
  }
}
