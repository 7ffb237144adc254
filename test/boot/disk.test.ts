// virtio-blk on the real Debian guest: the guest makes an ext4 filesystem on rvisor's
// qcow2 and raw images, a second boot reads it back (as its root filesystem, from a
// linked clone), and QEMU's own tools accept every image rvisor wrote.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, ensureImage, rvisor } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-disk-boot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

const path = (name: string) => join(dir, name);
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const disk = (...args: string[]) => run(process.execPath, [CLI, 'disk', ...args]);

/** Guest script lines, joined for `sh -c`. */
const script = (...lines: string[]) => ['sh', '-c', lines.join('\n')];

test('a guest filesystem on rvisor qcow2 and raw disks survives into a second boot from a linked clone', async () => {
  disk('create', '-f', 'qcow2', path('base.qcow2'), '64M');
  disk('create', '-f', 'raw', path('data.img'), '16M');
  // A backing chain made by QEMU's tools, with a pattern written by qemu-io in each layer.
  run('qemu-img', ['create', '-q', '-f', 'qcow2', path('qbase.qcow2'), '4M']);
  run('qemu-io', ['-c', 'write -P 0x5a 0 1M', path('qbase.qcow2')]);
  run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', path('qbase.qcow2'), '-F', 'qcow2', path('qtop.qcow2')]);
  run('qemu-io', ['-c', 'write -P 0xa5 512k 1M', path('qtop.qcow2')]);
  const expected = Buffer.alloc(4 << 20);
  expected.fill(0x5a, 0, 1 << 20);
  expected.fill(0xa5, 512 << 10, (512 + 1024) << 10);
  const expectedSha = createHash('sha256').update(expected).digest('hex');

  // Boot 1: vda is the qcow2 base, vdb the raw disk. The guest copies its own initramfs
  // onto vda, so that vda can be a root filesystem next time.
  const first = await rvisor(['run', 'debian', '--disk', `file=${path('base.qcow2')},format=qcow2`, '--disk', path('data.img'), '--', ...script(
    'set -e',
    // BusyBox's mke2fs makes ext2, which Linux mounts through its ext4 driver.
    'mke2fs -F /dev/vda >/dev/null',
    'mke2fs -F /dev/vdb >/dev/null',
    'mkdir -p /a /b && mount /dev/vda /a && mount /dev/vdb /b',
    'for d in bin etc lib root usr sbin init; do cp -a /$d /a/; done',
    'mkdir -p /a/proc /a/sys /a/dev /a/mnt /a/tmp',
    'seq 1 50000 > /a/numbers && seq 1 1000 > /b/small',
    'sha256sum /a/numbers /b/small',
    'umount /a /b',
  )]);
  assert.equal(first.status, 0, first.stderr + first.stdout.slice(-3000));
  const numbersSha = /^([0-9a-f]{64})\s+\/a\/numbers$/m.exec(first.stdout)?.[1];
  const smallSha = /^([0-9a-f]{64})\s+\/b\/small$/m.exec(first.stdout)?.[1];
  assert.ok(numbersSha && smallSha, first.stdout.slice(-3000));
  run('qemu-img', ['check', '-q', path('base.qcow2')]);

  // Boot 2: a linked clone of the base is the root filesystem; the base must not change.
  const baseSha = sha(path('base.qcow2'));
  disk('create', '-f', 'qcow2', '-b', path('base.qcow2'), '-F', 'qcow2', path('clone.qcow2'));
  const second = await rvisor(['run', 'debian', '--append', 'console=ttyS0 quiet panic=-1 root=/dev/vda',
    '--disk', `file=${path('clone.qcow2')}`, '--disk', `file=${path('data.img')},format=raw`, '--disk', `file=${path('qtop.qcow2')},ro`, '--', ...script(
      'set -e',
      'grep -q "^/dev/vda / " /proc/mounts && echo root-is-vda',
      'sha256sum /numbers',
      'mount -o ro /dev/vdb /mnt && sha256sum /mnt/small',
      'dd if=/dev/vdc bs=64k 2>/dev/null | sha256sum | sed "s/-/vdc/"',
      'echo written-on-the-clone > /clone-note && sync',
      'if dd if=/dev/zero of=/dev/vdc count=1 2>/dev/null; then echo vdc-writable; fi',
    )]);
  assert.equal(second.status, 0, second.stderr + second.stdout.slice(-3000));
  assert.match(second.stdout, /^root-is-vda$/m);
  assert.match(second.stdout, new RegExp(`^${numbersSha}\\s+/numbers$`, 'm'));
  assert.match(second.stdout, new RegExp(`^${smallSha}\\s+/mnt/small$`, 'm'));
  assert.match(second.stdout, new RegExp(`^${expectedSha}\\s+vdc$`, 'm'));
  assert.doesNotMatch(second.stdout, /vdc-writable/);

  assert.equal(sha(path('base.qcow2')), baseSha, 'the linked clone wrote to its base');
  run('qemu-img', ['check', '-q', path('clone.qcow2')]);
  run('qemu-img', ['check', '-q', path('qtop.qcow2')]);
  // QEMU's reading of the clone holds the guest's file.
  run('qemu-img', ['convert', '-O', 'raw', path('clone.qcow2'), path('clone.raw')]);
  assert.equal(run('debugfs', ['-R', 'cat /clone-note', path('clone.raw')]).trim(), 'written-on-the-clone');
  assert.equal(run('debugfs', ['-R', 'cat /numbers', path('clone.raw')]).split('\n')[49999], '50000');
});
