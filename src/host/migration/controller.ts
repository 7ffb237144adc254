// A Vm's migrations on the Node host: QMP's migrate / migrate_cancel / query-migrate /
// migrate-set-parameters over the engine and the socket channel, with QEMU's MIGRATION
// events, and the destination's side for `rvisor run --incoming URI`.

import type { MigrationControl, VmEvent } from '../../vmm/control.js';
import { DEFAULT_CONVERGENCE } from '../../vmm/migration/convergence.js';
import { initialStats, migrateIn, migrateOut, type MigrationStats, type MigrationStatus } from '../../vmm/migration/engine.js';
import type { Vm } from '../../vmm/vm.js';
import { VmError } from '../../vmm/vm-services.js';
import { dryRun } from '../../vmm/migration/dry-run.js';
import { type FaultPhase, withFault } from './test-fault.js';
import { connectMigration, IncomingListener, type MigrationAddress, parseMigrationUri } from './socket-channel.js';

export class MigrationController implements MigrationControl {
  private stats: MigrationStats | undefined;
  private running = false;
  private cancelRequested = false;
  private downtimeLimitMs = DEFAULT_CONVERGENCE.downtimeLimitMs;
  private maxBandwidth: number | undefined;
  private readonly listeners = new Set<(e: VmEvent) => void>();
  private lastStatus: MigrationStatus = 'none';

  private listening = false;
  /** Told when an incoming migration fails (the front end ends the VM: QEMU exits). */
  onIncomingFailure: ((e: Error) => void) | undefined;
  /** Tests only: this destination dies at that phase (./test-fault.ts). */
  testFault: FaultPhase | undefined;

  constructor(private readonly vm: Vm, private readonly log: (line: string) => void = () => {}) {}

  /** QMP's migrate-incoming (after -incoming defer), and -incoming URI: waits for the
   *  source at `uri` in the background (`listening` is told where, as incoming()'s is);
   *  a failure goes to onIncomingFailure. */
  listen(uri: string, listening?: (uri: string) => void): void {
    this.incoming(uri, listening).catch((e: Error) => {
      this.log(`the incoming migration at ${uri} failed: ${e.message}`);
      this.onIncomingFailure?.(e);
    });
  }

