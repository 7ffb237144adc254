// The disk attacks of hostile testing, made by a real guest: it dd's a qcow2 header that
// names a host file as its backing file onto its probed raw /dev/vda, and writes to a
// qcow2 disk whose refcount block calls every cluster free. Both writes fail in the
// guest with an I/O error; the next boot with the same disk still sees a raw disk and no
// host file; the qcow2 image is marked corrupt with its header intact.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, ensureImage, rvisor } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-hostile-boot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());
const path = (name: string) => join(dir, name);
const sh = (...lines: string[]) => ['sh', '-c', lines.join('\n')];

test('a guest cannot turn its disks into a window on host files or wreck qcow2 metadata', async () => {
  execFileSync(process.execPath, [CLI, 'disk', 'create', '-f', 'raw', path('vda.img'), '64M']);
  // The host file the attack aims at: a secret the guest must never read.
  writeFileSync(path('secret'), 'host-secret-7f3a\n'.repeat(64));
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', path('secret'), '-F', 'raw', path('h.qcow2'), '64M']);
  mkdirSync(path('share'));
  writeFileSync(path('share/evil.bin'), readFileSync(path('h.qcow2')).subarray(0, 256 * 1024));
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path('zr.qcow2'), '64M']);
  const zr = readFileSync(path('zr.qcow2'));
  zr.fill(0, 0x20000, 0x30000); // the refcount block: every cluster "free"
  writeFileSync(path('zr.qcow2'), zr);

  const attack = await rvisor(['run', 'debian', '--disk', `file=${path('vda.img')}`, '--disk', `file=${path('zr.qcow2')}`,
    '--share', `${path('share')}:evil,ro`, '--', ...sh(
      'dd if=/mnt/evil/evil.bin of=/dev/vda bs=64k conv=fsync 2>/dev/null; echo "vda-dd=$?"',
      'dd if=/mnt/evil/evil.bin of=/dev/vdb bs=4k count=1 conv=fsync 2>/dev/null; echo "vdb-dd=$?"',
    )]);
  assert.equal(attack.status, 0, attack.stderr + attack.stdout.slice(-3000));
  assert.match(attack.stdout, /vda-dd=[1-9]/, attack.stdout.slice(-3000));
  assert.match(attack.stdout, /vdb-dd=[1-9]/, attack.stdout.slice(-3000));
  assert.match(attack.stderr, /vda\.img: the format was not given and probing guessed raw/);
  assert.match(attack.stderr, /zr\.qcow2: marking the image corrupt: refused .* overlaps the header/);

  // The qcow2 image: marked corrupt, its header otherwise byte for byte as it was.
  const after = readFileSync(path('zr.qcow2'));
  assert.equal(after.readUInt32BE(76) & 2, 2, 'corrupt bit');
  after.writeUInt32BE(zr.readUInt32BE(76), 76);
  assert.ok(after.subarray(0, 0x10000).equals(zr.subarray(0, 0x10000)), 'header intact');
  assert.match(execFileSync('qemu-img', ['info', path('zr.qcow2')], { encoding: 'utf8' }), /corrupt: true/);

  // The same raw disk on the next boot: still raw, 64 MiB, and no byte of the host file.
  const next = await rvisor(['run', 'debian', '--disk', `file=${path('vda.img')}`, '--', ...sh(
    'echo "sectors=$(cat /sys/block/vda/size)"',
    'if grep -q host-secret /dev/vda; then echo leaked; else echo "no-secret"; fi',
  )]);
  assert.equal(next.status, 0, next.stderr + next.stdout.slice(-3000));
  assert.match(next.stdout, /sectors=131072/);
  assert.match(next.stdout, /no-secret/);
  assert.doesNotMatch(next.stdout, /leaked/);
  assert.doesNotMatch(execFileSync('qemu-img', ['info', path('vda.img')], { encoding: 'utf8' }), /backing file/);
});
