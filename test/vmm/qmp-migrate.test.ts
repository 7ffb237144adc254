// QMP's migration commands over the command table: arguments checked in QEMU's words,
// the calls reaching the host's MigrationControl, and a clear refusal where there is none.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MigrationControl, VmEvent } from '../../src/vmm/control.js';
import { Hmp } from '../../src/vmm/hmp.js';
import { QmpError, runCommand } from '../../src/vmm/qmp/commands.js';
import { JobTable } from '../../src/vmm/qmp/jobs.js';
import { FakeVm } from './fakes.js';

class FakeMigration implements MigrationControl {
  calls: unknown[] = [];
  start(uri: string, o?: { blk?: boolean }) { this.calls.push(o?.blk ? ['start', uri, 'blk'] : ['start', uri]); }
  cancel() { this.calls.push(['cancel']); }
  query() { return { status: 'active', ram: { transferred: 1 } }; }
  setParameters(p: unknown) { this.calls.push(['set', p]); }
  listen(uri: string) { this.calls.push(['listen', uri]); }
  async predict(uri: string, seconds: number) { this.calls.push(['predict', uri, seconds]); return { converges: true }; }
  onEvent(_l: (e: VmEvent) => void) { return () => {}; }
}

function ctx(migration?: MigrationControl) {
  const control = new FakeVm();
  if (migration) Object.assign(control, { migration });
  return { control, hmp: new Hmp(control), jobs: new JobTable(() => {}) };
}

test('migrate, migrate_cancel, query-migrate and migrate-set-parameters reach the migration control', async () => {
  const m = new FakeMigration();
  const c = ctx(m);
  assert.deepEqual(await runCommand('migrate', { uri: 'tcp:10.0.0.2:4444' }, c), {});
  assert.deepEqual(await runCommand('migrate', { uri: 'tcp:10.0.0.2:4444', blk: true }, c), {});
  assert.deepEqual(await runCommand('migrate_cancel', {}, c), {});
  assert.deepEqual(await runCommand('query-migrate', {}, c), { status: 'active', ram: { transferred: 1 } });
  assert.deepEqual(await runCommand('migrate-set-parameters', { 'downtime-limit': 50, 'max-bandwidth': 1000000 }, c), {});
  assert.deepEqual(await runCommand('x-rvisor-migrate-predict', { uri: 'tcp:10.0.0.2:4444', 'calc-time': 2 }, c), { converges: true });
  assert.deepEqual(await runCommand('migrate-incoming', { uri: 'tcp:0.0.0.0:4445' }, c), {});
  await assert.rejects(runCommand('x-rvisor-migrate-predict', { uri: 'tcp:10.0.0.2:4444', 'calc-time': 0 }, c), /calc-time' expects 1 to 60 seconds/);
  assert.deepEqual(m.calls, [['start', 'tcp:10.0.0.2:4444'], ['start', 'tcp:10.0.0.2:4444', 'blk'], ['cancel'], ['set', { downtimeLimitMs: 50, maxBandwidth: 1000000 }], ['predict', 'tcp:10.0.0.2:4444', 2], ['listen', 'tcp:0.0.0.0:4445']]);
});

test('bad arguments and unsupported kinds of migration are refused as QEMU words it', async () => {
  const c = ctx(new FakeMigration());
  await assert.rejects(runCommand('migrate', {}, c), QmpError);
  await assert.rejects(runCommand('migrate', { uri: 'tcp:h:1', inc: true }, c), /incremental block migration \(inc\) is not supported/);
  await assert.rejects(runCommand('migrate-set-parameters', { 'downtime-limit': -1 }, c), /downtime_limit' expects an integer in the range of 0 to 2000000/);
  await assert.rejects(runCommand('migrate-set-parameters', { 'max-bandwidth': 'fast' }, c), QmpError);
  await assert.rejects(runCommand('migrate', { uri: 'tcp:h:1' }, ctx()), /migration is not available for this VM/);
  assert.deepEqual(await runCommand('query-migrate', {}, ctx()), {});
});
