// The attacks hostile testing found against disk images, each reproduced exactly: a guest
// turning its probed raw disk into a qcow2 image that names a host file as its backing
// file; corrupt qcow2 metadata steering guest writes onto the header or the L1 table;
// counts in a crafted image that made `disk check` loop for hours.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkDisk, createDisk, DiskError, diskInfo, openDisk, probeFormat } from '../../src/storage/index.js';
import { needsQemu, qemu, scratch } from './support.js';

const path = scratch('hostile');

/** The first 256 KiB of a qcow2 image whose backing file is a host file, as the guest writes it. */
function evilHeader(name: string, backing: string): Uint8Array {
  qemu('qemu-img', 'create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', 'raw', path(name), '64M');
  const out = new Uint8Array(256 * 1024);
  out.set(readFileSync(path(name)).subarray(0, out.length));
  return out;
}

const isDiskError = (re: RegExp) => (e: unknown) => e instanceof DiskError && re.test(e.message);

test('a probed raw disk refuses the write that would make it probe as qcow2 (CVE-2008-2004)', needsQemu, () => {
  const disk = path('probed.img');
  createDisk({ file: disk, format: 'raw', size: 64 * 2 ** 20 });
  const warnings: string[] = [];
  const header = evilHeader('h.qcow2', '/etc/shadow');
  const d = openDisk({ file: disk, warn: (m) => warnings.push(m) });
  assert.match(warnings.join('\n'), /probing guessed raw/);
  // The guest's `dd` of the header onto /dev/vda, whole and a byte at a time.
  assert.throws(() => d.write(0, header), isDiskError(/sector 0.*look like qcow2/));
  d.write(0, Uint8Array.of(0x51, 0x46)); // "QF": still raw
  d.write(2, Uint8Array.of(0x49));
  assert.throws(() => d.write(3, Uint8Array.of(0xfb)), isDiskError(/look like qcow2/));
  // Everything else of the header may be written: only the magic decides the probe.
  d.write(4, header.subarray(4));
  d.close();
  assert.equal(probeFormat(disk), 'raw');
  // The next boot with the same command line still sees a raw disk, no host file.
  const again = openDisk({ file: disk });
  const first = new Uint8Array(8);
  again.read(0, first);
  assert.deepEqual([...first.subarray(0, 3)], [0x51, 0x46, 0x49]);
  assert.equal(again.size, 64 * 2 ** 20);
  again.close();
  // Named as raw, the disk is the guest's to write as it likes.
  const named = openDisk({ file: disk, format: 'raw' });
  named.write(0, header.subarray(0, 4096));
  named.close();
  assert.equal(probeFormat(disk), 'qcow2');
});

/** A fresh qemu-img image with its bytes patched. */
function qemuImage(name: string, patch: (b: Buffer, v: DataView) => void): string {
  const file = path(name);
  qemu('qemu-img', 'create', '-q', '-f', 'qcow2', file, '64M');
  const b = readFileSync(file);
  patch(b, new DataView(b.buffer, b.byteOffset, b.length));
  writeFileSync(file, b);
  return file;
}

test('a refcount block that calls every cluster free: the write fails, the image is marked corrupt, the header survives', needsQemu, () => {
  // qemu-img's layout for 64 KiB clusters: header, refcount table, refcount block, L1.
  const file = qemuImage('zero-refblock.qcow2', (b) => b.fill(0, 0x20000, 0x30000));
  const header = readFileSync(file).subarray(0, 0x10000);
  const warnings: string[] = [];
  const d = openDisk({ file, warn: (m) => warnings.push(m) });
  assert.throws(() => d.write(0, new Uint8Array(4096).fill(0xee)), isDiskError(/overlaps the header.*marked corrupt/));
  assert.equal(d.readOnly, true);
  assert.throws(() => d.write(1 << 20, new Uint8Array(512)), isDiskError(/read-only/));
  assert.match(warnings.join('\n'), /marking the image corrupt/);
  d.close();
  const after = readFileSync(file);
  // Only the incompatible-features word changed (bit 1: corrupt).
  assert.equal(after.readUInt32BE(76) & 2, 2);
  after.writeUInt32BE(header.readUInt32BE(76), 76);
  assert.ok(after.subarray(0, 0x10000).equals(header), 'header intact');
  assert.equal(probeFormat(file), 'qcow2');
  assert.match(qemu('qemu-img', 'info', file), /corrupt: true/);
  assert.throws(() => openDisk({ file }), isDiskError(/marked corrupt/));
});

