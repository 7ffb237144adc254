// The host daemon with real Debian guests in worker threads, driven only through its API:
// three VMs at once, a pause that stops one guest and not the others, a snapshot and a
// restore, a delete, a worker broken on purpose, kill -9 of the daemon, templates and
// clones with their own identity, TTL expiry and idle VMs.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ensureImage, sleep } from '../boot/support.js';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { QmpClient } from '../vmm/qmp-client.js';
import { Daemon, type GuestConsole } from './daemon-fixture.js';

const daemon = new Daemon();

before(async () => {
  ensureImage();
  await daemon.start();
});
after(() => daemon.cleanup());

const spec = (name: string, extra: Record<string, unknown> = {}) => ({ spec: { name, memory: 256 << 20, boot: { image: 'debian' }, ...extra } });
type View = { id: string; name: string; status: string; instructions: number; lastActive?: string; crashReason?: string };

const booted = (name: string): Promise<GuestConsole> => daemon.shell(name);

test('three Debian guests at once, each driven through the API', { timeout: 900_000 }, async () => {
  const events = await daemon.events();
  for (const n of ['one', 'two', 'three']) assert.equal((await daemon.api('POST', '/v1/vms', spec(n))).status, 201);
  // A bad request changes nothing: a duplicate name, a missing disk, an unknown field.
  assert.equal((await daemon.api('POST', '/v1/vms', spec('one'))).status, 409);
  const missing = await daemon.api('POST', '/v1/vms', spec('four', { disks: [{ file: '/no/such/disk.img' }] }));
  assert.equal(missing.status, 422, missing.text);
  assert.match(missing.text, /disks\.0\.file: \/no\/such\/disk\.img: no such file/);
  assert.equal((await daemon.api('POST', '/v1/vms', { spec: { name: 'five', memory: 1 << 28, color: 'red' } })).status, 400);
  assert.equal((await daemon.ok<View[]>('GET', '/v1/vms?all=true')).length, 3);

  await Promise.all(['one', 'two', 'three'].map((n) => daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'start' })));
  assert.equal((await daemon.api('POST', '/v1/vms/one/actions', { type: 'start' })).status, 409, 'start a running VM');
  const [one, two, three] = await Promise.all(['one', 'two', 'three'].map(booted));
  for (const [c, n] of [[one, 1], [two, 2], [three, 3]] as const) assert.equal(await c.run(`echo $((${n} * 7))`), `${n * 7}\n`);
  assert.equal(await one.run('hostname'), 'one\n');

  // Each guest counts in the background; paused, `two` stops counting and the others go on.
  for (const c of [one, two, three]) c.send('(while :; do :; done) &\n');
  await sleep(2000);
  await daemon.ok('POST', '/v1/vms/two/actions', { type: 'pause' });
  assert.equal((await daemon.ok<View>('GET', '/v1/vms/two')).status, 'paused');
  const at = async () => Object.fromEntries((await daemon.ok<View[]>('GET', '/v1/vms')).map((v) => [v.name, v.instructions]));
  await sleep(1500);
  const first = await at();
  await sleep(3000);
  const second = await at();
  assert.equal(second.two, first.two, 'the paused guest ran');
  assert.ok(second.one > first.one && second.three > first.three, `the others stopped: ${JSON.stringify([first, second])}`);
  assert.equal((await daemon.api('POST', '/v1/vms/two/actions', { type: 'pause' })).status, 409, 'pause a paused VM');
  // Each VM keeps its own QMP socket for QEMU's tools, and it sees the same state.
  const qmp = await QmpClient.open(join(daemon.state, 'vms', (await daemon.ok<View>('GET', '/v1/vms/two')).id, 'qmp.sock'));
  await qmp.next();
  await qmp.execute('qmp_capabilities');
  assert.deepEqual((await qmp.execute('query-status')).return, { running: false, status: 'paused', singlestep: false });
  qmp.close();
  await daemon.ok('POST', '/v1/vms/two/actions', { type: 'resume' });
  assert.equal(await two.run('echo back'), 'back\n');

  // Metrics, read by a Prometheus text-format parser.
  const families = new Map(parsePrometheus((await daemon.api('GET', '/metrics')).text).map((f) => [f.name, f]));
  const sample = (name: string, labels: Record<string, string>) => Number(families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);
  assert.equal(sample('rvisor_host_vms', { state: 'running' }), 3);
  assert.equal(sample('rvisor_vm_state', { vm: 'two', state: 'running' }), 1);
  assert.ok(sample('rvisor_vm_guest_instructions_total', { vm: 'one' }) > 1e8);
  assert.equal(sample('rvisor_vcpu_guest_instructions_total', { vm: 'one', vcpu: '0' }), sample('rvisor_vm_guest_instructions_total', { vm: 'one' }));
  assert.ok(sample('rvisor_vm_cpu_seconds_total', { vm: 'one' }) > 1);
  assert.ok(sample('rvisor_vm_ram_touched_bytes', { vm: 'three' }) > 16 << 20);
  assert.ok(sample('rvisor_vm_net_frames_total', { vm: 'one', direction: 'tx' }) > 0, 'DHCP sent frames');
  assert.ok(sample('rvisor_vm_translator_events_total', { vm: 'one', counter: 'blocks translated' }) > 1000);

  // A snapshot, a change, a restore: the change is gone.
  await daemon.ok('POST', '/v1/vms/one/actions', { type: 'snapshot', name: 'clean' });
  assert.equal(await one.run('touch /tmp/after && echo made'), 'made\n');
  await daemon.ok('POST', '/v1/vms/one/actions', { type: 'restore', name: 'clean' });
  one.send('\n');
  assert.equal(await one.run('ls /tmp/after 2>&1 | grep -c "No such"'), '1\n');

  // Deleting a running VM needs force.
  assert.equal((await daemon.api('DELETE', '/v1/vms/three')).status, 409);
  assert.equal((await daemon.api('DELETE', '/v1/vms/three?force=true')).status, 204);
  assert.equal((await daemon.api('GET', '/v1/vms/three')).status, 404);
  for (const c of [one, two, three]) c.close();
  const names = (e: string) => events.seen.filter((x) => x.event === e).map((x) => x.data.vm.name);
  // The event stream is its own connection: DELETED may arrive after the 204 did.
  for (const end = Date.now() + 10_000; names('DELETED').length === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
  events.close();
  assert.deepEqual(names('CREATED').sort(), ['one', 'three', 'two']);
  assert.ok(names('STOP').includes('two') && names('RESUME').includes('two'));
  assert.deepEqual(names('DELETED'), ['three']);
});

