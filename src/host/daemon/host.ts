// The host daemon's core: the inventory of VMs (which survives the daemon) and, for each
// running VM, a worker thread (VmHandle). It implements HostBackend for the REST API;
// every refusal is a HostError that names the problem and changes nothing.

import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, totalmem, userInfo } from 'node:os';
import { join } from 'node:path';
import type { VmEvent } from '../../vmm/control.js';
import { cpuCap, parseVmSpec, SpecError, type VmSpec } from '../../vmm/spec.js';
import { timestamp } from '../../vmm/qmp/server.js';
import { ImageError } from '../image/errors.js';
import { listImages } from '../image/store.js';
import { withRootDiskSpec } from '../vm/root-disk.js';
import { VmError } from '../../vmm/vm-services.js';
import { isNbdUri, parseNbdUri } from '../../storage/nbd/uri.js';
import { cloneSpec } from './clone.js';
import type { Inventory } from './inventory.js';
import { renderMetrics } from './metrics.js';
import { fairShares } from './scheduler.js';
import {
  type ConsoleAttachment, type CreateRequest, HostError, type HostBackend, type HostEvent, type HostInfo, type ImageView,
  type IncomingRequest, type IncomingView, type ListFilter, type MigrateRequest, type MigrationPrediction, type MigrationReport, type PatchRequest, type VmActionRequest,
  type VmRecord, type VmStatus, type VmView,
} from './model.js';
import { VmHandle } from './vm-handle.js';
import { copyTargets, localCopies, predictionOf } from './migration.js';
import { PeerDaemon } from './peer.js';
import type { MigrationStats } from '../../vmm/migration/engine.js';
import type { NetworkSpec, NetworkView, Networks } from './networks.js';
import type { FirewallSpec } from '../../net/switch/index.js';
import type { VmStats } from './worker-protocol.js';

export interface HostOptions {
  inventory: Inventory;
  /** The virtual switches VMs' NICs may name (network 'switch'). */
  networks: Networks;
  /** The state directory: per-VM overlays and snapshots go under <state>/vms/<id>/. */
  stateDir: string;
  version: string;
  /** Honour test hooks (the label rvisor.test/crash-after-ms). */
  testHooks?: boolean;
  /** How often TTLs, activity and CPU shares are looked at (default 1 s). */
  tickMs?: number;
  /** Host cores the scheduler hands out (default: all the host has). */
  cpus?: number;
  /** Where VMs arriving by migration over TCP listen (default 127.0.0.1; the API's TCP
   *  address when it has one). */
  migrationHost?: string;
  log?: (line: string) => void;
}

const WITH_WORKER: readonly VmStatus[] = ['starting', 'running', 'paused', 'debug', 'incoming'];
/** Xen's default credit-scheduler weight. */
const DEFAULT_SHARES = 256;

