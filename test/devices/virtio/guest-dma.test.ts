// GuestDma: the only way virtio devices reach guest RAM. Ranges are checked against RAM
// and P2M, page crossings follow P2M, and writes land in the dirty log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory, NO_FRAME, PAGE_SIZE } from '../../../src/cpu/memory.js';
import { GuestDma } from '../../../src/machine/guest-dma.js';

const BASE = 0x8000_0000;
const SIZE = 16 * PAGE_SIZE;

function setup() {
  const mem = new GuestMemory(BASE, SIZE);
  return { mem, dma: new GuestDma(mem) };
}

test('valid: inside RAM only', () => {
  const { dma } = setup();
  assert.equal(dma.valid(BASE, SIZE), true);
  assert.equal(dma.valid(BASE + SIZE - 1, 1), true);
  assert.equal(dma.valid(BASE + SIZE - 1, 2), false, 'straddles the end');
  assert.equal(dma.valid(BASE - 1, 2), false, 'straddles the start');
  assert.equal(dma.valid(BASE + SIZE, 0), true, 'empty range at the end');
  assert.equal(dma.valid(BASE + SIZE + 1, 0), false);
  assert.equal(dma.valid(0, 16), false);
  assert.equal(dma.valid(BASE, -1), false);
  assert.equal(dma.valid(BASE, 2 ** 60), false);
  assert.equal(dma.valid(2 ** 64, 1), false);
  assert.equal(dma.valid(Number.NaN, 1), false);
});

test('reads and writes cross pages through P2M and mark every page dirty', () => {
  const { mem, dma } = setup();
  // Swap the frames behind guest pages 1 and 2.
  mem.p2m[1] = 2;
  mem.p2m[2] = 1;
  for (const f of mem.onRemap) f();
  const data = new Uint8Array(PAGE_SIZE + 8).map((_, i) => i & 0xff);
  const at = BASE + 2 * PAGE_SIZE - 4;
  assert.equal(dma.write(at, data), true);
  assert.deepEqual([...mem.u8.subarray(3 * PAGE_SIZE - 4, 3 * PAGE_SIZE)], [0, 1, 2, 3], 'end of guest page 1, in host frame 2');
  assert.equal(mem.u8[PAGE_SIZE], 4, 'start of guest page 2, in host frame 1');
  assert.deepEqual(mem.read(at, data.length), data);
  const back = new Uint8Array(data.length);
  assert.equal(dma.read(at, back), true);
  assert.deepEqual(back, data);
  assert.equal(mem.dirtyCount(), 3);
  assert.deepEqual(mem.takeDirty(), [1, 2, 3]);
  assert.equal(mem.dirtyCount(), 0);
});

test('a page without a frame is not DMA-able', () => {
  const { mem, dma } = setup();
  assert.equal(dma.valid(BASE + 3 * PAGE_SIZE, 16), true);
  mem.p2m[3] = NO_FRAME;
  for (const f of mem.onRemap) f();
  assert.equal(dma.valid(BASE + 3 * PAGE_SIZE, 16), false);
  assert.equal(dma.valid(BASE + 2 * PAGE_SIZE, PAGE_SIZE + 1), false);
  assert.equal(dma.valid(BASE + 4 * PAGE_SIZE, 16), true);
  assert.equal(dma.write(BASE + 3 * PAGE_SIZE, new Uint8Array(4)), false);
  assert.equal(dma.read16(BASE + 3 * PAGE_SIZE), 0);
});

test('ring accessors: little-endian, across a page, nothing outside RAM', () => {
  const { mem, dma } = setup();
  dma.write32(BASE + 8, 0x12345678);
  assert.deepEqual([...mem.read(BASE + 8, 4)], [0x78, 0x56, 0x34, 0x12]);
  dma.write16(BASE + PAGE_SIZE - 1, 0xbeef);
  assert.equal(dma.read16(BASE + PAGE_SIZE - 1), 0xbeef);
  dma.write32(BASE + PAGE_SIZE - 2, 0xcafef00d);
  assert.equal(dma.read32(BASE + PAGE_SIZE - 2), 0xcafef00d);
  mem.write(BASE + 64, Uint8Array.of(1, 0, 0, 0, 2, 0, 0, 0));
  assert.equal(dma.read64(BASE + 64), 2 * 2 ** 32 + 1);
  assert.deepEqual(mem.takeDirty(), [0, 1]);
  dma.write32(BASE + SIZE - 2, 0xffffffff);
  dma.write16(BASE - 2, 0xffff);
  assert.equal(dma.read32(BASE + SIZE - 2), 0, 'a write straddling the end was dropped whole');
  mem.write(BASE + SIZE - 2, Uint8Array.of(0xff, 0xff));
  assert.equal(dma.read32(BASE + SIZE - 2), 0xffff, 'the half outside RAM reads 0');
  assert.equal(dma.read32(BASE - 4), 0);
  assert.deepEqual(mem.takeDirty(), [15], 'only the loader write above');
});
