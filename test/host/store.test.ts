// The image cache: saving, checksum verification on open, ls and rm.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ImageMissing } from '../../src/host/image/errors.js';
import { cacheRoot, checkRootDisk, IMAGE_LAYOUT, listImages, openImage, removeImage, saveImage } from '../../src/host/image/store.js';

const MANIFEST = {
  format: 1 as const,
  name: 'debian',
  created: '2025-01-01T00:00:00.000Z',
  source: { distribution: 'debian' as const, suite: 'sid', architecture: 'riscv64', mirror: 'http://mirror.example/debian' },
  kernelVersion: '7.0.0-test-riscv64',
  kernelFormat: 'test',
  packages: [{ name: 'busybox-static', version: '1:1.0-1', sha256: '00'.repeat(32) }],
  modules: ['virtio_mmio'],
  layout: IMAGE_LAYOUT,
};

const scratch = mkdtempSync(join(tmpdir(), 'rvisor-store-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function fixture() {
  const cache = mkdtempSync(join(scratch, 'cache-'));
  const kernel = new Uint8Array(1000).fill(7);
  const initrd = new Uint8Array(300).fill(9);
  const info = await saveImage(MANIFEST, { kernel, initrd }, cache);
  return { cache, kernel, initrd, info };
}

test('cache root: explicit dir, RVISOR_CACHE, XDG_CACHE_HOME, then ~/.cache', () => {
  assert.equal(cacheRoot('/x', { RVISOR_CACHE: '/y' }), '/x');
  assert.equal(cacheRoot(undefined, { RVISOR_CACHE: '/y', XDG_CACHE_HOME: '/z' }), '/y');
  assert.equal(cacheRoot(undefined, { XDG_CACHE_HOME: '/z' }), '/z/rvisor');
  assert.equal(cacheRoot(undefined, { XDG_CACHE_HOME: 'relative' }), join(homedir(), '.cache/rvisor'));
  assert.equal(cacheRoot(undefined, {}), join(homedir(), '.cache/rvisor'));
});

test('a saved image opens with the same bytes and a manifest of sizes and SHA-256s', async () => {
  const { cache, kernel, initrd, info } = await fixture();
  assert.equal(info.dir, join(cache, 'images/debian'));
  assert.equal(info.size, 1300);
  const manifest = JSON.parse(readFileSync(join(info.dir, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.files, {
    kernel: { size: 1000, sha256: createHash('sha256').update(kernel).digest('hex') },
    initrd: { size: 300, sha256: createHash('sha256').update(initrd).digest('hex') },
  });
  const opened = await openImage('debian', cache);
  assert.deepEqual(new Uint8Array(opened.kernel), kernel);
  assert.deepEqual(new Uint8Array(opened.initrd), initrd);
  assert.equal(opened.info.manifest.kernelVersion, '7.0.0-test-riscv64');
});

test('a corrupted, truncated or missing file is caught on open', async () => {
  const { cache, info } = await fixture();
  const initrd = readFileSync(info.initrdPath);
  initrd[100] ^= 1;
  writeFileSync(info.initrdPath, initrd);
  await assert.rejects(openImage('debian', cache), {
    name: 'ImageError',
    message: 'image debian is corrupt (initrd does not match its checksum): re-run rvisor image pull debian',
  });

  const again = await fixture();
  writeFileSync(again.info.kernelPath, readFileSync(again.info.kernelPath).subarray(0, 999));
  await assert.rejects(openImage('debian', again.cache), /kernel does not match its checksum/);

  const third = await fixture();
  rmSync(third.info.kernelPath);
  await assert.rejects(openImage('debian', third.cache), /kernel is missing/);

  const fourth = await fixture();
  writeFileSync(join(fourth.info.dir, 'manifest.json'), '{');
  await assert.rejects(openImage('debian', fourth.cache), /manifest.json is not JSON/);
});

test('ls lists images with their manifests; rm removes one; a missing image is an ImageError', async () => {
  const { cache } = await fixture();
  const listed = await listImages(cache);
  assert.deepEqual(
    listed.map((i) => [i.name, i.size, i.manifest.kernelVersion]),
    [['debian', 1300, '7.0.0-test-riscv64']],
  );
  await removeImage('debian', cache);
  assert.deepEqual(await listImages(cache), []);
  await assert.rejects(removeImage('debian', cache), { name: 'ImageError', message: 'no image debian' });
  await assert.rejects(openImage('debian', cache), { message: 'no image debian: run rvisor image pull debian' });
  await assert.rejects(removeImage('../etc', cache), /bad image name/);
  assert.deepEqual(await listImages(join(cache, 'nothing-here')), []);
});

test('re-saving replaces the image atomically', async () => {
  const { cache } = await fixture();
  await saveImage({ ...MANIFEST, kernelVersion: 'newer' }, { kernel: new Uint8Array(5), initrd: new Uint8Array(6) }, cache);
  const opened = await openImage('debian', cache);
  assert.equal(opened.info.manifest.kernelVersion, 'newer');
  assert.equal(opened.kernel.length, 5);
});

test('an image made for an older /init counts as missing, so it is pulled again', async () => {
  const cache = mkdtempSync(join(scratch, 'cache-'));
  await saveImage({ ...MANIFEST, layout: IMAGE_LAYOUT - 1 }, { kernel: new Uint8Array(8), initrd: new Uint8Array(8) }, cache);
  await assert.rejects(openImage('debian', cache), (e: Error) => e instanceof ImageMissing && /older rvisor/.test(e.message));
  assert.deepEqual(await listImages(cache), []);
});

test("a system image's root disk is moved in with its checksum; a changed byte, a truncation or a missing disk is caught", async () => {
  const cache = mkdtempSync(join(scratch, 'cache-'));
  const disk = join(scratch, 'disk-in.qcow2');
  writeFileSync(disk, new Uint8Array(4096).fill(5));
  const info = await saveImage({ ...MANIFEST, name: 'debian-system' }, { kernel: new Uint8Array(10), initrd: new Uint8Array(10) }, cache, disk);
  assert.equal(info.rootDisk, join(cache, 'images/debian-system/disk.qcow2'));
  assert.equal(info.manifest.files['disk.qcow2'].sha256, createHash('sha256').update(new Uint8Array(4096).fill(5)).digest('hex'));
  assert.equal(await checkRootDisk(info), info.rootDisk);
  // The same size, one byte changed (which changes the mtime too).
  const bytes = readFileSync(info.rootDisk!);
  bytes[100] ^= 1;
  writeFileSync(info.rootDisk!, bytes);
  await assert.rejects(checkRootDisk(info), /image debian-system is corrupt \(disk\.qcow2 does not match its checksum\): re-run rvisor image pull debian-system/);
  writeFileSync(info.rootDisk!, bytes.subarray(1));
  await assert.rejects(checkRootDisk(info), /does not match its checksum/);
  rmSync(info.rootDisk!);
  await assert.rejects(checkRootDisk(info), /disk\.qcow2 is missing/);
});
