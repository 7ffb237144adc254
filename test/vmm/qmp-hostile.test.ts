// A hostile QMP client (issue 19): inputs that used to end the VMM or wedge the session,
// each sent exactly as the attack did, and the session still answering afterwards.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpServer } from '../../src/vmm/qmp/server.js';
import { FakeVm } from './fakes.js';
import { QmpClient, type Msg } from './qmp-client.js';

let dir: string;
let vm: FakeVm;
let server: QmpServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rvisor-qmp-hostile-'));
  vm = new FakeVm();
  vm.syncLoadErrors = true;
  server = new QmpServer({ control: vm });
  await server.listen({ kind: 'unix', path: join(dir, 'qmp.sock') });
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function negotiated(path = join(dir, 'qmp.sock')): Promise<QmpClient> {
  const c = await QmpClient.open(path);
  await c.next();
  assert.deepEqual(await c.execute('qmp_capabilities'), { return: {} });
  return c;
}

async function stillAnswers(c: QmpClient): Promise<void> {
  assert.deepEqual(await c.execute('query-status', undefined, 'alive'), { return: { running: true, singlestep: false, status: 'running' }, id: 'alive' });
}

test('snapshot-load of an unknown tag, refused synchronously, ends the job with its error', async () => {
  const c = await negotiated();
  c.send('{"execute":"snapshot-load","arguments":{"job-id":"j","tag":"nosuch","vmstate":"d","devices":[]}}');
  assert.deepEqual(await c.next(), { return: {} });
  const states: unknown[] = [];
  while (states.at(-1) !== 'concluded') {
    const e = await c.next();
    assert.equal(e.event, 'JOB_STATUS_CHANGE');
    assert.equal((e.data as Msg).id, 'j');
    states.push((e.data as Msg).status);
  }
  assert.deepEqual(states, ['created', 'running', 'aborting', 'concluded']);
  const jobs = (await c.execute('query-jobs')).return as Msg[];
  assert.deepEqual(jobs, [{ id: 'j', type: 'snapshot-load', status: 'concluded', 'current-progress': 0, 'total-progress': 1, error: "snapshot 'nosuch' does not exist" }]);
  c.send('{"execute":"job-dismiss","arguments":{"id":"j"}}');
  const replies = [await c.next(), await c.next()];
  assert.ok(replies.some((m) => 'return' in m), JSON.stringify(replies));
  await stillAnswers(c);
  c.close();
});

test('nesting deeper than QEMU allows is refused before anything recurses over it', async () => {
  const c = await negotiated();
  // 200000 levels fit in the size cap; echoing such an id overflowed JSON.stringify.
  const deep = '['.repeat(200000) + ']'.repeat(200000);
  c.send(`{"execute":"query-status","id":${deep}}`);
  assert.deepEqual(await c.next(), { error: { class: 'GenericError', desc: 'JSON nesting depth limit exceeded' } });
  // QEMU's limit is 1024 open brackets: an id of 1023 levels (1024 with the object) is fine.
  const ok = '['.repeat(1023) + ']'.repeat(1023);
  c.send(`{"execute":"query-version","id":${ok}}`);
  assert.deepEqual((await c.next()).id, JSON.parse(ok));
  await stillAnswers(c);
  c.close();
});

test('qmp_capabilities checks its arguments before negotiating', async () => {
  const c = await QmpClient.open(join(dir, 'qmp.sock'));
  await c.next();
  assert.deepEqual(await c.execute('qmp_capabilities', { enable: [[[]]] }), { error: { class: 'GenericError', desc: "Invalid parameter type for 'enable', expected: array" } });
  assert.deepEqual(await c.execute('qmp_capabilities', { enable: 'oob' }), { error: { class: 'GenericError', desc: "Invalid parameter type for 'enable', expected: array" } });
  assert.deepEqual(await c.execute('qmp_capabilities', { frob: 1 }), { error: { class: 'GenericError', desc: "Parameter 'frob' is unexpected" } });
  assert.deepEqual(await c.execute('qmp_capabilities'), { return: {} });
  await stillAnswers(c);
  c.close();
});

test("argument names that every object inherits are unexpected, not accepted", async () => {
  const c = await negotiated();
  c.send('{"execute":"stop","arguments":{"toString":1}}');
  assert.deepEqual(await c.next(), { error: { class: 'GenericError', desc: "Parameter 'toString' is unexpected" } });
  c.send('{"execute":"stop","arguments":{"__proto__":{"x":1}}}');
  assert.deepEqual(await c.next(), { error: { class: 'GenericError', desc: "Parameter '__proto__' is unexpected" } });
  c.send('{"execute":"human-monitor-command","arguments":{"constructor":"x","command-line":"info status"}}');
  assert.deepEqual(await c.next(), { error: { class: 'GenericError', desc: "Parameter 'constructor' is unexpected" } });
  assert.ok(!vm.calls.includes('pause'));
  await stillAnswers(c);
  c.close();
});

test('human-monitor-command: a cpu-index that names no CPU is refused, odd lines are output', async () => {
  const c = await negotiated();
  const bad = { error: { class: 'GenericError', desc: "Parameter 'cpu-index' expects a CPU number" } };
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': 99 }), bad);
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': -1 }), bad);
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': 1e300 }), { error: { class: 'GenericError', desc: "Invalid parameter type for 'cpu-index', expected: integer" } });
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': '\u0000\uffff \t\u2028 cpu 0x1 junk' }), { return: 'unknown command: \'\u0000\uffff\'\r\n' });
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 'cpu 7' }), { return: 'Error: invalid CPU index\r\n' });
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 'x'.repeat(100000) }), { return: `unknown command: '${'x'.repeat(100000)}'\r\n` });
  await stillAnswers(c);
  c.close();
});

test('a client that sends without reading its replies is not read from until it does', async () => {
  const path = join(dir, 'slow.sock');
  const slow = new FakeVm();
  const s = new QmpServer({ control: slow, maxUnreadBytes: 64 * 1024 });
  await s.listen({ kind: 'unix', path });
  const c = await negotiated(path);
  c.socket.pause();
  // Each pair: a reply of about 700 bytes, and a call the fake records.
  const n = 5000;
  c.send('{"execute":"query-commands"}{"execute":"system_powerdown"}'.repeat(n));
  await new Promise((r) => setTimeout(r, 300));
  const early = slow.calls.length;
  assert.ok(early < n, `${early} of ${n} requests were run while their replies piled up`);
  c.socket.resume();
  // Two replies and a POWERDOWN event for each pair.
  for (let i = 0; i < 3 * n; i++) await c.next(5000);
  assert.equal(slow.calls.length, n);
  c.close();
  await s.close();
});