  onEvent(listener: (e: VmEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private status(s: MigrationStatus): void {
    if (s === this.lastStatus) return;
    this.lastStatus = s;
    for (const l of [...this.listeners]) l({ event: 'MIGRATION', data: { status: s } });
  }

  /** QMP's migrate: starts, and reports through query-migrate and the events. */
  start(uri: string, o: { blk?: boolean } = {}): void {
    this.migrate(uri, o).catch(() => { /* told by query-migrate, the events and the log */ });
  }

  /** Migrates the VM to `uri`; resolves with the figures once the destination runs it,
   *  rejects (the VM running on here) when it fails. Throws at once when it cannot begin. */
  migrate(uri: string, o: { blk?: boolean } = {}): Promise<MigrationStats> {
    if (this.running) throw new VmError('There\'s a migration process in progress');
    const at = parseMigrationUri(uri);
    // blk (QEMU's block migration): the local disks go along, into the destination's.
    const source = this.vm.migrationSource({ mirrorDisks: o.blk === true });
    this.running = true;
    this.cancelRequested = false;
    this.stats = undefined;
    this.status('setup');
    return (async () => {
      try {
        const channel = await connectMigration(at);
        const stats = await migrateOut(source, channel, {
          parameters: { ...DEFAULT_CONVERGENCE, downtimeLimitMs: this.downtimeLimitMs },
          maxBandwidth: this.maxBandwidth,
          cancelled: () => this.cancelRequested,
          onStats: (s) => {
            this.stats = s;
            this.status(s.status);
          },
        });
        this.log(`migration to ${uri} completed`);
        return stats;
      } catch (e) {
        const message = (e as Error).message;
        this.stats = { ...(this.stats ?? initialStats(this.vm.spec.memory)), status: this.cancelRequested ? 'cancelled' : 'failed', error: message };
        this.status(this.stats.status);
        this.log(`migration to ${uri} failed: ${message}; the VM runs on here`);
        throw e;
      } finally {
        this.running = false;
      }
    })();
  }

  /** A dry run against the destination at `uri` (migration/dry-run.ts): would it converge,
   *  in how long, with what downtime; in QMP's style of names. */
  async predict(uri: string, seconds: number): Promise<Record<string, unknown>> {
    if (this.running) throw new VmError('There\'s a migration process in progress');
    const source = this.vm.migrationSource();
    const channel = await connectMigration(parseMigrationUri(uri));
    const r = await dryRun(source, channel, { seconds, parameters: { ...DEFAULT_CONVERGENCE, downtimeLimitMs: this.downtimeLimitMs } });
    return {
      converges: r.converges, ...(r.reason !== undefined && { reason: r.reason }),
      'expected-downtime': Math.round(r.expectedDowntimeMs * 10) / 10, 'expected-total-time': Math.round(r.totalMs), rounds: r.rounds,
      'cpu-throttle-percentage': Math.round(r.throttle * 100), 'dirty-rate': Math.round(r.dirtyRate), 'working-set': r.workingSetBytes,
      bandwidth: Math.round(r.bandwidth), 'round-trip': Math.round(r.rttMs * 100) / 100, 'restore-time': Math.round(r.restoreMs * 10) / 10,
      'first-round': r.firstRoundBytes,
    };
  }

  cancel(): void {
    if (this.running) this.cancelRequested = true;
  }

  setParameters(p: { downtimeLimitMs?: number; maxBandwidth?: number }): void {
    if (p.downtimeLimitMs !== undefined) this.downtimeLimitMs = p.downtimeLimitMs;
    // QEMU's max-bandwidth is bytes per second; 0 there means no limit too.
    if (p.maxBandwidth !== undefined) this.maxBandwidth = p.maxBandwidth || undefined;
  }

  query(): Record<string, unknown> {
    const s = this.stats;
    if (!s) return this.lastStatus === 'none' ? {} : { status: this.lastStatus };
    const out: Record<string, unknown> = { status: s.status };
    if (s.setupMs !== undefined) out['setup-time'] = Math.round(s.setupMs);
    if (s.status === 'completed') {
      out['total-time'] = Math.round(s.totalMs ?? 0);
      out.downtime = Math.round(s.downtimeMs ?? 0);
    } else if (s.status === 'active' || s.status === 'device') {
      out['expected-downtime'] = Math.round(s.expectedDowntimeMs);
    }
    out.ram = {
      transferred: s.transferred,
      remaining: s.remaining,
      total: s.total,
      'dirty-pages-rate': Math.round(s.dirtyPagesRate),
      'dirty-sync-count': s.iterations,
      'page-size': 4096,
      mbps: (s.bandwidth * 8) / 1e6,
    };
    if (s.throttle > 0) out['cpu-throttle-percentage'] = Math.round(s.throttle * 100);
    if (s.error !== undefined) out['error-desc'] = s.error;
    return out;
  }

  /** The destination's side: listens at `uri`, takes one source, and resolves once the
   *  guest runs here (rejects with the reason when the migration fails). `listening` is
   *  told the URI it listens at (the port that a port 0 got). */
  incoming(uri: string, listening?: (uri: string) => void): Promise<void> {
    // Checked before anything waits: QMP's migrate-incoming answers these at once.
    if (this.vm.status() !== 'inmigrate') throw new VmError("'-incoming' was not specified on the command line");
    if (this.listening) throw new VmError('The incoming migration has already been started');
    const at = parseMigrationUri(uri);
    this.listening = true;
    return this.receive(at, listening);
  }

  private async receive(where: MigrationAddress, listening?: (uri: string) => void): Promise<void> {
    const listener = new IncomingListener();
    const at = await listener.listen(where);
    listening?.('socket' in at ? `unix:${at.socket}` : `tcp:${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`);
    this.status('setup');
    try {
      const destination = await this.vm.migrationDestination();
      // Dry runs come and go; the first real source is the migration.
      for (;;) {
        const accepted = await listener.accept();
        this.status('active');
        const [channel, dst] = this.testFault ? withFault(this.testFault, accepted, destination) : [accepted, destination];
        if (await migrateIn(dst, channel) === 'migrated') break;
        this.status('setup');
      }
      this.status('completed');
    } catch (e) {
      this.status('failed');
      throw e;
    } finally {
      listener.close();
    }
  }
}
