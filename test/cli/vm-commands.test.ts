// The VM commands end to end: the real `rvisor` binary against the real API over the
// daemon double, on a socket in a temp dir.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import type { HostEvent, VmView } from '../../src/host/daemon/model.js';
import { Daemon, refusal } from './daemon-fixture.js';

let d: Daemon;
beforeEach(async () => {
  d = await Daemon.start();
});
afterEach(() => d.stop());

const HOUR = 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
/** JSON as it crossed the API. */
const wire = (value: unknown) => JSON.parse(JSON.stringify(value));

/** A VM made on the double directly, with some fields set as a test needs them. */
async function vm(name: string, fields: Partial<VmView> = {}): Promise<VmView> {
  return Object.assign(await d.host.create({ spec: { name, memory: 64 << 20 } }), fields);
}

/** The rows of a table under its header, split on the runs of spaces between columns. */
function rows(table: string): { header: string[]; rows: string[][] } {
  const [header, ...rest] = table.trimEnd().split('\n').map((line) => line.split(/ {3,}/));
  return { header, rows: rest };
}

test('create defines the VM the flags describe, with owner, labels and TTL, and prints its id', async () => {
  const r = await d.rvisor('create', '--name', 'web', 'alpine', '--mem', '256M', '--smp', '2', '--disk', 'file=root.qcow2',
    '--owner', 'alice', '--label', 'env=dev', '--label', 'query=a=b', '--ttl', '1h30m', '--', 'echo', 'hi');
  assert.equal(r.status, 0, r.stderr);
  const made = d.host.vms.get(r.stdout.trim());
  assert.ok(made, `${r.stdout} is the new VM's id`);
  assert.equal(made.name, 'web');
  assert.equal(made.owner, 'alice');
  assert.deepEqual(made.labels, { env: 'dev', query: 'a=b' });
  assert.equal(made.ttlSeconds, 5400);
  assert.equal(made.spec.memory, 256 << 20);
  assert.equal(made.spec.harts, 2);
  assert.deepEqual(made.spec.boot, { image: 'alpine', command: ['echo', 'hi'] });
  // Made absolute where it was typed: the daemon opens it from elsewhere.
  assert.equal(made.spec.disks[0].file, join(d.dir, 'root.qcow2'));
});

test("create without owner, labels or TTL leaves them to the daemon's defaults", async () => {
  const r = await d.rvisor('create', '--name', 'plain');
  assert.equal(r.status, 0, r.stderr);
  const made = d.host.get('plain');
  const expected = await d.host.create({ spec: { name: 'other', memory: 512 << 20 } });
  assert.equal(made.owner, expected.owner);
  assert.deepEqual(made.labels, expected.labels);
  assert.equal(made.ttlSeconds, undefined);
});

test('create: a taken name fails with the daemon message (1); a spec it refuses is a bad request (2)', async () => {
  await vm('web');
  const taken = await d.rvisor('create', '--name', 'web');
  assert.equal(taken.status, 1);
  assert.equal(taken.stderr, `rvisor: ${await refusal(() => d.host.create({ spec: { name: 'web', memory: 64 << 20 } }))}\n`);
  const nameless = await d.rvisor('create');
  assert.equal(nameless.status, 2);
  assert.match(nameless.stderr, /^rvisor: .*\n {2}spec\.name: missing\n$/);
  // Flags the CLI itself refuses never reach the daemon.
  for (const args of [['--ttl', '30'], ['--mem', '3K'], ['--bios', 'none'], ['--label', 'novalue'], ['--smp', '9']]) {
    const r = await d.rvisor('create', '--name', 'x', ...args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^rvisor: .+\n$/);
  }
  assert.deepEqual([...d.host.vms.values()].map((v) => v.name), ['web']);
});

test('ps shows the VMs with a worker as a table; --all shows every one', async () => {
  await vm('idle', { owner: 'bob', created: ago(3 * 24 * HOUR), lastActive: ago(2 * HOUR), status: 'running', cpuSeconds: 12.34 });
  await vm('off', { created: ago(5 * 60_000) });
  await vm('tpl', { template: true });
  const r = await d.rvisor('ps');
  assert.equal(r.status, 0, r.stderr);
  const t = rows(r.stdout);
  assert.deepEqual(t.header, ['NAME', 'STATUS', 'OWNER', 'AGE', 'LAST ACTIVE', 'CPU']);
  assert.deepEqual(t.rows, [['idle', 'running', 'bob', '3d', '2h ago', '12.3s']]);
  const all = rows((await d.rvisor('ps', '--all')).stdout);
  assert.deepEqual(all.rows.map((row) => row.slice(0, 2)), [['idle', 'running'], ['off', 'stopped'], ['tpl', 'stopped (template)']]);
  assert.deepEqual(all.rows[1].slice(3), ['5m', '-', '0.0s']);
});

