// A system image's root disk on a VM: a throwaway overlay or the user's, backed by the
// image's disk (qemu-img reads the chain), first among the disks, with root= placed
// before the guest command's words; a daemon VM's spec gets it stored; an image without
// a root disk refuses --root-disk.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { saveImage, IMAGE_LAYOUT } from '../../src/host/image/store.js';
import type { HostBootFiles } from '../../src/host/vm/boot-files.js';
import { attachRootDisk, withRootDiskSpec } from '../../src/host/vm/root-disk.js';
import { createDisk } from '../../src/storage/index.js';
import { parseVmSpec } from '../../src/vmm/spec.js';

const scratch = mkdtempSync(join(tmpdir(), 'rvisor-root-disk-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const MANIFEST = {
  format: 1 as const, name: 'debian-system', created: '2026-01-01T00:00:00.000Z',
  source: { distribution: 'debian' as const, suite: 'sid', architecture: 'riscv64', mirror: 'http://mirror.example/debian' },
  kernelVersion: 'test', kernelFormat: 'test', packages: [], modules: [], layout: IMAGE_LAYOUT,
};

async function systemImage() {
  const disk = join(scratch, 'built.qcow2');
  createDisk({ file: disk, format: 'qcow2', size: 64 << 20 });
  return saveImage(MANIFEST, { kernel: new Uint8Array(8), initrd: new Uint8Array(8) }, mkdtempSync(join(scratch, 'cache-')), disk);
}

const backingChain = (file: string) => {
  const r = spawnSync('qemu-img', ['info', '--backing-chain', '--output=json', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { filename: string }[]).map((i) => i.filename);
};

function files(image: Awaited<ReturnType<typeof systemImage>>, append: string): HostBootFiles {
  return { kernel: new Uint8Array(8), append, baseAppend: append.split(' -- ')[0], runWords: [], image };
}

test('a run gets a throwaway overlay as its first disk, and root= goes before the command', async () => {
  const image = await systemImage();
  const spec = parseVmSpec({ memory: 256 << 20, boot: { image: 'debian-system', command: ['true'] }, disks: [{ file: join(scratch, 'data.qcow2') }] });
  const r = await attachRootDisk(spec, files(image, 'console=ttyS0 quiet -- echo hi'));
  assert.deepEqual(r.spec.disks.map((d) => d.file).slice(1), [join(scratch, 'data.qcow2')]);
  const overlay = r.spec.disks[0].file;
  assert.deepEqual(backingChain(overlay), [overlay, image.rootDisk]);
  assert.equal(r.files.append, 'console=ttyS0 quiet root=/dev/vda -- echo hi');
  assert.equal(r.files.baseAppend, 'console=ttyS0 quiet root=/dev/vda');
  await r.cleanup();
  assert.equal(existsSync(dirname(overlay)), false, 'the overlay outlived the run');
});

test("--root-disk is made on first use and kept; a command line with root= keeps its own", async () => {
  const image = await systemImage();
  const spec = parseVmSpec({ memory: 256 << 20, boot: { image: 'debian-system' } });
  const mine = join(scratch, 'mine.qcow2');
  const first = await attachRootDisk(spec, files(image, 'console=ttyS0 root=/dev/vdb'), mine);
  await first.cleanup();
  assert.deepEqual(backingChain(mine), [mine, image.rootDisk]);
  assert.equal(first.files.append, 'console=ttyS0 root=/dev/vdb');
  const made = statSync(mine).mtimeMs;
  const again = await attachRootDisk(spec, files(image, 'console=ttyS0'), mine);
  assert.equal(again.spec.disks[0].file, mine);
  assert.equal(statSync(mine).mtimeMs, made, 'an existing --root-disk was made anew');
});

test("a daemon VM's spec stores the overlay and root=; an image without a root disk refuses --root-disk", async () => {
  const image = await systemImage();
  const spec = parseVmSpec({ name: 'sys', memory: 256 << 20, boot: { image: 'debian-system' } });
  const file = join(scratch, 'vm-root.qcow2');
  const stored = await withRootDiskSpec(spec, image, file);
  assert.deepEqual(stored.disks, [{ file, format: 'qcow2' }]);
  assert.match(stored.boot.append ?? '', /^console=ttyS0 .*root=\/dev\/vda$/);
  assert.equal(await withRootDiskSpec(stored, image, join(scratch, 'other.qcow2')), stored, 'a spec with root= got a second root disk');
  const plain = { ...image, rootDisk: undefined, name: 'debian' };
  await assert.rejects(attachRootDisk(spec, files(plain, 'console=ttyS0'), join(scratch, 'x.qcow2')), /--root-disk: image debian has no root disk/);
});
