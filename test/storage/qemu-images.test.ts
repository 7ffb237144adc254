// Images QEMU made, read (and written) by rvisor: backing chains, compressed clusters,
// zero clusters, version 2.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { convertDisk, createDisk, diskInfo, openDisk } from '../../src/storage/index.js';
import { needsQemu, qemu, qemuCheck, qemuRaw, scratch } from './support.js';

const path = scratch('qemu-images');
const MiB = 2 ** 20;

function readAll(file: string): Uint8Array {
  const d = openDisk({ file, readOnly: true });
  const out = new Uint8Array(d.size);
  d.read(0, out);
  d.close();
  return out;
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

test('qemu-io data in a base and an overlay reads as QEMU reads it', needsQemu, () => {
  qemu('qemu-img', 'create', '-f', 'qcow2', path('base.qcow2'), '8M');
  qemu('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xab 0 64k', '-c', 'write -P 0x11 100k 300k', '-c', 'write -P 0x22 7M 1M', path('base.qcow2'));
  qemu('qemu-img', 'create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', path('ov.qcow2'));
  qemu('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xcd 32k 64k', '-c', 'write -z 200k 64k', '-c', 'write -P 0x33 7340000 1000', path('ov.qcow2'));
  const ours = readAll(path('ov.qcow2'));
  assert.equal(ours[0], 0xab);
  assert.equal(ours[32 * 1024], 0xcd);
  assert.ok(equal(ours, qemuRaw(path('ov.qcow2'), path('ov.raw'))));
  assert.ok(equal(readAll(path('base.qcow2')), qemuRaw(path('base.qcow2'), path('base.raw'))));
});

test('writes to an overlay copy partial clusters from the base and leave it untouched', needsQemu, () => {
  qemu('qemu-img', 'create', '-f', 'qcow2', path('b2.qcow2'), '4M');
  qemu('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 4M', path('b2.qcow2'));
  const before = sha(path('b2.qcow2'));
  createDisk({ file: path('o2.qcow2'), format: 'qcow2', backing: 'b2.qcow2', backingFormat: 'qcow2' });
  const d = openDisk({ file: path('o2.qcow2') });
  d.write(1000, new Uint8Array(3000).fill(1)); // inside one cluster: head and tail copied
  d.write(65536 * 3 - 10, new Uint8Array(20).fill(2)); // across two clusters
  d.discard(2 * MiB, MiB); // with a backing file: zero clusters, not the base's data
  d.writeZeroes(65536 * 10 + 5, 100, false);
  d.close();
  assert.equal(sha(path('b2.qcow2')), before);
  const model = new Uint8Array(4 * MiB).fill(0x5a);
  model.fill(1, 1000, 4000);
  model.fill(2, 65536 * 3 - 10, 65536 * 3 + 10);
  model.fill(0, 2 * MiB, 3 * MiB);
  model.fill(0, 65536 * 10 + 5, 65536 * 10 + 105);
  assert.ok(equal(readAll(path('o2.qcow2')), model));
  assert.ok(equal(qemuRaw(path('o2.qcow2'), path('o2.raw')), model));
  assert.equal(qemuCheck(path('o2.qcow2')).status, 0);
});

test('a backing chain of depth 3 (raw at the bottom, relative names) reads and writes', needsQemu, () => {
  const raw = new Uint8Array(2 * MiB);
  for (let i = 0; i < raw.length; i++) raw[i] = i % 251;
  writeFileSync(path('c0.raw'), raw);
  qemu('qemu-img', 'create', '-f', 'qcow2', '-b', 'c0.raw', '-F', 'raw', path('c1.qcow2'));
  qemu('qemu-io', '-f', 'qcow2', '-c', 'write -P 1 64k 64k', path('c1.qcow2'));
  createDisk({ file: path('c2.qcow2'), format: 'qcow2', backing: 'c1.qcow2' });
  const c2 = openDisk({ file: path('c2.qcow2') });
  c2.write(128 * 1024, new Uint8Array(100).fill(2));
  c2.close();
  qemu('qemu-img', 'create', '-f', 'qcow2', '-b', 'c2.qcow2', '-F', 'qcow2', path('c3.qcow2'));
  const hashes = ['c0.raw', 'c1.qcow2', 'c2.qcow2'].map((f) => sha(path(f)));
  const top = openDisk({ file: path('c3.qcow2') });
  top.write(64 * 1024 + 10, new Uint8Array(10).fill(3));
  top.close();
  assert.deepEqual(['c0.raw', 'c1.qcow2', 'c2.qcow2'].map((f) => sha(path(f))), hashes);
  const model = raw.slice();
  model.fill(1, 64 * 1024, 128 * 1024);
  model.fill(2, 128 * 1024, 128 * 1024 + 100);
  model.fill(3, 64 * 1024 + 10, 64 * 1024 + 20);
  assert.ok(equal(readAll(path('c3.qcow2')), model));
  assert.ok(equal(qemuRaw(path('c3.qcow2'), path('c3.raw')), model));
  assert.deepEqual(diskInfo(path('c3.qcow2')).backingChain.map((b) => b.format), ['qcow2', 'qcow2', 'raw']);
  for (const f of ['c1.qcow2', 'c2.qcow2', 'c3.qcow2']) assert.equal(qemuCheck(path(f)).status, 0, f);
  // convert flattens the chain.
  convertDisk(path('c3.qcow2'), path('flat.qcow2'), 'qcow2');
  assert.equal(diskInfo(path('flat.qcow2')).backingFile, undefined);
  assert.ok(equal(qemuRaw(path('flat.qcow2'), path('flat.raw')), model));
  convertDisk(path('c3.qcow2'), path('flat.img'), 'raw');
  assert.ok(equal(new Uint8Array(readFileSync(path('flat.img'))), model));
});

test('a backing file smaller than the overlay reads as zeroes past its end', needsQemu, () => {
  writeFileSync(path('small.raw'), new Uint8Array(1000).fill(9));
  qemu('qemu-img', 'create', '-f', 'qcow2', '-b', 'small.raw', '-F', 'raw', path('big.qcow2'), '1M');
  const all = readAll(path('big.qcow2'));
  assert.ok(all.subarray(0, 1000).every((b) => b === 9));
  assert.ok(all.subarray(1000).every((b) => b === 0));
});

test('compressed clusters (qemu-img convert -c) read, and rewrite as normal clusters', needsQemu, () => {
  const data = new Uint8Array(3 * MiB);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) % 97 < 50 ? i >> 12 : 0x41;
  writeFileSync(path('plain.raw'), data);
  qemu('qemu-img', 'convert', '-c', '-f', 'raw', '-O', 'qcow2', path('plain.raw'), path('comp.qcow2'));
  const pct = /([\d.]+)% compressed clusters/.exec(qemu('qemu-img', 'check', path('comp.qcow2')));
  assert.ok(pct && Number(pct[1]) > 50, 'qemu-img did not compress');
  assert.ok(equal(readAll(path('comp.qcow2')), data));
  const d = openDisk({ file: path('comp.qcow2') });
  d.write(70000, new Uint8Array(5000).fill(0xee));
  d.writeZeroes(MiB, 65536, true);
  d.discard(2 * MiB, 65536);
  d.close();
  data.fill(0xee, 70000, 75000);
  data.fill(0, MiB, MiB + 65536);
  data.fill(0, 2 * MiB, 2 * MiB + 65536);
  const check = qemuCheck(path('comp.qcow2'));
  assert.equal(check.status, 0, check.stdout);
  assert.ok(equal(qemuRaw(path('comp.qcow2'), path('comp.raw')), data));
});