test('ps --json is the VmView array; --label, --owner and --idle filter on the daemon', async () => {
  await vm('a', { owner: 'bob', labels: { env: 'dev', tier: 'web' }, lastActive: ago(2 * HOUR) });
  await vm('b', { owner: 'bob', labels: { env: 'dev' }, lastActive: ago(10_000) });
  await vm('c', { owner: 'carol', labels: { env: 'prod' }, created: ago(3 * HOUR) });
  const json = async (...args: string[]) => {
    const r = await d.rvisor('ps', '-a', '--json', ...args);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as VmView[];
  };
  assert.deepEqual(await json(), wire(d.host.list({ all: true })));
  const names = async (...args: string[]) => (await json(...args)).map((v) => v.name);
  assert.deepEqual(await names('--label', 'env=dev'), ['a', 'b']);
  assert.deepEqual(await names('--label', 'env=dev', '--label', 'tier=web'), ['a']);
  assert.deepEqual(await names('--owner', 'carol'), ['c']);
  assert.deepEqual(await names('--idle', '1h'), ['a', 'c']);
  assert.deepEqual(await names('--idle', '5s', '--owner', 'bob'), ['a', 'b']);
  assert.deepEqual(await names('--idle', '1m', '--owner', 'bob'), ['a']);
});

test('inspect prints the VM as JSON; an unknown one fails with the daemon message', async () => {
  await vm('web', { labels: { k: 'v' } });
  const r = await d.rvisor('inspect', 'web');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), wire(d.host.get('web')));
  const missing = await d.rvisor('inspect', 'nope');
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr, `rvisor: ${await refusal(() => d.host.get('nope'))}\n`);
});

test('start, pause, resume, reset, stop follow the daemon; an illegal move prints its message and fails', async () => {
  const { id } = await vm('web');
  const events: HostEvent['event'][] = [];
  d.host.events((e) => events.push(e.event));
  for (const [cmd, after] of [['start', 'running'], ['pause', 'paused'], ['resume', 'running'], ['reset', 'running'], ['stop', 'stopped']]) {
    const r = await d.rvisor(cmd, 'web');
    assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    assert.equal(r.stdout, 'web\n');
    assert.equal(d.host.vms.get(id)?.status, after, cmd);
  }
  assert.deepEqual(events, ['RESUME', 'STOP', 'RESUME', 'RESET', 'SHUTDOWN']);
  const expected = await refusal(() => d.host.action('web', { type: 'pause' }));
  const r = await d.rvisor('pause', 'web');
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `rvisor: ${expected}\n`);
  assert.equal(d.host.get('web').status, 'stopped');
});

test('an action on many VMs does each, names those done, and fails if any was refused', async () => {
  await vm('a');
  await vm('b');
  const r = await d.rvisor('start', 'a', 'nope', 'b');
  assert.equal(r.status, 1);
  assert.equal(r.stdout, 'a\nb\n');
  assert.equal(r.stderr, `rvisor: ${await refusal(() => d.host.get('nope'))}\n`);
  assert.deepEqual([d.host.get('a').status, d.host.get('b').status], ['running', 'running']);
});

test('rm removes a stopped VM; a running one only with -f', async () => {
  await vm('off');
  await vm('on', { status: 'running' });
  const off = await d.rvisor('rm', 'off');
  assert.equal(off.status, 0, off.stderr);
  assert.equal(off.stdout, 'off\n');
  const expected = await refusal(() => d.host.remove('on', { force: false }));
  const refused = await d.rvisor('rm', 'on');
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, `rvisor: ${expected}\n`);
  assert.deepEqual([...d.host.vms.values()].map((v) => v.name), ['on']);
  const forced = await d.rvisor('rm', '-f', 'on');
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(d.host.vms.size, 0);
});

