// `rvisor image pull debian`: its error paths (no network needed), and a real pull from
// the host's Debian mirror, opt-in with RVISOR_NETWORK_TESTS=1, which also boots the image
// under QEMU when qemu-system-riscv64 is installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ImageError, listImages, openImage, pullImage, removeImage } from '../../src/host/index.js';
import { parseRiscvImage } from '../../src/host/image/kernel.js';

const hasApt = spawnSync('apt-get', ['--version']).status === 0;
const network = process.env.RVISOR_NETWORK_TESTS === '1';
const hasQemu = spawnSync('qemu-system-riscv64', ['--version']).status === 0;

const root = mkdtempSync(join(tmpdir(), 'rvisor-pull-'));
after(() => rmSync(root, { recursive: true, force: true }));

function scratch() {
  const dir = mkdtempSync(join(root, 'case-'));
  const keyring = join(dir, 'keyring.gpg');
  writeFileSync(keyring, '');
  return { cache: join(dir, 'cache'), keyring };
}

test('an unknown image name is an ImageError', async () => {
  await assert.rejects(pullImage('fedora'), { name: 'ImageError', message: 'unknown image "fedora": rvisor can pull debian, debian-system' });
});

test('no apt-get on the host: one clear error', async () => {
  const { cache, keyring } = scratch();
  const env = { PATH: '/nonexistent', RVISOR_DEBIAN_MIRROR: 'http://mirror.example/debian', RVISOR_DEBIAN_KEYRING: keyring };
  await assert.rejects(pullImage('debian', { cacheDir: cache, env }), (e: unknown) => {
    assert.ok(e instanceof ImageError);
    assert.match(e.message, /^apt-get not found: /);
    return true;
  });
});

test('a missing keyring: one clear error', async () => {
  const env = { ...process.env, RVISOR_DEBIAN_MIRROR: 'http://mirror.example/debian', RVISOR_DEBIAN_KEYRING: '/nonexistent.gpg' };
  await assert.rejects(pullImage('debian', { cacheDir: scratch().cache, env }), /no Debian archive keyring at \/nonexistent\.gpg/);
});

test('an unreachable mirror: one clear error', { skip: hasApt ? false : 'apt-get not installed' }, async () => {
  const { cache, keyring } = scratch();
  // Port 9 (discard) on loopback: refused at once, no network involved.
  const env = { ...process.env, RVISOR_DEBIAN_MIRROR: 'http://127.0.0.1:9/debian', RVISOR_DEBIAN_KEYRING: keyring };
  await assert.rejects(pullImage('debian', { cacheDir: cache, env }), {
    name: 'ImageError',
    message: 'cannot reach the Debian mirror http://127.0.0.1:9/debian (no network?); set RVISOR_DEBIAN_MIRROR to use another',
  });
});

test('a mirror without sid or forky: both suites are tried, then one clear error', { skip: hasApt ? false : 'apt-get not installed' }, async () => {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const { cache, keyring } = scratch();
    const mirror = `http://127.0.0.1:${port}/debian`;
    const env = { ...process.env, RVISOR_DEBIAN_MIRROR: mirror, RVISOR_DEBIAN_KEYRING: keyring };
    await assert.rejects(pullImage('debian', { cacheDir: cache, env }), {
      name: 'ImageError',
      message: new RegExp(`^cannot find linux-image-riscv64 and busybox-static for riscv64 at ${mirror} \\(sid: .*; forky: .*\\)$`),
    });
    assert.ok(requests.includes('/debian/dists/sid/InRelease'));
    assert.ok(requests.includes('/debian/dists/forky/InRelease'));
  } finally {
    server.close();
  }
});

test('a real pull from the host mirror, then a boot', { skip: network ? false : 'set RVISOR_NETWORK_TESTS=1', timeout: 600_000 }, async (t) => {
  const cache = scratch().cache;
  const lines: string[] = [];
  const info = await pullImage('debian', { cacheDir: cache, progress: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.startsWith('apt-get update')));
  const m = info.manifest;
  assert.equal(m.source.architecture, 'riscv64');
  assert.ok(['sid', 'forky'].includes(m.source.suite));
  for (const p of ['linux-image-riscv64', 'busybox-static']) assert.ok(m.packages.some((q) => q.name === p), p);
  for (const mod of ['virtio_mmio', 'virtio_blk', 'virtio_net', '9pnet_virtio', '9p', 'ext4']) assert.ok(m.modules.includes(mod), mod);

  const { kernel, initrd } = await openImage('debian', cache);
  assert.ok(parseRiscvImage(kernel), 'kernel is a RISC-V Image');
  const cpio = new TextDecoder('latin1').decode(gunzipSync(initrd));
  for (const name of ['init\0', 'bin/busybox\0', `lib/modules/${m.kernelVersion}/modules.dep\0`, `lib/modules/${m.kernelVersion}/kernel/fs/ext4/ext4.ko\0`]) {
    assert.ok(cpio.includes(name), name);
  }
  assert.deepEqual((await listImages(cache)).map((i) => i.name), ['debian']);

  await t.test('boots under QEMU, runs the command and exits with its status', { skip: hasQemu ? false : 'qemu-system-riscv64 not installed' }, () => {
    const r = spawnSync(
      'qemu-system-riscv64',
      ['-M', 'virt', '-m', '512M', '-nographic', '-kernel', info.kernelPath, '-initrd', info.initrdPath, '-append', 'console=ttyS0 quiet -- sh -c "uname -r; exit 42"'],
      { encoding: 'utf8', timeout: 300_000 },
    );
    assert.equal(r.status, 42, r.stdout.slice(-2000));
    assert.match(r.stdout, new RegExp(`${m.kernelVersion.replace(/[.+]/g, '\\$&')}\\r?\\n`));
    assert.match(r.stdout, /rvisor-exit-status: 42/);
  });

  await removeImage('debian', cache);
});
