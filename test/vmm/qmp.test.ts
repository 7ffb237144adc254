// A QMP session over a real unix socket against a fake VM: greeting, negotiation, every
// command, events with timestamps, errors that leave the connection usable, framing.

import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpServer } from '../../src/vmm/qmp/server.js';
import { FakeVm } from './fakes.js';
import { QmpClient, type Msg } from './qmp-client.js';

let dir: string;
let path: string;
let vm: FakeVm;
let server: QmpServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rvisor-qmp-'));
  path = join(dir, 'qmp.sock');
  vm = new FakeVm();
  server = new QmpServer({ control: vm, maxRequestBytes: 4096 });
  await server.listen({ kind: 'unix', path });
});

beforeEach(() => {
  vm.state = 'running';
});

/** A command's reply and the event it causes, in either order (QEMU emits STOP while
 *  the command runs, i.e. before the reply). */
async function replyAndEvent(c: QmpClient): Promise<[Msg, Msg]> {
  const [x, y] = [await c.next(), await c.next()];
  return 'event' in x ? [y, x] : [x, y];
}

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function negotiated(): Promise<QmpClient> {
  const c = await QmpClient.open(path);
  await c.next();
  assert.deepEqual(await c.execute('qmp_capabilities'), { return: {} });
  return c;
}

function assertEvent(m: Msg, name: string, data: unknown = {}): void {
  assert.equal(m.event, name, JSON.stringify(m));
  assert.deepEqual(m.data, data);
  const ts = m.timestamp as { seconds: number; microseconds: number };
  assert.ok(Number.isInteger(ts.seconds) && Math.abs(ts.seconds - Date.now() / 1000) < 60, 'timestamp is now');
  assert.ok(Number.isInteger(ts.microseconds) && ts.microseconds >= 0 && ts.microseconds < 1e6);
}

test('greeting, then only qmp_capabilities until negotiated', async () => {
  const c = await QmpClient.open(path);
  assert.deepEqual(await c.next(), { QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'rvisor' }, capabilities: [] } });
  assert.deepEqual(await c.execute('query-status', undefined, 1), { error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" }, id: 1 });
  assert.deepEqual(await c.execute('qmp_capabilities', { enable: ['oob'] }), { error: { class: 'GenericError', desc: "Capability 'oob' not available" } });
  assert.deepEqual(await c.execute('qmp_capabilities', undefined, 'neg'), { return: {}, id: 'neg' });
  assert.equal((await c.execute('qmp_capabilities') as { error: { class: string } }).error.class, 'CommandNotFound');
  assert.deepEqual(await c.execute('query-status', undefined, { any: ['json'] }), { return: { running: true, singlestep: false, status: 'running' }, id: { any: ['json'] } });
  c.close();
});

test('stop/cont change the status and send STOP/RESUME to every negotiated client only', async () => {
  const a = await negotiated();
  const b = await negotiated();
  const raw = await QmpClient.open(path);
  await raw.next();
  a.send('{"execute":"stop","id":7}');
  const [reply, event] = await replyAndEvent(a);
  assert.deepEqual(reply, { return: {}, id: 7 });
  assertEvent(event, 'STOP');
  assertEvent(await b.next(), 'STOP');
  assert.deepEqual((await a.execute('query-status')).return, { running: false, singlestep: false, status: 'paused' });
  b.send('{"execute":"cont"}');
  const [reply2, event2] = await replyAndEvent(b);
  assert.deepEqual(reply2, { return: {} });
  assertEvent(event2, 'RESUME');
  assertEvent(await a.next(), 'RESUME');
  // The un-negotiated client got nothing: its next message is the reply to this.
  assert.equal((await raw.execute('query-version') as { error: { class: string } }).error.class, 'CommandNotFound');
  for (const c of [a, b, raw]) c.close();
});

test('powerdown, reset, quit: replies and events', async () => {
  const c = await negotiated();
  const seen = async (cmd: string, event: string, data: unknown = {}) => {
    const [r, e] = await replyAndEvent(c);
    assert.deepEqual(r, { return: {} }, cmd);
    assertEvent(e, event, data);
  };
  c.send('{"execute":"system_powerdown"}');
  await seen('system_powerdown', 'POWERDOWN');
  c.send('{"execute":"system_reset"}');
  await seen('system_reset', 'RESET', { guest: false, reason: 'host-qmp-system-reset' });
  c.send('{"execute":"quit"}');
  // quit answers before the VM goes: the reply comes first, then SHUTDOWN.
  assert.deepEqual(await c.next(), { return: {} });
  assertEvent(await c.next(), 'SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
  assert.deepEqual(vm.calls.slice(-3), ['powerdown', 'reset', 'quit']);
  c.close();
});

test('queries: cpus, block, version, commands', async () => {
  const c = await negotiated();
  const cpus = (await c.execute('query-cpus-fast')).return as Msg[];
  assert.equal(cpus.length, 2);
  assert.deepEqual({ ...cpus[1], 'thread-id': 0 }, { 'cpu-index': 1, 'qom-path': '/machine/soc0/harts[1]', 'thread-id': 0, props: { 'core-id': 1, 'socket-id': 0, 'node-id': 0 }, target: 'riscv' });
  assert.equal(cpus[0]['thread-id'], process.pid);
  const stats = (await c.execute('query-stats', { target: 'vcpu' })).return as Msg[];
  assert.deepEqual(stats[1], { provider: 'rvisor', 'qom-path': '/machine/soc0/harts[1]', stats: [{ name: 'instructions', value: 25 }, { name: 'steal-time-ns', value: 7_000_000 }] });
  const vm = await c.execute('query-stats', { target: 'vm' });
  assert.equal((vm.error as Msg).class, 'GenericError');
  const block = (await c.execute('query-block')).return as Msg[];
  assert.equal(block[0].device, 'virtio0');
  assert.deepEqual((block[0].inserted as Msg).file, '/tmp/disk.qcow2');
  assert.deepEqual((block[0].inserted as Msg).drv, 'qcow2');
  assert.deepEqual((await c.execute('query-version')).return, { qemu: { major: 7, minor: 2, micro: 0 }, package: 'rvisor' });
  assert.deepEqual((await c.execute('x-query-jit')).return, { 'human-readable-text': 'blocks translated         12\ncompile ms (main thread)  3.3\n' });
  const names = ((await c.execute('query-commands')).return as { name: string }[]).map((x) => x.name);
  for (const n of ['qmp_capabilities', 'query-status', 'stop', 'cont', 'quit', 'human-monitor-command', 'snapshot-save', 'snapshot-load', 'query-jobs']) assert.ok(names.includes(n), n);
  c.close();
});

test('human-monitor-command runs HMP lines', async () => {
  const c = await negotiated();
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 'info status' }, 3), { return: 'VM status: running\r\n', id: 3 });
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 'savevm hmp1' }), { return: '' });
  assert.ok(vm.snapshots.has('hmp1'));
  assert.deepEqual(await c.execute('human-monitor-command', {}), { error: { class: 'GenericError', desc: "Parameter 'command-line' is missing" } });
  assert.deepEqual(await c.execute('human-monitor-command', { 'command-line': 5 }), { error: { class: 'GenericError', desc: "Invalid parameter type for 'command-line', expected: string" } });
  c.close();
});

