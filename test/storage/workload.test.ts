// Random reads and writes against an in-memory model of the disk, then QEMU as the judge:
// `qemu-img check` must find nothing and `qemu-img convert -O raw` must equal the model.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { createDisk, openDisk, type Qcow2Image } from '../../src/storage/index.js';
import { needsQemu, qemu, qemuCheck, qemuRaw, rng, scratch } from './support.js';

const path = scratch('workload');

interface Workload {
  clusterSize: number;
  size: number;
  ops: number;
  seed: number;
  /** Where writes cluster (L2 table boundaries); random over the disk if empty. */
  hotspots?: number[];
  /** Write the whole disk first (a big host file). */
  prefill?: boolean;
  /** Put the image over a raw backing file full of data (copy-on-write everywhere). */
  backing?: boolean;
}

function workload(name: string, w: Workload) {
  const file = path(`${name}.qcow2`);
  const model = new Uint8Array(w.size);
  const r = rng(w.seed);
  if (w.backing) {
    for (let i = 0; i < w.size; i++) model[i] = (i * 131) >> 8;
    writeFileSync(path(`${name}-base.raw`), model);
  }
  createDisk({ file, format: 'qcow2', size: w.size, clusterSize: w.clusterSize, backing: w.backing ? `${name}-base.raw` : undefined, backingFormat: 'raw' });
  const baseHash = w.backing ? readFileSync(path(`${name}-base.raw`)).toString('base64') : '';
  let img = openDisk({ file }) as Qcow2Image;
  if (w.prefill) {
    for (let i = 0; i < w.size; i++) model[i] = (i >> 9) & 0xff;
    for (let at = 0; at < w.size; at += 131072) img.write(at, model.subarray(at, Math.min(w.size, at + 131072)));
  }
  const place = (len: number) => {
    if (w.hotspots?.length && r(4) !== 0) {
      const h = w.hotspots[r(w.hotspots.length)];
      return Math.max(0, Math.min(w.size - len, h - r(3 * w.clusterSize) + r(3 * w.clusterSize)));
    }
    return r(w.size - len + 1);
  };
  for (let i = 0; i < w.ops; i++) {
    const op = r(20);
    const len = 1 + r(r(4) === 0 ? 200_000 : 3 * w.clusterSize);
    const at = place(len);
    if (op < 12) {
      const data = new Uint8Array(len);
      const fill = 1 + r(255);
      for (let j = 0; j < len; j++) data[j] = (fill + j * 7) & 0xff;
      img.write(at, data);
      model.set(data, at);
    } else if (op < 14) {
      img.writeZeroes(at, len, r(2) === 0);
      model.fill(0, at, at + len);
    } else if (op < 16) {
      // Whole clusters are freed and read as zeroes (zero clusters over a backing file);
      // partial ones keep their data.
      img.discard(at, len);
      const first = Math.ceil(at / w.clusterSize) * w.clusterSize;
      const last = at + len === w.size ? at + len : Math.floor((at + len) / w.clusterSize) * w.clusterSize;
      if (last > first) model.fill(0, first, last);
    } else if (op < 19) {
      const got = new Uint8Array(len);
      img.read(at, got);
      assert.deepEqual(got, model.subarray(at, at + len), `op ${i}: read ${at}+${len}`);
    } else {
      // Reopen: nothing may live only in memory.
      img.flush();
      img.close();
      img = openDisk({ file }) as Qcow2Image;
    }
  }
  const all = new Uint8Array(w.size);
  img.read(0, all);
  assert.ok(Buffer.from(all).equals(Buffer.from(model)), 'whole-disk read differs from the model');
  img.flush();
  img.close();
  if (w.backing) assert.equal(readFileSync(path(`${name}-base.raw`)).toString('base64'), baseHash, 'the backing file changed');
  const check = qemuCheck(file);
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.ok(Buffer.from(qemuRaw(file, path(`${name}.raw`))).equals(Buffer.from(model)), 'qemu-img convert differs from the model');
  return file;
}

test('64 KiB clusters: random writes, zeroes, discards and reads', needsQemu, () => {
  workload('c64k', { clusterSize: 65536, size: 24 * 2 ** 20, ops: 600, seed: 1 });
});

test('4 KiB clusters: many L2 tables, writes across their boundaries', needsQemu, () => {
  // An L2 table maps 2 MiB with 4 KiB clusters.
  workload('c4k', { clusterSize: 4096, size: 16 * 2 ** 20, ops: 800, seed: 2, hotspots: [2 ** 21, 3 * 2 ** 21, 5 * 2 ** 21, 16 * 2 ** 20 - 1] });
});

test('64 KiB clusters across the 512 MiB L2 boundary of a sparse 1 GiB disk', needsQemu, () => {
  workload('l2edge', { clusterSize: 65536, size: 2 ** 29 + 2 ** 22, ops: 300, seed: 3, hotspots: [2 ** 29] });
});

test('over a backing file: every partial write copies the rest of its cluster', needsQemu, () => {
  workload('cow', { clusterSize: 65536, size: 16 * 2 ** 20, ops: 600, seed: 5, backing: true });
  workload('cow4k', { clusterSize: 4096, size: 8 * 2 ** 20, ops: 600, seed: 6, backing: true });
});

test('512-byte clusters: the refcount table grows (it covers 8 MiB of file per cluster)', needsQemu, () => {
  const file = workload('c512', { clusterSize: 512, size: 12 * 2 ** 20, ops: 400, seed: 4, prefill: true });
  const b = readFileSync(file);
  const tableClusters = new DataView(b.buffer, b.byteOffset).getUint32(56);
  assert.ok(tableClusters > 1, `refcount table still ${tableClusters} cluster`);
});

test('one big sequential write of a whole disk, then a rewrite in place', needsQemu, () => {
  const file = path('seq.qcow2');
  createDisk({ file, format: 'qcow2', size: 8 * 2 ** 20 });
  const img = openDisk({ file });
  const data = new Uint8Array(8 * 2 ** 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) >> 9;
  for (let at = 0; at < data.length; at += 131072) img.write(at, data.subarray(at, at + 131072));
  const before = readFileSync(file).length;
  data.fill(0x77, 1000, 300_000);
  img.write(1000, data.subarray(1000, 300_000));
  img.close();
  assert.equal(readFileSync(file).length, before, 'a rewrite of allocated clusters allocated more');
  assert.equal(qemuCheck(file).status, 0);
  assert.ok(Buffer.from(qemuRaw(file, path('seq.raw'))).equals(Buffer.from(data)));
});

test('every refcount width QEMU can create (1 to 64 bits) stays consistent', needsQemu, () => {
  for (const bits of [1, 2, 4, 8, 32, 64]) {
    const file = path(`rb${bits}.qcow2`);
    qemu('qemu-img', 'create', '-f', 'qcow2', '-o', `refcount_bits=${bits},cluster_size=4096`, file, '64M');
    const model = new Uint8Array(64 * 2 ** 20);
    const d = openDisk({ file });
    for (let i = 0; i < 200; i++) {
      const at = ((i * 7919) % 16000) * 4096 + 100;
      d.write(at, new Uint8Array(9000).fill(i + 1));
      model.fill(i + 1, at, at + 9000);
    }
    d.discard(0, 8 * 2 ** 20);
    model.fill(0, 0, 8 * 2 ** 20);
    d.close();
    const check = qemuCheck(file);
    assert.equal(check.status, 0, `${bits} bits: ${check.stdout}`);
    assert.ok(Buffer.from(qemuRaw(file, path(`rb${bits}.raw`))).equals(Buffer.from(model)), `${bits} bits`);
  }
});
