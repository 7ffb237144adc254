// virtio-blk requests as Linux's virtio_blk sends them, over an in-memory disk: every
// request type, the error statuses, and a backend that fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BLK_S_IOERR, BLK_S_OK, BLK_S_UNSUPP, BLK_T_DISCARD, BLK_T_FLUSH, BLK_T_GET_ID, BLK_T_IN, BLK_T_OUT, BLK_T_WRITE_ZEROES,
  MAX_DISCARD_SEG, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_WRITE_ZEROES, VirtioBlk,
} from '../../../src/devices/virtio/blk.js';
import { le, TestDriver } from './driver.js';
import { MemDisk } from './fakes.js';

const SECTORS = 128;

function setup(readOnly = false) {
  const disk = new MemDisk(SECTORS, readOnly);
  const d = new TestDriver(new VirtioBlk(disk));
  d.init();
  return { d, q: d.queues[0], disk };
}

interface Req { type: number; sector?: number | bigint; out?: Uint8Array[]; inLen?: number[]; indirect?: boolean; splitHeader?: boolean }

/** Posts one request, notifies, and returns its completion, data and status. */
function request(d: TestDriver, r: Req) {
  const q = d.queues[0];
  const hdr = le([[r.type, 4], [0, 4], [BigInt(r.sector ?? 0), 8]]);
  const head = r.splitHeader ? [hdr.subarray(0, 5), hdr.subarray(5)] : [hdr];
  const ins = r.inLen ?? [];
  const p = q.post({ out: [...head, ...(r.out ?? [])], in: [...ins, 1], indirect: r.indirect });
  q.notify();
  const used = q.takeUsed();
  assert.equal(used.length, 1);
  assert.equal(used[0].id, p.head);
  const data = ins.map((n, i) => d.read(p.inAddrs[i], n));
  return { len: used[0].len, data, status: d.read(p.inAddrs[ins.length], 1)[0] };
}

test('config space and features', () => {
  const { d } = setup();
  const f = d.deviceFeatures();
  assert.ok(f & VIRTIO_BLK_F_FLUSH && f & VIRTIO_BLK_F_DISCARD && f & VIRTIO_BLK_F_WRITE_ZEROES);
  assert.equal(f & VIRTIO_BLK_F_RO, 0n);
  assert.equal(d.r(0x100), SECTORS, 'capacity low');
  assert.equal(d.r(0x104), 0, 'capacity high');
  assert.equal(d.r(0x10c), 254, 'seg_max');
  assert.equal(d.r(0x114), 512, 'blk_size');
  assert.equal(d.r(0x128), MAX_DISCARD_SEG, 'max_discard_seg');
  assert.equal(d.r(0x12c), 8, 'discard_sector_alignment');
  assert.equal(d.r(0x138, 1), 1, 'write_zeroes_may_unmap');
  const ro = setup(true);
  assert.equal(ro.d.deviceFeatures() & VIRTIO_BLK_F_RO, VIRTIO_BLK_F_RO);
});

test('read: data scattered over several buffers, used length counts data and status', () => {
  const { d, disk } = setup();
  const r = request(d, { type: BLK_T_IN, sector: 3, inLen: [512, 1024] });
  assert.equal(r.status, BLK_S_OK);
  assert.equal(r.len, 1537);
  assert.deepEqual(r.data[0], disk.data.subarray(3 * 512, 4 * 512));
  assert.deepEqual(r.data[1], disk.data.subarray(4 * 512, 6 * 512));
});

test('write, through an indirect table and a header split across descriptors', () => {
  const { d, disk } = setup();
  const payload = new Uint8Array(1024).map((_, i) => 255 - (i & 0xff));
  const r = request(d, { type: BLK_T_OUT, sector: 10, out: [payload.subarray(0, 100), payload.subarray(100)], indirect: true, splitHeader: true });
  assert.equal(r.status, BLK_S_OK);
  assert.equal(r.len, 1);
  assert.deepEqual(disk.data.subarray(10 * 512, 12 * 512), payload);
});

test('flush reaches the backend', () => {
  const { d, disk } = setup();
  assert.equal(request(d, { type: BLK_T_FLUSH }).status, BLK_S_OK);
  assert.equal(disk.flushes, 1);
});

test('GET_ID: 20 bytes, NUL padded', () => {
  const { d } = setup();
  const r = request(d, { type: BLK_T_GET_ID, inLen: [20] });
  assert.equal(r.status, BLK_S_OK);
  assert.equal(r.len, 21);
  assert.equal(new TextDecoder().decode(r.data[0]), 'rvisor-test-disk\0\0\0\0');
});

function segments(...segs: [sector: number, n: number, flags: number][]): Uint8Array {
  return le(segs.flatMap(([s, n, f]) => [[BigInt(s), 8], [n, 4], [f, 4]] as [bigint | number, 8 | 4][]));
}