test('a worker that breaks leaves the other VMs running and the daemon answering', { timeout: 600_000 }, async () => {
  await daemon.ok('POST', '/v1/vms', spec('fragile', { labels: { 'rvisor.test/crash-after-ms': '3000' } }));
  await daemon.ok('POST', '/v1/vms/fragile/actions', { type: 'start' });
  for (let i = 0; i < 200; i++) {
    const v = await daemon.ok<View>('GET', '/v1/vms/fragile');
    if (v.status === 'crashed') break;
    await sleep(100);
  }
  const v = await daemon.ok<View>('GET', '/v1/vms/fragile');
  assert.equal(v.status, 'crashed');
  assert.match(v.crashReason ?? '', /broken on purpose/);
  const one = await daemon.console('one');
  assert.equal(await one.run('echo still-here'), 'still-here\n');
  one.close();
  await daemon.ok('DELETE', '/v1/vms/fragile');
});

test('kill -9 of the daemon: the restarted daemon knows every VM, none running', { timeout: 300_000 }, async () => {
  const before = (await daemon.ok<View[]>('GET', '/v1/vms?all=true')).map((v) => [v.id, v.name]).sort();
  await daemon.ok('PATCH', '/v1/vms/two', { labels: { tier: 'web' } });
  // Mid-operation: creates in flight when the daemon dies. Each one answered is kept;
  // the others may or may not be, but never half.
  const creates = Array.from({ length: 8 }, (_, i) => daemon.api('POST', '/v1/vms', spec(`burst${i}`)).then((r) => r.status, () => 0));
  await sleep(5);
  await daemon.kill9();
  const answered = (await Promise.all(creates)).flatMap((status, i) => (status === 201 ? [`burst${i}`] : []));
  await daemon.start();
  const after = await daemon.ok<View[]>('GET', '/v1/vms?all=true');
  const bursts = after.filter((v) => v.name.startsWith('burst'));
  for (const name of answered) assert.ok(bursts.some((v) => v.name === name), `${name} was created, then lost`);
  assert.deepEqual(after.filter((v) => !v.name.startsWith('burst')).map((v) => [v.id, v.name]).sort(), before);
  assert.equal(daemon.log.includes('quarantine'), false, daemon.log);
  for (const v of bursts) await daemon.ok('DELETE', `/v1/vms/${v.name}`);
  assert.ok(after.every((v) => v.status === 'stopped'), JSON.stringify(after));
  assert.deepEqual((await daemon.ok<View[]>('GET', '/v1/vms?label=tier=web')).length, 0, 'only running VMs without all');
  assert.deepEqual((await daemon.ok<View[]>('GET', '/v1/vms?all=true&label=tier=web')).map((v) => v.name), ['two']);
});

