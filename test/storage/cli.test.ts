// `rvisor disk ...` end to end, as a user runs it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDisk } from '../../src/storage/index.js';
import { needsQemu, qemu, qemuCheck, scratch } from './support.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const path = scratch('disk-cli');

function rvisor(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('disk create makes images QEMU accepts; info describes them', needsQemu, () => {
  assert.equal(rvisor('disk', 'create', path('a.qcow2'), '64M').status, 0);
  assert.equal(qemuCheck(path('a.qcow2')).status, 0);
  assert.equal(JSON.parse(qemu('qemu-img', 'info', '--output=json', path('a.qcow2')))['virtual-size'], 64 * 2 ** 20);
  assert.equal(rvisor('disk', 'create', '-f', 'raw', path('r.img'), '1M').status, 0);
  assert.equal(readFileSync(path('r.img')).length, 2 ** 20);
  assert.equal(rvisor('disk', 'create', '-b', 'a.qcow2', '-F', 'qcow2', path('o.qcow2')).status, 0);
  const info = JSON.parse(rvisor('disk', 'info', '--json', path('o.qcow2')).stdout);
  assert.equal(info.format, 'qcow2');
  assert.equal(info.virtualSize, 64 * 2 ** 20);
  assert.equal(info.backingFile, 'a.qcow2');
  assert.deepEqual(info.backingChain, [{ file: path('a.qcow2'), format: 'qcow2' }]);
  const text = rvisor('disk', 'info', path('o.qcow2'));
  assert.equal(text.status, 0);
  assert.match(text.stdout, /virtual size: 64 MiB \(67108864 bytes\)/);
  assert.match(text.stdout, /backing file: a\.qcow2/);
  assert.match(text.stdout, /cluster_size: 65536/);
});

test('disk convert: raw to qcow2 and back, sparse', needsQemu, () => {
  const data = new Uint8Array(4 * 2 ** 20);
  data.fill(0x42, 100_000, 200_000);
  data.fill(0x43, 3 * 2 ** 20, 3 * 2 ** 20 + 10);
  writeFileSync(path('src.img'), data);
  assert.equal(rvisor('disk', 'convert', '-O', 'qcow2', path('src.img'), path('dst.qcow2')).status, 0);
  assert.equal(qemuCheck(path('dst.qcow2')).status, 0);
  const map = JSON.parse(qemu('qemu-img', 'map', '--output=json', path('dst.qcow2'))) as { data: boolean; length: number }[];
  const allocated = map.filter((e) => e.data).reduce((s, e) => s + e.length, 0);
  assert.equal(allocated, 4 * 65536, 'zero clusters were written'); // 64k..256k and 3M
  assert.equal(rvisor('disk', 'convert', path('dst.qcow2'), path('back.img')).status, 0);
  assert.deepEqual(new Uint8Array(readFileSync(path('back.img'))), data);
  qemu('qemu-img', 'convert', '-O', 'raw', path('dst.qcow2'), path('q.img'));
  assert.deepEqual(new Uint8Array(readFileSync(path('q.img'))), data);
});

test('disk check: 0 clean, 3 leaks, 2 corrupt; --repair fixes leaks', needsQemu, () => {
  rvisor('disk', 'create', path('c.qcow2'), '1M');
  let r = rvisor('disk', 'check', path('c.qcow2'));
  assert.equal(r.status, 0);
  assert.match(r.stdout, /No errors were found/);
  // Data in clusters 4 and 5 (L2 table in 6), then 5 freed: give it a refcount again.
  const d = openDisk({ file: path('c.qcow2') });
  d.write(0, new Uint8Array(131072).fill(1));
  d.discard(65536, 65536);
  d.close();
  const b = readFileSync(path('c.qcow2'));
  b.writeUInt16BE(1, 0x20000 + 5 * 2);
  writeFileSync(path('c.qcow2'), b);
  r = rvisor('disk', 'check', path('c.qcow2'));
  assert.equal(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /1 leaked clusters were found/);
  r = rvisor('disk', 'check', '--repair', path('c.qcow2'));
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(qemuCheck(path('c.qcow2')).status, 0);
  b.writeUInt16BE(0, 0x20000 + 3 * 2); // the L1 table's refcount
  writeFileSync(path('c.qcow2'), b);
  r = rvisor('disk', 'check', path('c.qcow2'));
  assert.equal(r.status, 2);
  assert.match(r.stdout, /errors were found/);
});

test('bad input: one line on stderr, status 2', () => {
  writeFileSync(path('junk.qcow2'), Buffer.from('QFI\xfb\0\0\0\x09' + '\0'.repeat(200), 'latin1'));
  const cases: string[][] = [
    ['disk'],
    ['disk', 'frobnicate'],
    ['disk', 'create', path('x.qcow2')],
    ['disk', 'create', path('x.qcow2'), '12Q'],
    ['disk', 'create', '-f', 'vmdk', path('x.vmdk'), '1M'],
    ['disk', 'create', '--bogus', path('x.qcow2'), '1M'],
    ['disk', 'info', path('missing.qcow2')],
    ['disk', 'info', path('junk.qcow2')],
    ['disk', 'check', path('missing.qcow2')],
    ['disk', 'convert', '-O', 'qcow2', path('missing.img'), path('y.qcow2')],
    ['disk', 'create', '-b', 'missing.qcow2', path('z.qcow2')],
  ];
  for (const args of cases) {
    const r = rvisor(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    if (args.length > 1) {
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^rvisor: /);
    }
  }
  assert.match(rvisor('disk', 'info', path('junk.qcow2')).stderr, /unsupported qcow2 feature: version 9/);
});

/** One clear line naming the file, exit status 2: never an internal error or a stack trace. */
function clearError(r: { status: number | null; stderr: string }, file: string, message: RegExp) {
  assert.equal(r.status, 2, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.ok(r.stderr.includes(file), r.stderr);
  assert.match(r.stderr, message);
}

test('hostile-testing regressions: a NUL in the backing name, 20T on a filesystem that cannot hold it, corrupt sources for convert', needsQemu, (t) => {
  // disk info on a backing-file name with a NUL byte.
  qemu('qemu-img', 'create', '-q', '-f', 'qcow2', path('nul.qcow2'), '1M');
  const b = readFileSync(path('nul.qcow2'));
  b.write('ab\0cd', 0x200, 'latin1');
  b.writeBigUInt64BE(0x200n, 8);
  b.writeUInt32BE(5, 16);
  writeFileSync(path('nul.qcow2'), b);
  clearError(rvisor('disk', 'info', path('nul.qcow2')), 'nul.qcow2', /backing file name contains a NUL byte/);

  // A compressed cluster at an offset no file can have ("position out of range" before).
  qemu('qemu-img', 'create', '-q', '-f', 'qcow2', path('far.qcow2'), '1M');
  qemu('qemu-io', '-c', 'write -P 0x44 0 64k', path('far.qcow2'));
  const f = readFileSync(path('far.qcow2'));
  const l2 = Number(f.readBigUInt64BE(Number(f.readBigUInt64BE(40))) & 0x00fffffffffffe00n);
  f.writeBigUInt64BE((1n << 62n) | 0x003fffffffffff00n, l2);
  writeFileSync(path('far.qcow2'), f);
  clearError(rvisor('disk', 'convert', '-O', 'raw', path('far.qcow2'), path('far.raw')), 'far.qcow2', /compressed cluster .* outside the image/);
  assert.ok(!existsSync(path('far.raw')), 'no half-written copy left behind');

  // A virtual size the host filesystem cannot hold, for convert's output and for create.
  const huge = path('huge.qcow2');
  qemu('qemu-img', 'create', '-q', '-f', 'qcow2', huge, '20T');
  const conv = rvisor('disk', 'convert', '-O', 'raw', huge, path('huge.raw'));
  const create = rvisor('disk', 'create', '-f', 'raw', path('big.img'), '20T');
  if (create.status === 0) return t.skip('this filesystem holds a 20 TiB file');
  clearError(create, 'big.img', /too large for the host filesystem/);
  assert.ok(!existsSync(path('big.img')), 'no empty file left behind');
  clearError(conv, 'huge.raw', /too large for the host filesystem/);
  assert.ok(!existsSync(path('huge.raw')));
});
