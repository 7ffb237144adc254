// Bad images are refused with a DiskError naming the problem, never a crash or garbage;
// the dirty and corrupt bits; refcount damage found (and repaired) by checkDisk.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkDisk, createDisk, DiskError, type DiskFormat, openDisk } from '../../src/storage/index.js';
import { needsQemu, qemu, qemuCheck, run, scratch } from './support.js';

const path = scratch('corrupt');
let serial = 0;

/** A fresh 64 MiB image with `patch` applied to its bytes. */
function patched(patch: (v: DataView, b: Buffer) => void, setup?: (file: string) => void): string {
  const file = path(`p${serial++}.qcow2`);
  createDisk({ file, format: 'qcow2', size: 64 * 2 ** 20 });
  setup?.(file);
  const b = readFileSync(file);
  patch(new DataView(b.buffer, b.byteOffset, b.length), b);
  writeFileSync(file, b);
  return file;
}

function refused(file: string, message: RegExp, opts: { readOnly?: boolean; format?: DiskFormat } = {}) {
  assert.throws(() => openDisk({ file, format: opts.format ?? 'qcow2', readOnly: opts.readOnly ?? true }).close(),
    (e: unknown) => e instanceof DiskError && message.test(e.message), `expected ${message}`);
}

test('each bad header field is refused with its own message', () => {
  const cases: [string, (v: DataView, b: Buffer) => void, RegExp][] = [
    ['bad magic', (v) => v.setUint32(0, 0x514649fc), /bad magic/],
    ['version 4', (v) => v.setUint32(4, 4), /version 4/],
    ['cluster_bits 8', (v) => v.setUint32(20, 8), /cluster_bits 8/],
    ['cluster_bits 22', (v) => v.setUint32(20, 22), /cluster_bits 22/],
    ['L1 beyond the file', (v) => v.setUint32(44, 0x100000), /L1 table beyond the end/],
    ['L1 unaligned', (v) => v.setUint32(44, 0x30008), /l1_table_offset/],
    ['L1 too small', (v) => v.setUint32(36, 0), /l1_size 0 too small/],
    ['size beyond 2^53', (v) => v.setUint32(24, 0x00400000), /size too large/],
    ['refcount table unaligned', (v) => v.setUint32(52, 0x10200), /refcount_table_offset/],
    ['refcount table beyond the file', (v) => v.setUint32(52, 0x1000000), /refcount table beyond/],
    ['refcount table of 0 clusters', (v) => v.setUint32(56, 0), /refcount_table_clusters/],
    ['refcount_order 7', (v) => v.setUint32(96, 7), /refcount_order 7/],
    ['header_length 100', (v) => v.setUint32(100, 100), /header_length 100/],
    ['encryption', (v) => v.setUint32(32, 1), /encryption/],
    ['unknown incompatible bit', (v) => v.setUint32(76, 1 << 9), /unknown incompatible feature bit 9/],
    ['unknown high incompatible bit', (v) => v.setUint32(72, 1), /unknown incompatible feature bit 32/],
    ['external data file', (v) => v.setUint32(76, 4), /external data file/],
    ['extended L2 entries', (v) => v.setUint32(76, 16), /extended L2/],
    ['zstd', (v) => { v.setUint32(76, 8); v.setUint8(104, 1); }, /zstd/],
    ['compression type without its bit', (v) => v.setUint8(104, 2), /compression_type 2/],
    ['extension overrun', (v) => v.setUint32(0x74, 0xfff00), /overruns/],
    ['backing name outside the cluster', (v) => { v.setUint32(12, 0xfff0); v.setUint32(16, 100); }, /backing file name/],
  ];
  for (const [what, patch, message] of cases) {
    assert.doesNotThrow(() => refused(patched(patch), message), what);
  }
});

test('a truncated header, and a file that is not qcow2, are refused', () => {
  const full = readFileSync(patched(() => {}));
  writeFileSync(path('short.qcow2'), full.subarray(0, 50));
  refused(path('short.qcow2'), /truncated header/);
  writeFileSync(path('short2.qcow2'), full.subarray(0, 90));
  refused(path('short2.qcow2'), /truncated header|beyond/);
  writeFileSync(path('odd.raw'), new Uint8Array(1000));
  refused(path('odd.raw'), /not a multiple of 512/, { format: 'raw' });
});