test('snapshot-save / snapshot-load run as jobs with JOB_STATUS_CHANGE events', async () => {
  const c = await negotiated();
  // QEMU's job states: a job that fails is aborted rather than finalised.
  const job = async (cmd: string, id: string, tag: string, expected = ['created', 'running', 'waiting', 'pending', 'concluded']) => {
    assert.deepEqual(await c.execute(cmd, { 'job-id': id, tag, vmstate: 'disk0', devices: ['disk0'] }), { return: {} });
    const states: string[] = [];
    while (states.at(-1) !== 'concluded') {
      const e = await c.next();
      assertEvent(e, 'JOB_STATUS_CHANGE', { id, status: (e.data as Msg).status });
      states.push((e.data as Msg).status as string);
    }
    assert.deepEqual(states, expected);
    const jobs = (await c.execute('query-jobs')).return as Msg[];
    const info = jobs.find((j) => j.id === id)!;
    assert.equal(info.status, 'concluded');
    assert.equal(info.type, cmd);
    const error = info.error;
    c.send(JSON.stringify({ execute: 'job-dismiss', arguments: { id } }));
    const [reply, event] = await replyAndEvent(c);
    assert.deepEqual(reply, { return: {} });
    assertEvent(event, 'JOB_STATUS_CHANGE', { id, status: 'null' });
    return error;
  };
  assert.equal(await job('snapshot-save', 'save0', 'qmp1'), undefined);
  assert.equal(await job('snapshot-load', 'load0', 'qmp1'), undefined);
  assert.equal(await job('snapshot-load', 'load1', 'missing', ['created', 'running', 'aborting', 'concluded']), "snapshot 'missing' does not exist");
  assert.deepEqual(await c.execute('snapshot-save', { 'job-id': 'j', tag: 't' }), { error: { class: 'GenericError', desc: "Parameter 'vmstate' is missing" } });
  assert.deepEqual(await c.execute('job-dismiss', { id: 'nope' }), { error: { class: 'GenericError', desc: 'Job not found' } });
  c.close();
});

test('malformed input, unknown commands and bad arguments leave the session usable', async () => {
  const c = await negotiated();
  c.send('{"execute": "query-status",, }');
  const parse = await c.next() as { error: { class: string; desc: string } };
  assert.equal(parse.error.class, 'GenericError');
  assert.match(parse.error.desc, /^JSON parse error, /);
  assert.deepEqual(await c.execute('frobnicate', undefined, 9), { error: { class: 'CommandNotFound', desc: 'The command frobnicate has not been found' }, id: 9 });
  assert.deepEqual(await c.execute('stop', { now: true }), { error: { class: 'GenericError', desc: "Parameter 'now' is unexpected" } });
  c.send('[1, 2]');
  assert.deepEqual(await c.next(), { error: { class: 'GenericError', desc: 'QMP input must be a JSON object' } });
  c.send('{"exec": "stop"}');
  assert.deepEqual(await c.next(), { error: { class: 'GenericError', desc: "QMP input member 'exec' is unexpected" } });
  c.send('{"execute": "stop", "arguments": [1]}');
  assert.deepEqual(await c.next(), { error: { class: 'GenericError', desc: "QMP input member 'arguments' must be an object" } });
  c.send(`{"execute":"query-status","arguments":{"pad":"${'x'.repeat(5000)}"}}`);
  assert.match(((await c.next()).error as { desc: string }).desc, /exceeds 4096 bytes/);
  assert.equal(((await c.execute('query-status')).return as Msg).status, vm.state);
  c.close();
});

test('requests split across packets and merged into one are each answered, in order', async () => {
  const c = await negotiated();
  const text = '{"execute":"query-version","id":1}{"execute":"query-status","id":2}\n{"execute":"query-block","id":3}';
  for (let i = 0; i < text.length; i += 5) {
    c.send(text.slice(i, i + 5));
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual([(await c.next()).id, (await c.next()).id, (await c.next()).id], [1, 2, 3]);
  c.send(text);
  assert.deepEqual([(await c.next()).id, (await c.next()).id, (await c.next()).id], [1, 2, 3]);
  c.close();
});