test('a template and two clones boot side by side, each with its own identity', { timeout: 900_000 }, async () => {
  await daemon.ok('POST', '/v1/vms', spec('base'));
  await daemon.ok('POST', '/v1/vms/base/template');
  assert.equal((await daemon.api('POST', '/v1/vms/base/actions', { type: 'start' })).status, 409, 'a template never starts');
  const t0 = Date.now();
  await daemon.ok('POST', '/v1/vms/base/clones', { name: 'c1' });
  await daemon.ok('POST', '/v1/vms/base/clones', { name: 'c2' });
  assert.ok(Date.now() - t0 < 2000, 'cloning took more than a second each');
  await Promise.all(['c1', 'c2'].map((n) => daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'start' })));
  const [c1, c2] = await Promise.all(['c1', 'c2'].map(booted));
  const identity = (c: GuestConsole) => c.run('hostname; cat /etc/machine-id; cat /sys/class/net/eth0/address; head -c 16 /dev/urandom | od -An -tx1');
  const [a, b] = [(await identity(c1)).split('\n'), (await identity(c2)).split('\n')];
  assert.deepEqual([a[0], b[0]], ['c1', 'c2']);
  for (let i = 1; i < 4; i++) assert.notEqual(a[i], b[i], `line ${i} is the same in both clones: ${a[i]}`);
  assert.match(a[1], /^[0-9a-f]{32}$/);
  assert.match(a[2], /^52:54:00:/);
  c1.close();
  c2.close();
  assert.equal((await daemon.api('DELETE', '/v1/vms/base')).status, 409, 'a template with clones stays');
  await daemon.ok('POST', '/v1/vms/c1/actions', { type: 'stop' });
  await daemon.ok('POST', '/v1/vms/c2/actions', { type: 'stop' });
});

test('TTL expiry stops a VM; an idle one is found', { timeout: 600_000 }, async () => {
  await daemon.ok('POST', '/v1/vms', { ...spec('shortlived'), ttlSeconds: 20 });
  await daemon.ok('POST', '/v1/vms/shortlived/actions', { type: 'start' });
  for (let i = 0; i < 600; i++) {
    if ((await daemon.ok<View>('GET', '/v1/vms/shortlived')).status === 'stopped') break;
    await sleep(200);
  }
  assert.equal((await daemon.ok<View>('GET', '/v1/vms/shortlived')).status, 'stopped');
  await sleep(1500);
  const idle = (await daemon.ok<View[]>('GET', '/v1/vms?idle=1')).map((v) => v.name);
  assert.ok(idle.includes('two'), `idle: ${idle.join(' ')}`);
  const metrics = await daemon.api('GET', '/metrics');
  assert.match(metrics.text, /rvisor_host_vms\{state="stopped"\} \d+/);
});