test('a feature name table names an unknown incompatible feature', () => {
  // Renumber the table's "extended L2 entries" entry to bit 7 and set bit 7.
  const file = patched((v, b) => {
    const entry = b.indexOf('extended L2 entries') - 2;
    b[entry + 1] = 7;
    v.setUint32(76, 1 << 7);
  });
  refused(file, /unknown incompatible feature extended L2 entries/);
});

test('bad L1 and L2 entries are caught when reached', () => {
  const withData = (f: string) => {
    const d = openDisk({ file: f });
    d.write(0, new Uint8Array(65536).fill(1));
    d.close();
  };
  // Layout after one write: L1 at 0x30000, data at 0x40000, L2 at 0x50000.
  const l2Unaligned = patched((v) => v.setUint32(0x50000 + 4, 0x40200), withData);
  const l1Outside = patched((v) => v.setUint32(0x30000 + 4, 0x7000000), withData);
  const l2Reserved = patched((v) => v.setUint32(0x50000 + 4, 0x40002), withData);
  const buf = new Uint8Array(512);
  for (const [file, message] of [[l2Unaligned, /not aligned/], [l1Outside, /outside the image/], [l2Reserved, /reserved bits/]] as const) {
    const d = openDisk({ file, readOnly: true });
    assert.throws(() => d.read(0, buf), (e: unknown) => e instanceof DiskError && message.test(e.message));
    d.close();
  }
});

test('a corrupt compressed cluster is an error, not garbage', needsQemu, () => {
  writeFileSync(path('c.raw'), new Uint8Array(65536).fill(0x61));
  qemu('qemu-img', 'convert', '-c', '-O', 'qcow2', path('c.raw'), path('c.qcow2'));
  const b = readFileSync(path('c.qcow2'));
  const l2 = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0x30000) & 0xffffffffffe00n);
  const entry = new DataView(b.buffer, b.byteOffset).getBigUint64(l2);
  const host = Number(entry & ((1n << 54n) - 1n));
  b.fill(0xff, host, host + 16);
  writeFileSync(path('c.qcow2'), b);
  const d = openDisk({ file: path('c.qcow2'), readOnly: true });
  assert.throws(() => d.read(0, new Uint8Array(512)), (e: unknown) => e instanceof DiskError && /compressed cluster/.test(e.message));
  d.close();
});

test('dirty bit: read-only opens, writable refused until check --repair', needsQemu, () => {
  const file = patched((v) => v.setUint32(76, 1));
  openDisk({ file, readOnly: true }).close();
  refused(file, /marked dirty.*rvisor disk check --repair/, { readOnly: false });
  checkDisk(file, { repair: true });
  const d = openDisk({ file });
  d.write(0, new Uint8Array(512).fill(1));
  d.close();
  assert.equal(qemuCheck(file).status, 0);
});

test('a dirty image left by a killed QEMU with lazy refcounts: read, then repaired', needsQemu, () => {
  const file = path('lazy.qcow2');
  qemu('qemu-img', 'create', '-f', 'qcow2', '-o', 'lazy_refcounts=on', file, '16M');
  run('qemu-io', '-c', 'write -P 0x44 0 3M', '-c', 'sigraise 9', file); // killed: refcounts never written
  const ro = openDisk({ file, readOnly: true });
  const b = new Uint8Array(3 * 2 ** 20);
  ro.read(0, b);
  ro.close();
  assert.ok(b.every((x) => x === 0x44));
  refused(file, /marked dirty/, { readOnly: false });
  const before = checkDisk(file);
  assert.ok(before.corruptions >= 48, `${before.corruptions} corruptions`);
  const r = checkDisk(file, { repair: true });
  assert.equal(r.fixedCorruptions, before.corruptions);
  assert.equal(r.corruptions + r.leaks, 0);
  assert.equal(qemuCheck(file).status, 0);
  openDisk({ file }).close();
});

test('corrupt bit: read-only opens, writable refused', () => {
  const file = patched((v) => v.setUint32(76, 2));
  openDisk({ file, readOnly: true }).close();
  refused(file, /marked corrupt/, { readOnly: false });
});

