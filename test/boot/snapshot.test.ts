// Snapshots of a running Debian guest: save one through QMP, kill the process, start a
// new one from the snapshot (paused, -S) and see the guest's counter continue where it
// was, with its disk put back as it was at the snapshot.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QmpClient, type Msg } from '../vmm/qmp-client.js';
import { CLI, ensureImage, until } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-snap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

const env = { ...process.env, RVISOR_STATE: join(dir, 'state') };

function start(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'run', 'debian', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const p = { child, out: '', err: '', exited: new Promise<number | null>((r) => child.on('close', r)) };
  child.stdout.on('data', (d) => (p.out += d));
  child.stderr.on('data', (d) => (p.err += d));
  after(() => child.kill('SIGKILL'));
  return p;
}

const counts = (out: string) => [...out.matchAll(/^count (\d+)$/gm)].map((m) => Number(m[1]));


/** Files on the guest's ext2 disk, read by debugfs from a raw copy of the qcow2 image. */
function guestFiles(image: string): string[] {
  const raw = join(dir, 'check.raw');
  execFileSync('qemu-img', ['convert', '-O', 'raw', image, raw]);
  const ls = execFileSync('debugfs', ['-R', 'ls -p /', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return ls.split('\n').map((l) => l.split('/')[5]).filter((n) => n && n !== '.' && n !== '..' && n !== 'lost+found').sort();
}

test('a snapshot survives the process: the counter continues and later disk writes are undone', async () => {
  const disk = join(dir, 'disk.qcow2');
  execFileSync(process.execPath, [CLI, 'disk', 'create', '-f', 'qcow2', disk, '32M']);
  const qmp1 = join(dir, 'one.sock');
  const script = 'mke2fs -F /dev/vda >/dev/null; mount /dev/vda /mnt; echo kept > /mnt/before; sync; i=0; while :; do echo count $i; echo $i > /mnt/after-$i; sync; i=$((i+1)); sleep 1; done';
  const one = start(['--qmp', `unix:${qmp1}`, '--disk', `file=${disk}`, '--', 'sh', '-c', script]);
  await until('the counter', () => counts(one.out).length >= 3);

  execFileSync(process.execPath, [CLI, 'snapshot', 'save', 'counter', '--qmp', `unix:${qmp1}`], { env });
  // Output read so far may lag the guest by a line or so; the restored run tells exactly
  // where the snapshot was taken.
  const seen = Math.max(...counts(one.out));
  await until('counting past the snapshot', () => Math.max(...counts(one.out)) >= seen + 4, 120_000);
  one.child.kill('SIGKILL');
  await one.exited;
  const afterFiles = (files: string[]) => files.filter((f) => f.startsWith('after-')).map((f) => Number(f.slice(6)));
  const writtenBeforeKill = Math.max(...afterFiles(guestFiles(disk)));
  assert.match(execFileSync(process.execPath, [CLI, 'snapshot', 'ls'], { env, encoding: 'utf8' }), /^counter\s/m);

  // A new process, paused from the start, on the snapshot: its disk is back at the snapshot.
  const qmp2 = join(dir, 'two.sock');
  const two = start(['--qmp', `unix:${qmp2}`, '-S', '--disk', `file=${disk}`, '--loadvm', 'counter', '--', 'sh', '-c', script]);
  await until('the QMP socket', () => {
    try {
      execFileSync('test', ['-S', qmp2]);
      return true;
    } catch {
      return false;
    }
  }, 60_000);
  const c = await QmpClient.open(qmp2);
  await c.next();
  await c.execute('qmp_capabilities');
  assert.equal(((await c.execute('query-status')).return as Msg).status, 'paused');
  const files = guestFiles(disk);
  assert.ok(files.includes('before'), files.join(' '));
  const revertedTo = Math.max(...afterFiles(files));

  await c.execute('cont');
  await until('the restored counter', () => counts(two.out).length >= 2, 120_000);
  // The guest carries on from its snapshot (no reboot, no count from 0): the last count
  // before the snapshot was first - 1, and its file may or may not have reached the disk.
  const first = counts(two.out)[0];
  assert.ok(first > 0, two.out.slice(-1000));
  assert.ok(revertedTo === first - 1 || revertedTo === first - 2, `restored at count ${first}, disk holds after-${revertedTo}`);
  assert.ok(writtenBeforeKill > first, `the first run wrote up to after-${writtenBeforeKill}, the snapshot was at ${first - 1}`);
  assert.deepEqual(counts(two.out).slice(0, 2), [first, first + 1]);
  assert.doesNotMatch(two.out, /Linux version/);
  c.send(JSON.stringify({ execute: 'quit' }));
  assert.equal(await two.exited, 0, two.err);
});

test('a corrupt or unknown snapshot is refused with one clear line', async () => {
  const r = spawn(process.execPath, [CLI, 'run', 'debian', '--loadvm', 'no-such-snapshot', '--', 'true'], { env });
  let err = '';
  r.stderr.on('data', (d) => (err += d));
  const status = await new Promise<number | null>((res) => r.on('close', res));
  assert.equal(status, 2);
  assert.match(err, /^rvisor: no snapshot no-such-snapshot/);
});

test('loading a corrupt snapshot, or one of another machine, into a running VM changes nothing: the guest runs on', async () => {
  const snaps = join(dir, 'state', 'snapshots');
  cpSync(join(snaps, 'counter'), join(snaps, 'broken'), { recursive: true });
  const vm = join(snaps, 'broken', 'vm.rvsnap');
  const bytes = readFileSync(vm);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(vm, bytes);
  const disk = join(dir, 'disk.qcow2');
  const qmp = join(dir, 'three.sock');
  // 'counter' was taken with 512 MiB: this machine has 1 GiB, so its config cannot match.
  const three = start(['--qmp', `unix:${qmp}`, '--mem', '1G', '--disk', `file=${disk}`, '--', 'sh', '-c',
    'i=0; while :; do echo count $i; i=$((i+1)); sleep 1; done']);
  await until('the counter', () => counts(three.out).length >= 2);
  const c = await QmpClient.open(qmp);
  await c.next();
  await c.execute('qmp_capabilities');
  const diskBefore = readFileSync(disk);
  const hmp = async (line: string) => ((await c.execute('human-monitor-command', { 'command-line': line })).return as string);
  assert.match(await hmp('loadvm broken'), /snapshot broken: .*checksum/i);
  assert.match(await hmp('loadvm counter'), /snapshot counter: .*memSize/);
  assert.ok(readFileSync(disk).equals(diskBefore), 'the disk image was not touched');
  assert.equal(((await c.execute('query-status')).return as Msg).status, 'running');
  const now = Math.max(...counts(three.out));
  await until('the guest counting on', () => Math.max(...counts(three.out)) >= now + 2, 60_000);
  assert.deepEqual(counts(three.out), counts(three.out).map((_, i) => i), 'no reboot, no jump');
  c.send(JSON.stringify({ execute: 'quit' }));
  assert.equal(await three.exited, 0, three.err);
});