test('discard: every segment reaches the backend; unmap or unknown flags are UNSUPP', () => {
  const { d, disk } = setup();
  assert.equal(request(d, { type: BLK_T_DISCARD, out: [segments([8, 8, 0], [32, 16, 0])] }).status, BLK_S_OK);
  assert.deepEqual(disk.discards, [[8 * 512, 8 * 512], [32 * 512, 16 * 512]]);
  assert.equal(request(d, { type: BLK_T_DISCARD, out: [segments([8, 8, 1])] }).status, BLK_S_UNSUPP);
  assert.equal(request(d, { type: BLK_T_DISCARD, out: [segments([8, 8, 2])] }).status, BLK_S_UNSUPP);
  assert.equal(request(d, { type: BLK_T_DISCARD, out: [segments([SECTORS - 4, 8, 0])] }).status, BLK_S_IOERR);
  const tooMany = Array.from({ length: MAX_DISCARD_SEG + 1 }, () => [0, 1, 0] as [number, number, number]);
  assert.equal(request(d, { type: BLK_T_DISCARD, out: [segments(...tooMany)] }).status, BLK_S_UNSUPP);
  assert.equal(disk.discards.length, 2, 'a refused request touches no segment');
});

test('write zeroes, with and without unmap', () => {
  const { d, disk } = setup();
  const r = request(d, { type: BLK_T_WRITE_ZEROES, out: [segments([2, 2, 1], [5, 1, 0])] });
  assert.equal(r.status, BLK_S_OK);
  assert.deepEqual(disk.zeroes, [[1024, 1024, true], [5 * 512, 512, false]]);
  assert.ok(disk.data.subarray(1024, 2048).every((b) => b === 0));
  assert.notEqual(disk.data[2048], 0);
});

test('out-of-range requests are IOERR and change nothing', () => {
  const { d, disk } = setup();
  const before = disk.data.slice();
  assert.equal(request(d, { type: BLK_T_IN, sector: SECTORS - 1, inLen: [1024] }).status, BLK_S_IOERR);
  assert.equal(request(d, { type: BLK_T_IN, sector: 2n ** 63n, inLen: [512] }).status, BLK_S_IOERR);
  assert.equal(request(d, { type: BLK_T_OUT, sector: SECTORS, out: [new Uint8Array(512)] }).status, BLK_S_IOERR);
  assert.equal(request(d, { type: BLK_T_OUT, sector: 0, out: [new Uint8Array(100)] }).status, BLK_S_IOERR, 'not whole sectors');
  assert.equal(request(d, { type: BLK_T_WRITE_ZEROES, out: [segments([SECTORS - 1, 2, 0])] }).status, BLK_S_IOERR);
  assert.deepEqual(disk.data, before);
  assert.equal(disk.transfers, 0, 'refused before reaching the disk');
  assert.deepEqual(disk.zeroes, []);
  assert.equal(request(d, { type: BLK_T_IN, sector: SECTORS - 1, inLen: [512] }).status, BLK_S_OK, 'the last sector');
});

test('read-only disk: writes, discards and write zeroes are IOERR', () => {
  const { d, disk } = setup(true);
  disk.enforceReadOnly = false; // the device must refuse on its own
  const before = disk.data.slice();
  assert.equal(request(d, { type: BLK_T_OUT, sector: 0, out: [new Uint8Array(512)] }).status, BLK_S_IOERR);
  assert.equal(request(d, { type: BLK_T_WRITE_ZEROES, out: [segments([0, 1, 0])] }).status, BLK_S_IOERR);
  assert.equal(request(d, { type: BLK_T_DISCARD, out: [segments([0, 1, 0])] }).status, BLK_S_IOERR);
  assert.deepEqual(disk.data, before);
  assert.equal(request(d, { type: BLK_T_IN, sector: 0, inLen: [512] }).status, BLK_S_OK);
});

test('a failing backend is IOERR, and the device keeps working', () => {
  const { d, disk } = setup();
  disk.failing = true;
  for (const r of [
    { type: BLK_T_IN, inLen: [512] },
    { type: BLK_T_OUT, out: [new Uint8Array(512)] },
    { type: BLK_T_FLUSH },
    { type: BLK_T_DISCARD, out: [segments([0, 1, 0])] },
  ]) {
    const res = request(d, r);
    assert.equal(res.status, BLK_S_IOERR, `type ${r.type}`);
    assert.equal(res.len, 1);
  }
  disk.failing = false;
  assert.equal(request(d, { type: BLK_T_IN, inLen: [512] }).status, BLK_S_OK);
  assert.equal(d.status & 0x40, 0);
});

test('unknown request types are UNSUPP; a short header is IOERR', () => {
  const { d } = setup();
  assert.equal(request(d, { type: 10 }).status, BLK_S_UNSUPP);
  assert.equal(request(d, { type: 0x12345 }).status, BLK_S_UNSUPP);
  const q = d.queues[0];
  const p = q.post({ out: [new Uint8Array(8)], in: [1] });
  q.notify();
  assert.deepEqual(q.takeUsed(), [{ id: p.head, len: 1 }]);
  assert.equal(d.read(p.inAddrs[0], 1)[0], BLK_S_IOERR);
});

test('a request with no writable byte is a driver error', () => {
  const { d } = setup();
  const q = d.queues[0];
  q.post({ out: [le([[BLK_T_FLUSH, 4], [0, 4], [0n, 8]])] });
  assert.doesNotThrow(() => q.notify());
  assert.equal(d.status & 0x40, 0x40);
});