test('a read-only image refuses writes; accesses past the end are refused', () => {
  const file = patched(() => {});
  const d = openDisk({ file, readOnly: true });
  assert.throws(() => d.write(0, new Uint8Array(512)), DiskError);
  assert.throws(() => d.discard(0, 512), DiskError);
  assert.throws(() => d.read(64 * 2 ** 20 - 256, new Uint8Array(512)), DiskError);
  d.close();
});

test('a leaked cluster: found, repaired, and QEMU agrees', needsQemu, () => {
  // Two clusters written, the second discarded: cluster 5 is free, inside the file.
  const file = patched((v) => v.setUint16(0x20000 + 5 * 2, 1), (f) => {
    const d = openDisk({ file: f });
    d.write(0, new Uint8Array(131072).fill(1));
    d.discard(65536, 65536);
    d.close();
  });
  assert.equal(qemuCheck(file).status, 3);
  const r = checkDisk(file);
  assert.equal(r.leaks, 1);
  assert.equal(r.corruptions, 0);
  const fixed = checkDisk(file, { repair: true });
  assert.equal(fixed.fixedLeaks, 1);
  assert.equal(fixed.leaks, 0);
  assert.equal(qemuCheck(file).status, 0);
});

test('a refcount too low: a corruption, repaired', needsQemu, () => {
  const file = patched((v) => v.setUint16(0x20000 + 4 * 2, 0), (f) => {
    const d = openDisk({ file: f });
    d.write(0, new Uint8Array(4096).fill(1));
    d.close();
  });
  assert.equal(qemuCheck(file).status, 2);
  assert.equal(checkDisk(file).corruptions, 1);
  assert.equal(checkDisk(file, { repair: true }).fixedCorruptions, 1);
  assert.equal(qemuCheck(file).status, 0);
});

test('a refcount loop (two table entries, one block) is a corruption', needsQemu, () => {
  const file = patched((v) => v.setUint32(0x10000 + 12, 0x20000));
  assert.equal(qemuCheck(file).status, 2);
  assert.ok(checkDisk(file).corruptions > 0);
});

test('a refcount block that is the refcount table itself: refused before it is written', needsQemu, () => {
  const file = patched((v) => v.setUint32(0x10000 + 4, 0x10000));
  const d = openDisk({ file });
  assert.throws(() => d.write(0, new Uint8Array(512)), (e: unknown) => e instanceof DiskError && /overlaps/.test(e.message));
  d.close();
  assert.ok(checkDisk(file).corruptions > 0);
  assert.equal(qemuCheck(file).status, 2);
});

test('backing files: missing, looping, unsupported format', () => {
  createDisk({ file: path('base.img'), format: 'raw', size: 2 ** 20 });
  createDisk({ file: path('loop-a.qcow2'), format: 'qcow2', backing: 'base.img' });
  createDisk({ file: path('loop-b.qcow2'), format: 'qcow2', backing: 'loop-a.qcow2' });
  // Point a at b: a -> b -> a.
  const a = readFileSync(path('loop-a.qcow2'));
  const name = a.indexOf('base.img');
  a.write('loop-b.qcow2', name);
  new DataView(a.buffer, a.byteOffset).setUint32(16, 'loop-b.qcow2'.length);
  writeFileSync(path('loop-a.qcow2'), a);
  refused(path('loop-b.qcow2'), /loops/);
  createDisk({ file: path('lost.qcow2'), format: 'qcow2', backing: 'base.img' });
  const b = readFileSync(path('lost.qcow2'));
  b.write('gone.img', b.indexOf('base.img'));
  writeFileSync(path('lost.qcow2'), b);
  refused(path('lost.qcow2'), /backing file .*gone.img not found/);
});

test('internal snapshots: read-only only, and check counts their clusters', needsQemu, () => {
  const file = path('snap.qcow2');
  qemu('qemu-img', 'create', '-f', 'qcow2', file, '4M');
  qemu('qemu-io', '-c', 'write -P 1 0 1M', file);
  qemu('qemu-img', 'snapshot', '-c', 'one', file);
  qemu('qemu-io', '-c', 'write -P 2 0 64k', file);
  const d = openDisk({ file, readOnly: true });
  const b = new Uint8Array(2);
  d.read(65535, b);
  assert.deepEqual([...b], [2, 1]);
  d.close();
  refused(file, /snapshots/, { readOnly: false });
  const r = checkDisk(file);
  assert.equal(r.corruptions + r.leaks, 0, r.messages.join('\n'));
});