/** A fresh locally administered address in QEMU's 52:54:00 range. */
export function randomMac(): string {
  return ['52', '54', '00', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export class Host implements HostBackend {
  private readonly handles = new Map<string, VmHandle>();
  /** Why a VM's last run crashed, by id (until it is started again). */
  private readonly crashes = new Map<string, string>();
  private readonly listeners = new Set<(e: HostEvent) => void>();
  private readonly timer: NodeJS.Timeout;
  private readonly inv: Inventory;
  private readonly log: (line: string) => void;

  constructor(private readonly o: HostOptions) {
    this.inv = o.inventory;
    this.log = o.log ?? ((line) => process.stderr.write(`rvisor serve: ${line}\n`));
    this.timer = setInterval(() => this.tick(), o.tickMs ?? 1000);
    this.timer.unref();
  }

  private record(vm: string): VmRecord {
    const r = this.inv.get(vm);
    if (!r) throw new HostError(404, 'no_such_vm', `no VM ${JSON.stringify(vm)}`);
    return r;
  }

  private status(id: string): VmStatus {
    const h = this.handles.get(id);
    if (h) return h.status;
    return this.crashes.has(id) ? 'crashed' : 'stopped';
  }

  private view(r: VmRecord): VmView {
    const h = this.handles.get(r.id);
    const crashReason = this.crashes.get(r.id);
    return {
      ...r, status: this.status(r.id), ...(crashReason !== undefined && { crashReason }),
      cpuSeconds: h?.cpuSeconds ?? 0, instructions: (h?.stats?.harts ?? []).reduce((n, x) => n + x.instructions, 0),
      ...(h && { cpu: { ...h.cpu, stolenSeconds: (h.stats?.cpu.stolenMs ?? 0) / 1000 } }),
    };
  }

  private emit(r: { id: string; name: string }, event: HostEvent['event'], data?: Record<string, unknown>): void {
    const e: HostEvent = { vm: { id: r.id, name: r.name }, event, ...(data && { data }), timestamp: timestamp() };
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.log(`an event listener failed: ${(err as Error).message}`);
      }
    }
  }

  info(): HostInfo {
    const vms: Record<VmStatus, number> = { stopped: 0, starting: 0, running: 0, paused: 0, debug: 0, crashed: 0, incoming: 0 };
    for (const r of this.inv.list()) vms[this.status(r.id)]++;
    return { version: this.o.version, cpus: availableParallelism(), memoryBytes: totalmem(), vms };
  }

  list(f: ListFilter): VmView[] {
    const now = Date.now();
    return this.inv.list().map((r) => this.view(r)).filter((v) =>
      (f.all || f.status !== undefined || f.idleSeconds !== undefined || WITH_WORKER.includes(v.status))
      && (f.status === undefined || v.status === f.status)
      && (f.owner === undefined || v.owner === f.owner)
      && Object.entries(f.labels ?? {}).every(([k, val]) => v.labels[k] === val)
      && (f.idleSeconds === undefined || now - Date.parse(v.lastActive ?? v.created) >= f.idleSeconds * 1000));
  }

  get(vm: string): VmView {
    return this.view(this.record(vm));
  }

  async create(req: CreateRequest): Promise<VmView> {
    return this.view(await this.define(req));
  }

  /** A new VM's record from a spec that is checked here (name free, files present,
   *  networks known). Every VM of the host gets its own MAC and machine identity unless
   *  the spec names them (a migrated VM's spec does: it keeps its own). */
  private async define(req: CreateRequest, id: string = randomUUID()): Promise<VmRecord> {
    let spec: VmSpec;
    try {
      spec = parseVmSpec(req.spec);
    } catch (e) {
      if (e instanceof SpecError) throw new HostError(400, 'bad_spec', e.message, e.problems);
      throw e;
    }
    if (spec.name === undefined) throw new HostError(400, 'bad_spec', 'a VM needs a name', ['spec: missing field \'name\'']);
    const name = spec.name;
    if (this.inv.byName(name)) throw new HostError(409, 'name_taken', `a VM named ${name} exists already`);
    await this.checkFiles(spec);
    this.o.networks.check(spec.nics);
    const image = spec.boot.image !== undefined ? (await listImages()).find((i) => i.name === spec.boot.image) : undefined;
    if (image?.rootDisk) {
      mkdirSync(this.vmDir(id), { recursive: true, mode: 0o700 });
      try {
        spec = await withRootDiskSpec(spec, image, join(this.vmDir(id), 'root.qcow2'));
      } catch (e) {
        rmSync(this.vmDir(id), { recursive: true, force: true });
        if (e instanceof VmError || e instanceof ImageError) throw new HostError(422, 'missing_file', e.message);
        throw e;
      }
    }
    spec.nics = spec.nics.map((n) => ({ ...n, mac: n.mac ?? randomMac() }));
    spec.hostname ??= hostnameOf(name);
    spec.machineId ??= randomBytes(16).toString('hex');
    const now = new Date().toISOString();
    const record = this.inv.add({
      id, name, spec, owner: req.owner ?? userInfo().username, labels: { ...spec.labels, ...req.labels },
      created: now, lastActive: now,
      ...(req.ttlSeconds !== undefined && { ttlSeconds: req.ttlSeconds }),
      ...(req.removeOnExpiry !== undefined && { removeOnExpiry: req.removeOnExpiry }),
    });
    this.emit(record, 'CREATED');
    return record;
  }

  /**
   * Moves a running VM to another daemon: the target defines a VM from this one's spec
   * that waits for the guest, the guest migrates (pre-copy, over TCP or the target's
   * Unix socket), and once it runs there this daemon lets go of it. Any failure leaves
   * it running here, and the target's waiting VM is removed.
   */
  async migrate(vm: string, req: MigrateRequest): Promise<MigrationReport | MigrationPrediction> {
    const r = this.record(vm);
    const h = this.handles.get(r.id);
    if (!h || (h.status !== 'running' && h.status !== 'paused')) throw new HostError(409, 'illegal_state', `${r.name} is ${this.status(r.id)}: only a running or paused VM migrates`);
    // Writable local images go along (QEMU's block migration), each into a new image of
    // the same size the target makes; NBD disks stay where they are, and read-only ones
    // must be at the same path there.
    const copyDisks = localCopies(r.spec);
    const peer = new PeerDaemon(req.target, req.token);
    const accepted = await peer.call<IncomingView>('POST', '/v1/migrations', {
      spec: r.spec, owner: r.owner, labels: r.labels, transport: peer.transport, ...(copyDisks.length && { copyDisks }),
    });
    // A target listening on every address is reached at the name it was reached by.
    const uri = accepted.uri.replace(/^tcp:(0\.0\.0\.0|\[::\]):/, `tcp:${peer.hostname.includes(':') ? `[${peer.hostname}]` : peer.hostname}:`);
    if (req.dryRun) {
      // The target's waiting VM goes again whatever the dry run found.
      try {
        return predictionOf(r.name, req.target, await h.predict(uri, req.downtimeLimitMs));
      } finally {
        await peer.call('DELETE', `/v1/vms/${encodeURIComponent(accepted.vm.id)}?force=true`).catch(() => {});
      }
    }
    let stats: MigrationStats;
    try {
      stats = await h.migrate(uri, req.downtimeLimitMs, copyDisks.length > 0);
    } catch (e) {
      await peer.call('DELETE', `/v1/vms/${encodeURIComponent(accepted.vm.id)}?force=true`).catch(() => {});
      if (e instanceof HostError) throw new HostError(e.status === 409 ? 409 : 502, e.code === 'action_failed' ? 'migration_failed' : e.code, `${e.message}; ${r.name} runs on here`);
      throw e;
    }
    // The guest runs at the target: this VM is gone from here (its disk is on NBD, the
    // target has its spec and identity).
    this.emit(r, 'MIGRATED', { target: req.target });
    await this.stopHandle(r, h);
    this.inv.remove(r.id);
    this.crashes.delete(r.id);
    rmSync(this.vmDir(r.id), { recursive: true, force: true });
    this.emit(r, 'DELETED');
    this.log(`${r.name} migrated to ${req.target} (downtime ${Math.round(stats.downtimeMs ?? 0)} ms)`);
    return {
      vm: r.name, target: req.target, totalMs: stats.totalMs ?? 0, downtimeMs: stats.downtimeMs ?? 0, setupMs: stats.setupMs ?? 0,
      rounds: stats.iterations, transferredBytes: stats.transferred,
    };
  }

  /** The target's side of migrate(): a VM from the source's spec, waiting for its guest
   *  at a Unix socket in its directory or a free TCP port. */
  async acceptMigration(req: IncomingRequest): Promise<IncomingView> {
    const id = randomUUID();
    let spec = req.spec;
    if (req.copyDisks?.length) {
      try {
        spec = copyTargets(this.vmDir(id), req.spec, req.copyDisks);
      } catch (e) {
        rmSync(this.vmDir(id), { recursive: true, force: true });
        throw e;
      }
    }
    let r: VmRecord;
    try {
      r = await this.define({ spec, owner: req.owner, labels: req.labels }, id);
    } catch (e) {
      rmSync(this.vmDir(id), { recursive: true, force: true });
      throw e;
    }
    const listen = req.transport === 'unix' ? `unix:${join(this.vmDir(r.id), 'migrate.sock')}` : `tcp:${this.o.migrationHost ?? '127.0.0.1'}:0`;
    try {
      const h = await this.start(r, { incoming: listen });
      return { vm: this.view(r), uri: await h.incoming };
    } catch (e) {
      await this.remove(r.id, { force: true }).catch(() => {});
      throw e;
    }
  }

  /** Everything the spec names must exist now: a VM that cannot start is refused here. */
  private async checkFiles(spec: VmSpec): Promise<void> {
    const problems: string[] = [];
    const file = (field: string, path: string | undefined, dir = false) => {
      if (path === undefined) return;
      if (!path.startsWith('/')) problems.push(`${field}: ${path}: not an absolute path (the daemon has no working directory of yours)`);
      else if (!existsSync(path)) problems.push(`${field}: ${path}: no such file or directory`);
      else if (statSync(path).isDirectory() !== dir) problems.push(`${field}: ${path}: ${dir ? 'not a directory' : 'is a directory'}`);
    };
    file('boot.kernel', spec.boot.kernel);
    file('boot.initrd', spec.boot.initrd);
    file('firmware', spec.firmware);
    spec.disks.forEach((d, i) => {
      if (!isNbdUri(d.file)) return file(`disks.${i}.file`, d.file);
      try {
        parseNbdUri(d.file);
      } catch (e) {
        problems.push(`disks.${i}.file: ${(e as Error).message}`);
      }
    });
    spec.shares.forEach((s, i) => file(`shares.${i}.dir`, s.dir, true));
    if (spec.boot.image !== undefined && !(await listImages()).some((i) => i.name === spec.boot.image)) {
      problems.push(`boot.image: no image ${spec.boot.image} on this host (rvisor image pull ${spec.boot.image})`);
    }
    if (problems.length) throw new HostError(422, 'missing_file', problems.join('; '), problems);
  }

  patch(vm: string, req: PatchRequest): VmView {
    const r = this.record(vm);
    const next = this.inv.update(r.id, (old) => {
      const out: VmRecord = { ...old };
      if (req.owner !== undefined) out.owner = req.owner;
      if (req.labels !== undefined) out.labels = { ...req.labels };
      if (req.ttlSeconds === null) delete out.ttlSeconds;
      else if (req.ttlSeconds !== undefined) out.ttlSeconds = req.ttlSeconds;
      return out;
    });
    return this.view(next);
  }

  async remove(vm: string, opts: { force: boolean }): Promise<void> {
    const r = this.record(vm);
    const h = this.handles.get(r.id);
    if (h && !opts.force) throw new HostError(409, 'running', `${r.name} is ${h.status}: stop it first, or remove it with force`);
    if (this.inv.list().some((c) => c.clonedFrom === r.id)) throw new HostError(409, 'has_clones', `${r.name} is the template of other VMs: remove them first`);
    if (h) await this.stopHandle(r, h);
    this.inv.remove(r.id);
    this.crashes.delete(r.id);
    rmSync(this.vmDir(r.id), { recursive: true, force: true });
    this.emit(r, 'DELETED');
  }

  private vmDir(id: string): string {
    return join(this.o.stateDir, 'vms', id);
  }

  async action(vm: string, a: VmActionRequest): Promise<VmView> {
    const r = this.record(vm);
    const h = this.handles.get(r.id);
    if (a.type === 'start' || (a.type === 'restore' && !h)) {
      if (h) throw new HostError(409, 'illegal_state', `${r.name} is ${h.status} already`);
      await this.start(r, { loadvm: a.type === 'restore' ? a.name : undefined });
      return this.get(r.id);
    }
    if (!h) throw new HostError(409, 'illegal_state', `${r.name} is not running`);
    switch (a.type) {
      case 'stop': await this.stopHandle(r, h); break;
      case 'pause': case 'resume': case 'reset': case 'powerdown': await h.action({ type: a.type }); break;
      case 'snapshot': await h.action({ type: 'snapshot-save', name: a.name }); break;
      case 'restore': await h.action({ type: 'snapshot-load', name: a.name }); break;
    }
    return this.get(r.id);
  }

  /** Cores and memory held by running dedicated VMs (partition mode). */
  private reserved(): { cores: number; memory: number } {
    let cores = 0, memory = 0;
    for (const id of this.handles.keys()) {
      const spec = this.inv.get(id)?.spec;
      if (spec?.cpu?.dedicated) {
        cores += spec.harts;
        memory += spec.memory;
      }
    }
    return { cores, memory };
  }

  private capacity(): number {
    return this.o.cpus ?? availableParallelism();
  }

  /** A dedicated VM starts only if whole cores and its memory can be set aside for it. */
  private reserve(r: VmRecord): void {
    if (!r.spec.cpu?.dedicated) return;
    const held = this.reserved(), cores = this.capacity();
    if (held.cores + r.spec.harts > cores) {
      throw new HostError(409, 'no_dedicated_cores', `${r.name} needs ${r.spec.harts} dedicated core(s); ${held.cores} of the host's ${cores} are dedicated to other VMs already`);
    }
    // Guest RAM of dedicated VMs is never overcommitted: it must fit in the host's memory,
    // with a quarter left for the host and everything else.
    if (held.memory + r.spec.memory > totalmem() * 0.75) {
      throw new HostError(409, 'no_dedicated_memory', `${r.name} needs ${r.spec.memory >> 20} MiB of dedicated memory; ${held.memory >> 20} MiB of the host's ${totalmem() >> 20} MiB are dedicated already`);
    }
  }

  private async start(r: VmRecord, o: { loadvm?: string; incoming?: string } = {}): Promise<VmHandle> {
    if (r.template) throw new HostError(409, 'template', `${r.name} is a template: clone it to run it`);
    this.o.networks.check(r.spec.nics);
    this.reserve(r);
    mkdirSync(join(this.vmDir(r.id), 'snapshots'), { recursive: true, mode: 0o700 });
    this.crashes.delete(r.id);
    const attached = r.spec.nics.map((n, i) => (n.network === 'switch' ? this.o.networks.attach(r.name, i, n) : null));
    const h = new VmHandle({
      spec: r.spec, snapshotDir: join(this.vmDir(r.id), 'snapshots'), qmpSocket: join(this.vmDir(r.id), 'qmp.sock'), loadvm: o.loadvm, testHooks: this.o.testHooks ?? false,
      switchLinks: attached.map((a) => a?.end ?? null), ...(o.incoming !== undefined && { incoming: o.incoming }),
    }, {
      event: (e: VmEvent) => this.emit(r, e.event as HostEvent['event'], e.data),
      console: () => this.inv.touch(r.id, new Date()),
    });
    this.handles.set(r.id, h);
    void h.ended.then((end) => {
      const guestNeverCame = h.status === 'incoming';
      this.handles.delete(r.id);
      for (const a of attached) a?.detach();
      // A VM made for a migration whose guest never arrived was never a VM of this host.
      if (guestNeverCame && this.inv.get(r.id)) {
        this.log(`${r.name}: the incoming migration ended without the guest${end.kind === 'failed' ? ` (${end.message})` : ''}; removing it`);
        this.inv.remove(r.id);
        rmSync(this.vmDir(r.id), { recursive: true, force: true });
        this.emit(r, 'DELETED');
        return;
      }
      if (end.kind === 'crashed') {
        this.crashes.set(r.id, end.reason);
        this.log(`${r.name} crashed: ${end.reason}`);
        this.emit(r, 'CRASHED', { reason: end.reason });
      }
    });
    this.inv.touch(r.id, new Date());
    await h.started;
    return h;
  }

  /** Stops at once, as `virsh destroy` does (powerdown is the polite way); a worker that
   *  does not obey within 5 s is ended. */
  private async stopHandle(r: VmRecord, h: VmHandle): Promise<void> {
    await h.action({ type: 'quit' }).catch(() => {});
    const timer = setTimeout(() => void h.kill(), 5000);
    await h.ended.finally(() => clearTimeout(timer));
    this.log(`${r.name} stopped`);
  }

  async makeTemplate(vm: string): Promise<VmView> {
    const r = this.record(vm);
    if (this.handles.has(r.id)) throw new HostError(409, 'running', `${r.name} is running: stop it before making it a template`);
    return this.view(this.inv.update(r.id, (old) => ({ ...old, template: true })));
  }

  clone(template: string, req: { name: string; owner?: string; labels?: Record<string, string> }): Promise<VmView> {
    const t = this.record(template);
    if (!t.template) throw new HostError(409, 'not_template', `${t.name} is not a template (rvisor template ${t.name})`);
    if (this.inv.byName(req.name)) throw new HostError(409, 'name_taken', `a VM named ${req.name} exists already`);
    const id = randomUUID();
    const spec = cloneSpec(t.spec, { name: req.name, dir: this.vmDir(id), mac: randomMac, machineId: randomBytes(16).toString('hex'), hostname: hostnameOf(req.name) });
    const now = new Date().toISOString();
    try {
      const record = this.inv.add({
        id, name: req.name, spec, owner: req.owner ?? t.owner, labels: { ...t.labels, ...req.labels }, created: now, lastActive: now, clonedFrom: t.id,
      });
      this.emit(record, 'CREATED', { clonedFrom: t.name });
      return Promise.resolve(this.view(record));
    } catch (e) {
      rmSync(this.vmDir(id), { recursive: true, force: true });
      throw e;
    }
  }

  listNetworks(): NetworkView[] {
    return this.o.networks.list();
  }

  getNetwork(name: string): NetworkView {
    return this.o.networks.get(name);
  }

  createNetwork(spec: NetworkSpec): Promise<NetworkView> {
    return this.o.networks.create(spec);
  }

  removeNetwork(name: string): void {
    this.o.networks.remove(name);
  }

  setNetworkFirewall(name: string, firewall: FirewallSpec | null): NetworkView {
    return this.o.networks.setFirewall(name, firewall);
  }

  async images(): Promise<ImageView[]> {
    return (await listImages()).map((i) => ({ name: i.name, kernelVersion: i.manifest.kernelVersion, size: i.size, created: i.manifest.created }));
  }

  events(listener: (e: HostEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  console(vm: string): ConsoleAttachment {
    const r = this.record(vm);
    const h = this.handles.get(r.id);
    if (!h) throw new HostError(409, 'illegal_state', `${r.name} is not running`);
    let stop: (() => void) | undefined;
    return {
      onOutput: (listener) => { stop = h.read(listener); },
      input: (bytes) => h.input(bytes),
      detach: () => stop?.(),
    };
  }

  metrics(): string {
    return renderMetrics(this.inv.list().map((r) => ({ view: this.view(r), stats: this.handles.get(r.id)?.stats })));
  }

  /** Once a tick: fresh stats (metrics, activity) and TTL expiry. */
  private tick(): void {
    const now = Date.now();
    const fresh: Promise<unknown>[] = [];
    for (const r of this.inv.list()) {
      const h = this.handles.get(r.id);
      if (h) {
        const before = h.stats;
        fresh.push(h.refreshStats().then((s) => {
          if (ioCount(s) !== ioCount(before)) this.inv.touch(r.id, new Date());
        }, () => {}));
      }
      if (r.ttlSeconds !== undefined && now - Date.parse(r.created) >= r.ttlSeconds * 1000) void this.expire(r);
    }
    void Promise.all(fresh).then(() => this.schedule());
  }

  /** Hands out the host's cores by weight (scheduler.ts). */
  private schedule(): void {
    const running = [...this.handles.entries()].flatMap(([id, h]) => {
      const r = this.inv.get(id);
      return r ? [{ h, spec: r.spec }] : [];
    });
    // Dedicated VMs keep their cores (up to their cap); the others share what is left.
    for (const { h, spec } of running) if (spec.cpu?.dedicated) h.setAllowance(cpuCap(spec));
    const shared = running.filter(({ spec }) => !spec.cpu?.dedicated);
    const allowances = fairShares(Math.max(0, this.capacity() - this.reserved().cores), shared.map(({ h, spec }) => ({
      wanted: h.cpu.wanted, cap: cpuCap(spec), shares: spec.cpu?.shares ?? DEFAULT_SHARES,
    })));
    shared.forEach(({ h }, i) => h.setAllowance(allowances[i]));
  }

  private readonly expiring = new Set<string>();

  private async expire(r: VmRecord): Promise<void> {
    const h = this.handles.get(r.id);
    if (this.expiring.has(r.id) || (!h && !r.removeOnExpiry)) return;
    this.expiring.add(r.id);
    try {
      if (h) await this.stopHandle(r, h);
      this.emit(r, 'EXPIRED', { removed: r.removeOnExpiry ?? false });
      if (r.removeOnExpiry) await this.remove(r.id, { force: true });
    } catch (e) {
      this.log(`expiring ${r.name}: ${(e as Error).message}`);
    } finally {
      this.expiring.delete(r.id);
    }
  }

  /** Stops every VM and closes the inventory (the daemon's orderly exit). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.handles.entries()].map(([id, h]) => this.stopHandle(this.record(id), h)));
    this.o.networks.close();
    this.inv.close();
  }
}

/** Disk requests and frames so far: it changes exactly when the guest did I/O. */
function ioCount(s: VmStats | undefined): number {
  return s ? s.disk.requests + s.net.rxFrames + s.net.txFrames : 0;
}

/** A VM name as a hostname: what RFC 1123 allows, at most 63 characters. */
function hostnameOf(name: string): string {
  return name.replace(/[^A-Za-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'rvisor';
}
