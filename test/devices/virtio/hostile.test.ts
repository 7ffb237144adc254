// Rings written by a hostile or broken guest. Whatever the ring says, the device must not
// throw out to the bus, must not read or write outside guest RAM or outside the buffers a
// valid chain gave it, and must report the error the virtio way: DEVICE_NEEDS_RESET in
// the status and a configuration-change interrupt, then stay quiet until reset.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioBlk } from '../../../src/devices/virtio/blk.js';
import { VIRTIO_F_INDIRECT_DESC } from '../../../src/devices/virtio/device.js';
import { F_INDIRECT, F_NEXT, F_WRITE, INT_STATUS, le, RAM_BASE, TestDriver, type TestQueue } from './driver.js';
import { MemDisk } from './fakes.js';

function setup(opts: { drop?: bigint; ramSize?: number } = {}) {
  const disk = new MemDisk(64);
  const d = new TestDriver(new VirtioBlk(disk), opts.ramSize);
  d.init({ drop: opts.drop });
  const q = d.queues[0];
  // A read of sector 0: header, 512 bytes of data, status. Hostile variants reuse pieces.
  const hdr = d.alloc(le([[0, 4], [0, 4], [0n, 8]]));
  const data = d.alloc(new Uint8Array(512));
  const status = d.alloc(new Uint8Array(1).fill(0xee));
  return { d, q, disk, hdr, data, status };
}

/** Notifies and checks the device reported the error and touched nothing. */
function expectNeedsReset(d: TestDriver, q: TestQueue, why: string, reason: RegExp): void {
  const before = d.snapshot();
  assert.doesNotThrow(() => q.notify(), why);
  assert.equal(d.status & 0x40, 0x40, `${why}: NEEDS_RESET`);
  assert.equal(d.r(INT_STATUS) & 2, 2, `${why}: config-change interrupt`);
  assert.equal(d.line.level, true, `${why}: line raised`);
  assert.match(d.mmio.lastError, reason, `${why}: the violation found`);
  assert.deepEqual(d.snapshot(), before, `${why}: guest RAM unchanged`);
  assert.deepEqual(q.takeUsed(), [], `${why}: nothing completed`);
  // Stopped until reset: a good request afterwards is not served either.
  const h = d.alloc(le([[0, 4], [0, 4], [0n, 8]]));
  const s = d.alloc(new Uint8Array(1));
  q.writeDesc(10, h, 16, F_NEXT, 11);
  q.writeDesc(11, s, 1, F_WRITE, 0);
  q.publish(10);
  assert.doesNotThrow(() => q.notify());
  assert.deepEqual(q.takeUsed(), [], `${why}: device stays stopped`);
}

/** A read chain from descriptor 0 with the data descriptor replaced. */
function readWithData(q: TestQueue, hdr: number, addr: number, len: number, status: number): void {
  q.writeDesc(0, hdr, 16, F_NEXT, 1);
  q.writeDesc(1, addr, len, F_WRITE | F_NEXT, 2);
  q.writeDesc(2, status, 1, F_WRITE, 0);
  q.publish(0);
}

test('a valid chain through the same helpers is served (the baseline)', () => {
  const { d, q, hdr, data, status, disk } = setup();
  readWithData(q, hdr, data, 512, status);
  q.notify();
  assert.deepEqual(q.takeUsed(), [{ id: 0, len: 513 }]);
  assert.deepEqual(d.read(data, 512), disk.data.subarray(0, 512));
  assert.equal(d.read(status, 1)[0], 0);
  assert.equal(d.status & 0x40, 0);
});

test('descriptor loop: a descriptor naming itself', () => {
  const { d, q, hdr } = setup();
  q.writeDesc(0, hdr, 16, F_NEXT, 0);
  q.publish(0);
  expectNeedsReset(d, q, 'self loop', /loop/);
});

test('descriptor loop through writable descriptors', () => {
  const { d, q, hdr, data } = setup();
  q.writeDesc(0, hdr, 16, F_NEXT, 1);
  q.writeDesc(1, data, 8, F_WRITE | F_NEXT, 2);
  q.writeDesc(2, data + 8, 8, F_WRITE | F_NEXT, 1);
  q.publish(0);
  expectNeedsReset(d, q, 'loop 1 -> 2 -> 1', /loop/);
});

test('next index out of range', () => {
  const { d, q, hdr } = setup();
  q.writeDesc(0, hdr, 16, F_NEXT, 16);
  q.publish(0);
  expectNeedsReset(d, q, 'next = queue size', /index 16 beyond/);
});

test('head index out of range in the available ring', () => {
  const { d, q } = setup();
  q.publish(999);
  expectNeedsReset(d, q, 'head 999', /index 999 beyond/);
});

test('buffer address outside RAM', () => {
  const { d, q, hdr, status } = setup();
  readWithData(q, hdr, 0x1000, 512, status);
  expectNeedsReset(d, q, 'address below RAM', /outside RAM/);
});

test('buffer straddling the end of RAM', () => {
  const { d, q, hdr, status } = setup();
  readWithData(q, hdr, d.ramEnd - 256, 512, status);
  expectNeedsReset(d, q, 'straddles the end', /outside RAM/);
});

test('address with the high word set', () => {
  const { d, q, hdr, status } = setup();
  readWithData(q, hdr, RAM_BASE + 2 ** 56, 512, status);
  expectNeedsReset(d, q, 'high address', /outside RAM/);
});

