// Fresh images: byte-for-byte what qemu-img create writes, and clean under qemu-img check.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createDisk, diskInfo, openDisk, Qcow2Image } from '../../src/storage/index.js';
import { needsQemu, qemu, qemuCheck, scratch } from './support.js';

const path = scratch('create');

for (const size of ['64M', '10G', '0', '1000000', '100T']) {
  test(`a new ${size} qcow2 image is byte-identical to qemu-img create's`, needsQemu, () => {
    const bytes = size === '0' ? 0 : size === '1000000' ? 1_000_000 : Number(size.slice(0, -1)) * { M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[size.slice(-1) as 'M'];
    qemu('qemu-img', 'create', '-f', 'qcow2', path(`q-${size}.qcow2`), size);
    createDisk({ file: path(`r-${size}.qcow2`), format: 'qcow2', size: bytes });
    const ours = readFileSync(path(`r-${size}.qcow2`));
    const theirs = readFileSync(path(`q-${size}.qcow2`));
    assert.equal(ours.length, theirs.length);
    assert.ok(ours.equals(theirs), 'bytes differ');
    assert.equal(qemuCheck(path(`r-${size}.qcow2`)).status, 0);
  });
}

test('golden header fields of a new 1 GiB image', () => {
  createDisk({ file: path('g.qcow2'), format: 'qcow2', size: 2 ** 30 });
  const b = readFileSync(path('g.qcow2'));
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  assert.equal(v.getUint32(0), 0x514649fb); // magic
  assert.equal(v.getUint32(4), 3); // version
  assert.equal(v.getUint32(20), 16); // cluster_bits
  assert.equal(v.getBigUint64(24), 2n ** 30n); // size
  assert.equal(v.getUint32(36), 2); // l1_size: 512 MiB per L2 table
  assert.equal(v.getBigUint64(40), 0x30000n); // l1_table_offset
  assert.equal(v.getBigUint64(48), 0x10000n); // refcount_table_offset
  assert.equal(v.getUint32(56), 1); // refcount_table_clusters
  assert.equal(v.getUint32(96), 4); // refcount_order
  assert.equal(v.getUint32(100), 112); // header_length
  assert.equal(v.getBigUint64(0x10000), 0x20000n); // refcount block 0
  assert.deepEqual([0, 1, 2, 3, 4].map((c) => v.getUint16(0x20000 + c * 2)), [1, 1, 1, 1, 0]);
  assert.equal(b.length, 0x30000 + 16);
});

test('an overlay header matches qemu-img create -b -F', needsQemu, () => {
  createDisk({ file: path('base.qcow2'), format: 'qcow2', size: 2 ** 26 });
  qemu('qemu-img', 'create', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', path('q-ov.qcow2'));
  createDisk({ file: path('r-ov.qcow2'), format: 'qcow2', backing: 'base.qcow2', backingFormat: 'qcow2' });
  assert.ok(readFileSync(path('r-ov.qcow2')).equals(readFileSync(path('q-ov.qcow2'))));
  // Without -F the backing format is probed and recorded.
  createDisk({ file: path('r-ov2.qcow2'), format: 'qcow2', backing: 'base.qcow2' });
  assert.equal(diskInfo(path('r-ov2.qcow2')).backingFormat, 'qcow2');
  const info = JSON.parse(qemu('qemu-img', 'info', '--output=json', path('r-ov2.qcow2')));
  assert.equal(info['backing-filename-format'], 'qcow2');
  assert.equal(info['virtual-size'], 2 ** 26);
});

test('small clusters, other sizes and raw images', needsQemu, () => {
  for (const cs of [512, 4096, 2 ** 21]) {
    createDisk({ file: path(`c${cs}.qcow2`), format: 'qcow2', size: 3 * 2 ** 30, clusterSize: cs });
    assert.equal(qemuCheck(path(`c${cs}.qcow2`)).status, 0, `cluster size ${cs}`);
    const img = openDisk({ file: path(`c${cs}.qcow2`) }) as Qcow2Image;
    assert.equal(img.cs, cs);
    assert.equal(img.size, 3 * 2 ** 30);
    img.close();
  }
  createDisk({ file: path('r.img'), format: 'raw', size: 2 ** 20 });
  assert.equal(readFileSync(path('r.img')).length, 2 ** 20);
  assert.equal(diskInfo(path('r.img')).format, 'raw');
});

test('diskInfo reports format, sizes, cluster size and the backing chain', () => {
  createDisk({ file: path('i0.img'), format: 'raw', size: 2 ** 20 });
  createDisk({ file: path('i1.qcow2'), format: 'qcow2', backing: 'i0.img', backingFormat: 'raw' });
  createDisk({ file: path('i2.qcow2'), format: 'qcow2', backing: 'i1.qcow2' });
  const i = diskInfo(path('i2.qcow2'));
  assert.equal(i.format, 'qcow2');
  assert.equal(i.virtualSize, 2 ** 20);
  assert.equal(i.clusterSize, 65536);
  assert.equal(i.version, 3);
  assert.equal(i.backingFile, 'i1.qcow2');
  assert.deepEqual(i.backingChain, [{ file: path('i1.qcow2'), format: 'qcow2' }, { file: path('i0.img'), format: 'raw' }]);
  assert.equal(i.dirty, false);
  assert.equal(i.corrupt, false);
  assert.ok(i.diskSize > 0);
});
