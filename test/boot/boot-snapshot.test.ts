// Instant start on the real Debian guest: the first `rvisor run` of a configuration boots
// and saves its boot snapshot, later runs restore it. A restored run gives the command's
// output and exit status as a real boot does, with the network and a shared folder; two
// runs from one snapshot read different random bytes and see the current time; a
// corrupt snapshot is never used but remade.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cacheRoot } from '../../src/host/image/store.js';
import { ensureImage, rvisor } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-bootsnap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

const snapshotDir = join(cacheRoot(), 'images', 'debian', 'boot-snapshots');
/** A kernel command line of this test run alone, so its snapshots are its own. */
const APPEND = `console=ttyS0 quiet earlycon=sbi panic=-1 rvisor.test=${process.pid}-${Date.now()}`;

const PROGRAM = 'echo out; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; date +%s; exit 5';

async function once(extra: string[] = [], program = PROGRAM) {
  const started = Date.now() / 1000;
  const r = await rvisor(['run', 'debian', '--append', APPEND, ...extra, '--', 'sh', '-c', program]);
  return { ...r, started, ended: Date.now() / 1000, lines: r.stdout.split(/\r?\n/).filter(Boolean) };
}

test('a restored run gives the output and status of a real boot; no two runs share random numbers; all see the time', async () => {
  const made = await once();
  assert.match(made.stderr, /made boot snapshot [0-9a-f]{12}/, made.stderr);
  const restored = [await once(), await once()];
  const real = await once(['--no-boot-snapshot']);
  assert.doesNotMatch(real.stderr, /boot snapshot/);
  for (const r of [made, ...restored, real]) {
    assert.equal(r.status, 5, r.stdout + r.stderr);
    assert.equal(r.lines[0], 'out', r.stdout);
    assert.match(r.lines[1], /^[0-9a-f]{32}$/, r.stdout);
    const guestTime = Number(r.lines[2]);
    // Read while the run lasted (a loaded host makes a real boot slow: not the clock's fault).
    assert.ok(guestTime >= Math.floor(r.started) - 2 && guestTime <= r.ended + 2, `the guest's clock says ${guestTime}, the run lasted from ${r.started} to ${r.ended}`);
  }
  for (const r of restored) assert.doesNotMatch(r.stderr, /boot snapshot|booting/, 'it restored, without remaking');
  const randoms = [made, ...restored, real].map((r) => r.lines[1]);
  assert.equal(new Set(randoms).size, randoms.length, `random bytes repeat: ${randoms.join(' ')}`);
  const list = (await rvisor(['image', 'ls'])).stdout;
  assert.match(list, new RegExp(`boot snapshot ${/made boot snapshot ([0-9a-f]{12})/.exec(made.stderr)![1]}: 512 MiB RAM, 1 hart`));
});

test('a corrupt boot snapshot is not used: the run says so, boots, and makes it again', async () => {
  const program = 'echo fine';
  const first = await once(['--mem', '384M'], program);
  assert.match(first.stderr, /made boot snapshot ([0-9a-f]{12})/);
  const key = /made boot snapshot ([0-9a-f]{12})/.exec(first.stderr)![1];
  const file = join(snapshotDir, readdirSync(snapshotDir).find((n) => n.startsWith(key) && n.endsWith('.rvsnap'))!);
  // One byte in the middle (RAM) flipped.
  const fd = openSync(file, 'r+');
  const at = Math.floor(statSync(file).size / 2);
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] ^= 0xff;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
  const again = await once(['--mem', '384M'], program);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(again.lines, ['fine']);
  assert.match(again.stderr, /boot snapshot [0-9a-f]{12} is unusable \(the snapshot is corrupt: SHA-256 checksum mismatch\): booting to make it again/);
  assert.match(again.stderr, /made boot snapshot/);
  const third = await once(['--mem', '384M'], program);
  assert.deepEqual(third.lines, ['fine']);
  assert.equal(third.stderr, '', 'the remade snapshot is used');
});

test('restored runs reach the host through the NAT and read a shared folder', async () => {
  const share = join(dir, 'share');
  rmSync(share, { recursive: true, force: true });
  mkdirSync(share);
  writeFileSync(join(share, 'note.txt'), 'from the host\n');
  const server = createServer((_, res) => res.end('page of the host\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const program = `cat /mnt/notes/note.txt; wget -q -O - http://10.0.2.2:${port}/; echo written > /mnt/notes/back.txt`;
    const runs = [await once(['--share', `${share}:notes`], program), await once(['--share', `${share}:notes`], program)];
    assert.match(runs[0].stderr, /made boot snapshot/);
    assert.equal(runs[1].stderr, '');
    for (const r of runs) {
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.deepEqual(r.lines, ['from the host', 'page of the host']);
    }
    assert.ok(readdirSync(share).includes('back.txt'));
  } finally {
    server.close();
  }
});

test('a restored run gets its own disks: their size and contents, not those of the run that made the snapshot', async () => {
  const disk = (name: string, mib: number) => {
    const file = join(dir, name);
    writeFileSync(file, Buffer.alloc(0));
    const r = spawnSync('mkfs.ext4', ['-q', '-F', file, `${mib}M`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return file;
  };
  const a = disk('a.img', 16), b = disk('b.img', 24);
  const program = 'cat /sys/block/vda/size; mount /dev/vda /mnt && { cat /mnt/note 2>/dev/null || echo none; echo "$0" > /mnt/note; umount /mnt; }';
  const run = (file: string, tag: string) => once(['--disk', `file=${file},format=raw`], program.replace('"$0"', tag));
  const first = await run(a, 'from-a1');
  assert.match(first.stderr, /made boot snapshot/);
  assert.deepEqual(first.lines, [String(16 * 2048), 'none']);
  const second = await run(a, 'from-a2');
  assert.equal(second.stderr, '', 'restored');
  assert.deepEqual(second.lines, [String(16 * 2048), 'from-a1']);
  const other = await run(b, 'from-b');
  assert.equal(other.stderr, '');
  assert.deepEqual(other.lines, [String(24 * 2048), 'none'], 'the other disk, with its own size');
  for (const file of [a, b]) {
    const fsck = spawnSync('e2fsck', ['-fn', file], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
  }
});