test('version 2 images (compat=0.10) read and write', needsQemu, () => {
  qemu('qemu-img', 'create', '-f', 'qcow2', '-o', 'compat=0.10', path('v2.qcow2'), '4M');
  qemu('qemu-io', '-f', 'qcow2', '-c', 'write -P 7 0 1M', path('v2.qcow2'));
  const d = openDisk({ file: path('v2.qcow2') });
  d.write(MiB - 100, new Uint8Array(200).fill(8));
  d.writeZeroes(0, 65536, false);
  d.close();
  const model = new Uint8Array(4 * MiB);
  model.fill(7, 0, MiB);
  model.fill(8, MiB - 100, MiB + 100);
  model.fill(0, 0, 65536);
  assert.equal(qemuCheck(path('v2.qcow2')).status, 0);
  assert.ok(equal(qemuRaw(path('v2.qcow2'), path('v2.raw')), model));
  assert.equal(diskInfo(path('v2.qcow2')).version, 2);
});

test('zero clusters written by QEMU read as zeroes over a backing file', needsQemu, () => {
  qemu('qemu-img', 'create', '-f', 'qcow2', path('zb.qcow2'), '1M');
  qemu('qemu-io', '-f', 'qcow2', '-c', 'write -P 0xff 0 1M', path('zb.qcow2'));
  qemu('qemu-img', 'create', '-f', 'qcow2', '-b', 'zb.qcow2', '-F', 'qcow2', path('zo.qcow2'));
  qemu('qemu-io', '-f', 'qcow2', '-c', 'write -z 64k 128k', path('zo.qcow2'));
  const all = readAll(path('zo.qcow2'));
  assert.ok(all.subarray(65536, 196608).every((b) => b === 0));
  assert.ok(all.subarray(0, 65536).every((b) => b === 0xff));
});
