// Live migration between two real daemons (`rvisor serve`, each with its own state): a
// Debian guest with one disk on `rvisor nbd serve`, one local disk, and a NIC on a
// virtual switch the two daemons share through a VXLAN tunnel moves from one to the
// other through `rvisor migrate` (POST /vms/{vm}/migrate), after a dry run that predicts
// and leaves nothing behind. Its counter carries on there without a reboot; what it
// wrote on both sides is on the NBD disk and on the target's copy of the local one; the
// source no longer has it; both switches learn the guest's MAC at its new place (the
// destination's announce). Refusals leave the VM running where it was: a name taken at
// the target, a target that is not there, an address that is no daemon's.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, ensureImage, freePort, until } from '../boot/support.js';
import { Daemon } from './daemon-fixture.js';
import { assertCounterFiles, serveNbd, stopNbd } from './nbd-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-daemon-migrate-'));
const source = new Daemon();
const target = new Daemon();
before(async () => {
  ensureImage();
  await Promise.all([source.start(), target.start()]);
});
after(async () => {
  await Promise.all([source.cleanup(), target.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

type View = { id: string; name: string; status: string; spec: { nics: { mac?: string }[]; machineId?: string } };
type Network = { macTable: { mac: string; port: string }[] };
const counts = (text: string) => [...text.matchAll(/count (\d+)/g)].map((m) => Number(m[1]));
// vda is on NBD (stays put), vdb a local image (copied along); each gets a file a count.
const COUNTER = [
  'mke2fs -F /dev/vda >/dev/null; mount /dev/vda /mnt; mkdir /mnt2; mke2fs -F /dev/vdb >/dev/null; mount /dev/vdb /mnt2',
  'i=0; while :; do echo count $i; echo $i > /mnt/n-$i; echo $i > /mnt2/n-$i; sync; i=$((i+1)); sleep 0.5; done',
].join('\n');

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
}

test('a Debian guest with a disk on NBD and a local one moves between two daemons with rvisor migrate and counts on', { timeout: 600_000 }, async (t) => {
  const image = join(dir, 'disk.qcow2'), local = join(dir, 'local.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '32M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', local, '24M']);
  const port = await freePort();
  const nbd = await serveNbd(process.execPath, [CLI, 'nbd', 'serve', image, '--export', 'd', '--port', String(port)], { port });
  after(() => nbd.kill('SIGKILL'));
  // One switch over two hosts: each daemon's network 'lan', joined by VXLAN on loopback.
  const [u1, u2] = [await freePort(), await freePort()];
  await source.ok('POST', '/v1/networks', { name: 'lan', vxlan: [{ vni: 42, remote: `127.0.0.1:${u2}`, local: `127.0.0.1:${u1}` }] });
  await target.ok('POST', '/v1/networks', { name: 'lan', vxlan: [{ vni: 42, remote: `127.0.0.1:${u1}`, local: `127.0.0.1:${u2}` }] });
  const spec = {
    name: 'mover', memory: 256 << 20, boot: { image: 'debian', command: ['sh', '-c', COUNTER] },
    disks: [{ file: `nbd://127.0.0.1:${port}/d` }, { file: local, format: 'qcow2' }], nics: [{ network: 'switch', switch: 'lan' }],
  };
  const made = await source.ok<View>('POST', '/v1/vms', { spec });
  await source.ok('POST', '/v1/vms/mover/actions', { type: 'start' });
  const atSource = await source.console('mover');
  await atSource.expect(/count 3/, 300_000);
  const events = await target.events();

  // The dry run first: a prediction, and nothing left behind at the target.
  const dry = cli('migrate', 'mover', `unix:${target.socketPath}`, '--dry-run', '--host', `unix:${source.socketPath}`);
  assert.equal(dry.status, 0, dry.stderr + dry.stdout);
  t.diagnostic(dry.stdout.trim());
  assert.match(dry.stdout, /^mover would migrate to unix:\S+ in about [\d.]+ ms \(1 round\(s\)\) with about [\d.]+ ms of downtime$/m);
  assert.match(dry.stdout, /dirtying [\d.]+ MB\/s, link \d+ MB\/s, round trip [\d.]+ ms, restore there [\d.]+ ms/);
  assert.equal((await target.api('GET', '/v1/vms/mover')).status, 404, 'the dry run\'s waiting VM is gone again');
  assert.equal((await source.ok<View>('GET', '/v1/vms/mover')).status, 'running');

  const r = cli('migrate', 'mover', `unix:${target.socketPath}`, '--host', `unix:${source.socketPath}`);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  t.diagnostic(r.stdout.trim());
  assert.match(r.stdout, /^mover migrated to unix:\S+: \d+ ms, downtime \d+ ms, \d+ round\(s\), [\d.]+ MB$/m);
  const lastOnSource = Math.max(...counts(atSource.text));
  atSource.close();

  // Gone from the source; at the target with the same identity, running.
  assert.equal((await source.api('GET', '/v1/vms/mover')).status, 404);
  const moved = await target.ok<View>('GET', '/v1/vms/mover');
  assert.equal(moved.status, 'running');
  assert.equal(moved.spec.nics[0].mac, made.spec.nics[0].mac, 'the guest keeps its MAC');
  assert.equal(moved.spec.machineId, made.spec.machineId, 'and its machine id');
  const copy = (moved.spec as unknown as { disks: { file: string }[] }).disks[1].file;
  assert.ok(copy.startsWith(target.state), `the local disk was copied into the target's state: ${copy}`);
  assert.ok(events.seen.some((e) => e.event === 'MIGRATION' && e.data.vm.name === 'mover'), 'the target told of the incoming migration');
  events.close();
  // The announce: the target's switch has the MAC on the VM's port, and the source's
  // (which lost the VM's port) learns it behind the tunnel.
  const mac = made.spec.nics[0].mac;
  const where = async (d: Daemon) => (await d.ok<Network>('GET', '/v1/networks/lan')).macTable.find((e) => e.mac === mac)?.port;
  const poll = async (what: string, d: Daemon, port: string) => {
    for (let i = 0; (await where(d)) !== port; i++) {
      assert.ok(i < 50, `${what}: the MAC is at ${await where(d)}, not ${port}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await poll('the target\'s switch', target, 'mover');
  await poll('the source\'s switch', source, 'vxlan:0');
  const atTarget = await target.console('mover');
  await until('the counter at the target', () => counts(atTarget.text).some((n) => n > lastOnSource + 2), 120_000);
  assert.ok(counts(atTarget.text).every((n) => n > lastOnSource), `the target counts on from ${lastOnSource}: ${counts(atTarget.text).join(' ')}`);
  assert.doesNotMatch(atTarget.text, /Linux version/, 'no reboot');
  atTarget.close();

  await target.ok('POST', '/v1/vms/mover/actions', { type: 'stop' });
  assert.equal(await stopNbd(nbd), 0);
  assertCounterFiles(image, join(dir, 'check.raw'), [0, lastOnSource, lastOnSource + 2]);
  // The local disk's copy at the target has what was written before the switch-over and after.
  assertCounterFiles(copy, join(dir, 'check-copy.raw'), [0, lastOnSource, lastOnSource + 2]);
});

test('refusals leave the VM running at the source: a name taken at the target, no target, a bad address', { timeout: 600_000 }, async () => {
  await source.ok('POST', '/v1/vms', { spec: { name: 'stay', memory: 256 << 20, boot: { image: 'debian' } } });
  await target.ok('POST', '/v1/vms', { spec: { name: 'stay', memory: 256 << 20, boot: { image: 'debian' } } });
  await source.ok('POST', '/v1/vms/stay/actions', { type: 'start' });

  const taken = await source.api('POST', '/v1/vms/stay/migrate', { target: `unix:${target.socketPath}` });
  assert.equal(taken.status, 502);
  assert.match(taken.text, /the target daemon unix:\S+: refused \(HTTP 409\): a VM named stay exists already/);

  const nowhere = cli('migrate', 'stay', `unix:${join(dir, 'no-daemon.sock')}`, '--host', `unix:${source.socketPath}`);
  assert.equal(nowhere.status, 1);
  assert.match(nowhere.stderr, /the target daemon unix:\S+no-daemon\.sock: connect ENOENT/);

  const bad = await source.api('POST', '/v1/vms/stay/migrate', { target: 'ftp://somewhere' });
  assert.equal(bad.status, 400, 'a target that is no daemon address is a bad request');

  assert.equal((await source.ok<View>('GET', '/v1/vms/stay')).status, 'running', 'it runs on at the source');
  const shell = await source.shell('stay');
  assert.match(await shell.run('echo alive'), /alive/);
  shell.close();
  // The target kept only its own VM: nothing half-made was left behind.
  assert.deepEqual((await target.ok<View[]>('GET', '/v1/vms?all=true')).map((v) => `${v.name} ${v.status}`).filter((v) => !v.startsWith('mover ')), ['stay stopped']);
});