test('snapshot create and revert act on the daemon VM; the QMP forms are still there', async () => {
  const { id } = await vm('web', { status: 'running' });
  const made = await d.rvisor('snapshot', 'create', 'web', 'before');
  assert.equal(made.status, 0, made.stderr);
  assert.deepEqual([...d.host.snapshots.get(id) ?? []], ['before']);
  assert.equal((await d.rvisor('snapshot', 'revert', 'web', 'before')).status, 0);
  const unknown = await d.rvisor('snapshot', 'revert', 'web', 'never');
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stderr, `rvisor: ${await refusal(() => d.host.action('web', { type: 'restore', name: 'never' }))}\n`);
  assert.equal((await d.rvisor('snapshot', 'create', 'web')).status, 2);
  const qmp = await d.spawn(['snapshot', 'save', 'x']);
  assert.equal(qmp.status, 2);
  assert.match(qmp.stderr, /--qmp/);
});

test('template turns a stopped VM into one; clone makes a VM from it', async () => {
  await vm('base', { owner: 'alice' });
  assert.equal((await d.rvisor('template', 'base')).status, 0);
  assert.equal(d.host.get('base').template, true);
  const r = await d.rvisor('clone', 'base', 'copy', '--label', 'from=base');
  assert.equal(r.status, 0, r.stderr);
  const copy = d.host.vms.get(r.stdout.trim());
  assert.equal(copy?.clonedFrom, d.host.get('base').id);
  assert.deepEqual(copy?.labels, { from: 'base' });
  const again = await d.rvisor('clone', 'copy', 'copy2');
  assert.equal(again.status, 1);
  assert.equal(again.stderr, `rvisor: ${await refusal(() => d.host.clone('copy', { name: 'copy2' }))}\n`);
});

test('gc lists the VMs whose TTL has run out, templates aside; --yes removes them', async () => {
  await vm('expired', { created: ago(2 * HOUR), ttlSeconds: 3600 });
  await vm('fresh', { ttlSeconds: 3600 });
  await vm('forever', { created: ago(48 * HOUR) });
  await vm('template', { created: ago(2 * HOUR), ttlSeconds: 60, template: true });
  const listed = await d.rvisor('gc');
  assert.equal(listed.status, 0, listed.stderr);
  const t = rows(listed.stdout);
  assert.deepEqual(t.header, ['NAME', 'STATUS', 'OWNER', 'EXPIRED']);
  assert.deepEqual(t.rows, [['expired', 'stopped', 'nobody', '1h ago']]);
  assert.equal(d.host.vms.size, 4, 'gc without --yes removes nothing');
  const removed = await d.rvisor('gc', '--yes');
  assert.equal(removed.status, 0, removed.stderr);
  assert.equal(removed.stdout, 'expired\n');
  assert.deepEqual([...d.host.vms.values()].map((v) => v.name), ['fresh', 'forever', 'template']);
});

test("images lists the daemon's images", async () => {
  const r = await d.rvisor('images');
  assert.equal(r.status, 0, r.stderr);
  const images = await d.host.images();
  assert.deepEqual(r.stdout.trimEnd().split('\n').map((line) => line.split(/\s+/)[0]), images.map((i) => i.name));
});

test('RVISOR_HOST names the socket when --host does not; a bad one is a usage error', async () => {
  await vm('web', { status: 'running' });
  const r = await d.spawn(['ps'], { RVISOR_HOST: `unix:${d.api.socketPath}` });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(rows(r.stdout).rows.map((row) => row[0]), ['web']);
  const bad = await d.spawn(['ps'], { RVISOR_HOST: d.api.socketPath });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /RVISOR_HOST.*unix:PATH/);
});

test('with no daemon at the socket: one clear line, status 2', async () => {
  const missing = join(d.dir, 'none.sock');
  // A socket file whose daemon died: connections to it are refused.
  const stale = join(d.dir, 'stale.sock');
  const dead = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await once(dead, 'exit');
  for (const path of [missing, stale]) {
    for (const args of [['ps'], ['create', '--name', 'x'], ['console', 'x']]) {
      const r = await d.spawn([...args, '--host', `unix:${path}`]);
      assert.equal(r.status, 2, `${args[0]} at ${path}`);
      assert.equal(r.stderr, `rvisor: no daemon is running at ${path} (start one with \`rvisor serve\`)\n`);
    }
  }
});

test('a bad flag or argument is a usage error (2), whatever the command', async () => {
  for (const args of [['ps', '--bogus'], ['ps', 'extra'], ['ps', '--idle', 'soon'], ['start'], ['inspect'], ['rm', '--all', 'x'], ['clone', 'a']]) {
    const r = await d.rvisor(...args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /^rvisor: .+\n$/, args.join(' '));
  }
  const tcp = await d.spawn(['ps', '--host', 'tcp:localhost:1']);
  assert.equal(tcp.status, 2);
  assert.match(tcp.stderr, /--host.*unix:PATH/);
});
