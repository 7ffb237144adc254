// A Debian guest whose disk is on an NBD server: rvisor's own (`rvisor nbd serve`, over
// a qcow2 image) in the first boot, Debian's qemu-nbd over the same image in the
// second; what the guest wrote through one reads back through the other, and qemu-img
// finds the image clean.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, ensureImage, freePort, rvisor } from './support.js';
import { serveNbd, stopNbd } from '../host/nbd-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-nbd-boot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

test('a guest filesystem on an NBD disk: written through rvisor nbd serve, read back through qemu-nbd', async () => {
  const image = join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
  let port = await freePort();
  const ours = await serveNbd(process.execPath, [CLI, 'nbd', 'serve', image, '--export', 'root', '--port', String(port)], { port });
  const first = await rvisor(['run', 'debian', '--disk', `nbd://127.0.0.1:${port}/root`, '--', 'sh', '-c', [
    'set -e',
    'mke2fs -F /dev/vda >/dev/null',
    'mount /dev/vda /mnt',
    'seq 1 100000 > /mnt/numbers',
    'sha256sum /mnt/numbers',
    'umount /mnt',
  ].join('\n')]);
  assert.equal(first.status, 0, first.stderr + first.stdout.slice(-3000));
  const sha = /^([0-9a-f]{64})\s+\/mnt\/numbers$/m.exec(first.stdout)?.[1];
  assert.ok(sha, first.stdout.slice(-2000));
  assert.equal(await stopNbd(ours), 0);
  execFileSync('qemu-img', ['check', '-q', image]);

  port = await freePort();
  const theirs = await serveNbd('qemu-nbd', ['-f', 'qcow2', '-x', 'root', '-b', '127.0.0.1', '-p', String(port), '-t', image], { port });
  const second = await rvisor(['run', 'debian', '--disk', `file=nbd://127.0.0.1:${port}/root,ro`, '--', 'sh', '-c',
    'mount -o ro /dev/vda /mnt && sha256sum /mnt/numbers && cat /sys/block/vda/ro']);
  assert.equal(second.status, 0, second.stderr + second.stdout.slice(-3000));
  assert.match(second.stdout, new RegExp(`^${sha}\\s+/mnt/numbers$`, 'm'));
  assert.match(second.stdout, /^1$/m, 'the disk is read-only in the guest');
  await stopNbd(theirs);
  execFileSync('qemu-img', ['check', '-q', image]);
});

test('a disk whose NBD server is not there is a clear error before the guest starts', async () => {
  const port = await freePort();
  const r = await rvisor(['run', 'debian', '--disk', `nbd://127.0.0.1:${port}/root`, '--', 'true'], { timeoutMs: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`nbd://127\\.0\\.0\\.1:${port}/root.*ECONNREFUSED`));
  const bad = await rvisor(['run', 'debian', '--disk', 'nbd://127.0.0.1:1/root?tls=on', '--', 'true'], { timeoutMs: 60_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /takes no query/);
});
