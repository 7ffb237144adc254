// Raw images, and a qcow2 image whose writer is killed mid-stream: QEMU may find leaked
// clusters, never corruption.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkDisk, createDisk, diskSerial, DiskError, openDisk, RawBackend } from '../../src/storage/index.js';
import { needsQemu, qemuCheck, scratch } from './support.js';

const path = scratch('raw-kill');
const STORAGE = fileURLToPath(new URL('../../src/storage/index.js', import.meta.url));

test('raw: read, write, zeroes, discard, read-only, size, serial', () => {
  const file = path('disk.img');
  writeFileSync(file, new Uint8Array(8192).fill(0x11));
  const d = openDisk({ file });
  assert.ok(d instanceof RawBackend);
  assert.equal(d.size, 8192);
  assert.equal(d.serial, 'disk.img');
  d.write(100, new Uint8Array(50).fill(0x22));
  d.writeZeroes(1000, 3000, true);
  d.discard(0, 512); // a no-op: contents unspecified, kept
  d.flush();
  const got = new Uint8Array(8192);
  d.read(0, got);
  d.close();
  const model = new Uint8Array(8192).fill(0x11);
  model.fill(0x22, 100, 150);
  model.fill(0, 1000, 4000);
  assert.deepEqual(got, model);
  assert.deepEqual(new Uint8Array(readFileSync(file)), model);
  const ro = openDisk({ file, readOnly: true });
  assert.throws(() => ro.write(0, new Uint8Array(1)), DiskError);
  assert.throws(() => ro.read(8000, new Uint8Array(512)), DiskError);
  ro.close();
  assert.equal(diskSerial('/x/a-very-long-image-name-indeed.qcow2'), 'a-very-long-image-na');
  assert.equal(diskSerial('/x/ééééééééééé.img'), 'éééééééééé'); // 20 bytes, whole characters
  assert.equal(openDisk({ file, serial: 'custom' }).serial, 'custom');
});

/** A child that writes random clusters to `file` in a loop, never flushing. */
function writer(file: string) {
  const code = `
    import { openDisk } from ${JSON.stringify(STORAGE)};
    const d = openDisk({ file: ${JSON.stringify(file)} });
    let s = 12345;
    const r = (n) => { s = (s * 1103515245 + 12345) >>> 0; return s % n; };
    process.stdout.write('go\\n');
    for (;;) {
      const len = 1 + r(150000);
      const at = r(d.size - len);
      if (r(8) === 0) d.discard(at, len); else d.write(at, new Uint8Array(len).fill(1 + r(255)));
    }`;
  return spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
}

for (const [i, delay] of [10, 60, 200].entries()) {
  test(`a writer killed after ${delay} ms leaves at most leaks (${i + 1})`, needsQemu, async () => {
    const file = path(`killed${i}.qcow2`);
    createDisk({ file, format: 'qcow2', size: 32 * 2 ** 20, clusterSize: i === 1 ? 4096 : 65536 });
    const child = writer(file);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, delay));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const q = qemuCheck(file);
    assert.ok(q.status === 0 || q.status === 3, `qemu-img check: ${q.status}\n${q.stdout}${q.stderr}`);
    assert.equal(checkDisk(file).corruptions, 0);
    checkDisk(file, { repair: true });
    assert.equal(qemuCheck(file).status, 0);
  });
}