test('huge length', () => {
  const { d, q, hdr, status } = setup();
  readWithData(q, hdr, RAM_BASE, 0xffff_ffff, status);
  expectNeedsReset(d, q, 'len 0xffffffff', /outside RAM/);
});

test('writable descriptor before a readable one', () => {
  const { d, q, hdr, status } = setup();
  q.writeDesc(0, status, 1, F_WRITE | F_NEXT, 1);
  q.writeDesc(1, hdr, 16, 0, 0);
  q.publish(0);
  expectNeedsReset(d, q, 'write before read', /readable descriptor after a writable/);
});

test('avail.idx jumping ahead by more than the queue size', () => {
  const { d, q } = setup();
  q.setAvailIdx(17);
  expectNeedsReset(d, q, 'avail.idx + 17', /avail.idx ran 17 entries ahead/);
});

/** Writes an indirect table and makes descriptor 0 point at it. */
function indirect(d: TestDriver, q: TestQueue, entries: [addr: number, len: number, flags: number, next: number][], tableLen?: number, headFlags = F_INDIRECT): number {
  const table = d.alloc(new Uint8Array(16 * Math.max(entries.length, 1)));
  entries.forEach(([a, n, f, nx], i) => q.writeDesc(i, a, n, f, nx, table));
  q.writeDesc(0, table, tableLen ?? 16 * entries.length, headFlags, 0);
  q.publish(0);
  return table;
}

test('indirect chain longer than its table (a loop inside the table)', () => {
  const { d, q, hdr, data } = setup();
  indirect(d, q, [[hdr, 16, F_NEXT, 1], [data, 8, F_WRITE | F_NEXT, 2], [data, 8, F_WRITE | F_NEXT, 3], [data, 8, F_WRITE | F_NEXT, 1]]);
  expectNeedsReset(d, q, 'loop in indirect table', /loop/);
});

test('indirect next out of the table', () => {
  const { d, q, hdr } = setup();
  indirect(d, q, [[hdr, 16, F_NEXT, 2], [hdr, 16, 0, 0]]);
  expectNeedsReset(d, q, 'indirect next 2 of 2', /index 2 beyond a 2-entry/);
});

test('nested indirect descriptor', () => {
  const { d, q, hdr, status } = setup();
  const inner = d.alloc(new Uint8Array(32));
  q.writeDesc(0, hdr, 16, F_NEXT, 1, inner);
  q.writeDesc(1, status, 1, F_WRITE, 0, inner);
  indirect(d, q, [[inner, 32, F_INDIRECT, 0]]);
  expectNeedsReset(d, q, 'table in a table', /inside an indirect table/);
});

test('indirect table with a bad length', () => {
  for (const len of [0, 20, 16 * 2048]) {
    const { d, q, hdr, status } = setup();
    indirect(d, q, [[hdr, 16, F_NEXT, 1], [status, 1, F_WRITE, 0]], len);
    expectNeedsReset(d, q, `indirect length ${len}`, /indirect table of/);
  }
});

test('indirect descriptor with NEXT set', () => {
  const { d, q, hdr, status } = setup();
  indirect(d, q, [[hdr, 16, F_NEXT, 1], [status, 1, F_WRITE, 0]], undefined, F_INDIRECT | F_NEXT);
  expectNeedsReset(d, q, 'INDIRECT | NEXT', /with NEXT/);
});

test('indirect descriptor when VIRTIO_F_INDIRECT_DESC was not negotiated', () => {
  const { d, q, hdr, status } = setup({ drop: VIRTIO_F_INDIRECT_DESC });
  indirect(d, q, [[hdr, 16, F_NEXT, 1], [status, 1, F_WRITE, 0]]);
  expectNeedsReset(d, q, 'indirect not negotiated', /without VIRTIO_F_INDIRECT_DESC/);
});

test('indirect table outside RAM', () => {
  const { d, q } = setup();
  q.writeDesc(0, d.ramEnd - 16, 32, F_INDIRECT, 0);
  q.publish(0);
  expectNeedsReset(d, q, 'table straddles the end', /indirect table outside RAM/);
});

test('total chain length above 4 GiB', () => {
  const { d, q, hdr } = setup({ ramSize: 32 << 20 });
  const big = RAM_BASE + (16 << 20);
  const entries: [number, number, number, number][] = [[hdr, 16, F_NEXT, 1]];
  for (let i = 1; i <= 257; i++) entries.push([big, 16 << 20, F_WRITE | (i < 257 ? F_NEXT : 0), i + 1]);
  indirect(d, q, entries);
  expectNeedsReset(d, q, '257 x 16 MiB', /longer than 4 GiB/);
});

test('a good request before a bad one completes; reset brings the device back', () => {
  const { d, q, hdr, data, status } = setup();
  readWithData(q, hdr, data, 512, status);
  q.writeDesc(5, hdr, 16, F_NEXT, 5);
  q.publish(5);
  assert.doesNotThrow(() => q.notify());
  assert.deepEqual(q.takeUsed(), [{ id: 0, len: 513 }]);
  assert.equal(d.status & 0x40, 0x40);
  d.queues.length = 0;
  d.init();
  assert.equal(d.status, 0xf);
  const q2 = d.queues[0];
  readWithData(q2, hdr, data, 512, status);
  q2.notify();
  assert.deepEqual(q2.takeUsed(), [{ id: 0, len: 513 }]);
});