/** A qemu-img image with `pattern` written by qemu-io: its bytes, its L1 and first L2 table offsets. */
function withData(name: string, pattern: string): { file: string; b: Buffer; l1: number; l2: number } {
  const file = path(name);
  qemu('qemu-img', 'create', '-q', '-f', 'qcow2', file, '64M');
  qemu('qemu-io', '-c', pattern, file);
  const b = readFileSync(file);
  const l1 = Number(b.readBigUInt64BE(40));
  return { file, b, l1, l2: Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n) };
}

test('an L2 entry that points at the L1 table: the guest write fails and the L1 table survives', needsQemu, () => {
  const { file, b, l1, l2 } = withData('l2-at-l1.qcow2', 'write -P 0x11 0 64k');
  // Guest cluster 0 now "lives" in the L1 table's cluster, writable in place (COPIED).
  b.writeBigUInt64BE(BigInt(l1) | (1n << 63n), l2);
  writeFileSync(file, b);
  const l1Before = readFileSync(file).subarray(l1, l1 + 64);
  const d = openDisk({ file });
  assert.throws(() => d.write(0, new Uint8Array(65536)), isDiskError(/overlaps the active L1 table/));
  d.close();
  assert.ok(readFileSync(file).subarray(l1, l1 + 64).equals(l1Before), 'L1 intact');
  const r = openDisk({ file, readOnly: true });
  const data = new Uint8Array(8);
  r.read(65536 * 2, data); // an unallocated cluster still reads
  r.close();
  // check sees the overlap and refuses to "repair" it into a consistent-looking image.
  const c = checkDisk(file);
  assert.ok(c.corruptions > 0);
  assert.match(c.messages.join('\n'), /overlaps an L1 table/);
  assert.throws(() => checkDisk(file, { repair: true }), isDiskError(/cannot repair/));
});

test('an L2 entry aimed at a refcount block, and a discard of that cluster, are refused before anything changes', needsQemu, () => {
  const { file, b, l2 } = withData('l2-at-refblock.qcow2', 'write -P 0x22 0 128k');
  b.writeBigUInt64BE(0x20000n | (1n << 63n), l2); // cluster 0 -> the refcount block
  b.writeBigUInt64BE(0n | (1n << 63n) | 0x200n, l2 + 8); // malformed: refused on lookup
  writeFileSync(file, b);
  const before = readFileSync(file);
  const d = openDisk({ file });
  assert.throws(() => d.write(512, new Uint8Array(512)), isDiskError(/overlaps a refcount block/));
  d.close();
  const d2 = openDisk({ file, repair: true });
  assert.throws(() => d2.discard(0, 65536), isDiskError(/freeing a data cluster.*overlaps a refcount block/));
  d2.close();
  const after = readFileSync(file);
  after.writeUInt32BE(before.readUInt32BE(76), 76);
  assert.ok(after.equals(before), 'nothing but the corrupt bit changed');
});

test('nb_snapshots 0xffffffff and a snapshot table past the end are refused at once', needsQemu, () => {
  const file = qemuImage('many-snapshots.qcow2', (_b, v) => {
    v.setUint32(60, 0xffffffff);
    v.setUint32(68, 0x7fff0000); // far past the end of the file
  });
  const t0 = performance.now();
  assert.throws(() => checkDisk(file), isDiskError(/nb_snapshots 4294967295/));
  assert.throws(() => diskInfo(file), isDiskError(/nb_snapshots/));
  const inFile = qemuImage('snapshots-past-end.qcow2', (_b, v) => {
    v.setUint32(60, 1000);
    v.setUint32(68, 0x30000);
  });
  assert.throws(() => checkDisk(inFile), isDiskError(/snapshot table beyond the end/));
  assert.ok(performance.now() - t0 < 2000);
});

test('a snapshot whose L1 table is huge and shared cannot make check walk it per snapshot', needsQemu, () => {
  const file = path('shared-l1.qcow2');
  qemu('qemu-img', 'create', '-q', '-f', 'qcow2', file, '64M');
  qemu('qemu-io', '-c', 'write -P 0x33 0 64k', file);
  qemu('qemu-img', 'snapshot', '-c', 's1', file);
  const b = readFileSync(file);
  const snapshots = Number(b.readBigUInt64BE(64));
  // One snapshot claiming an L1 table of 4 Mi entries: more than the file holds.
  b.writeUInt32BE(4 * 2 ** 20, snapshots + 8);
  writeFileSync(file, b);
  const t0 = performance.now();
  assert.throws(() => checkDisk(file), isDiskError(/L1 table at .* outside the image|larger than the file/));
  assert.ok(performance.now() - t0 < 2000);
});
