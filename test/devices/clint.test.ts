// The CLINT driven as OpenSBI's aclint drivers drive it on rv64 (64-bit accesses arrive as
// two 32-bit ones, low word first) and as an rv32 kernel would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clint, CLINT_WIDTHS } from '../../src/devices/clint.js';
import { FakeHart, FakeTime, MSIP, MTIP } from './fakes.js';

const msip = (h: number) => 4 * h;
const mtimecmp = (h: number) => 0x4000 + 8 * h;
const MTIME = 0xbff8;

function setup(harts = 2, ticks = 1000) {
  const h = Array.from({ length: harts }, () => new FakeHart());
  const time = new FakeTime(ticks);
  const clint = new Clint(h, time);
  /** An rv64 sd as the bus delivers it. */
  const write64 = (off: number, v: bigint) => {
    clint.write(off, 4, Number(v & 0xffffffffn) | 0);
    clint.write(off + 4, 4, Number(v >> 32n) | 0);
  };
  const read64 = (off: number) => {
    const lo = clint.read(off, 4) >>> 0;
    const hi = clint.read(off + 4, 4) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  };
  return { clint, harts: h, time, write64, read64 };
}

test('widths: 32-bit, and 64-bit split by the bus', () => {
  assert.equal(CLINT_WIDTHS, 4 | 8);
});

test('mtimecmp resets to all ones and no timer is pending', () => {
  const { clint, harts, read64 } = setup();
  assert.equal(read64(mtimecmp(0)), 0xffff_ffff_ffff_ffffn);
  assert.equal(read64(mtimecmp(1)), 0xffff_ffff_ffff_ffffn);
  assert.equal(clint.update(), Infinity);
  assert.equal(harts[0].has(MTIP) || harts[1].has(MTIP), false);
});

test('mtime reads the time source; writes to it are ignored', () => {
  const { clint, time, read64, write64 } = setup(1, 0);
  time.ticks = 0x1_2345_6789;
  assert.equal(read64(MTIME), 0x1_2345_6789n);
  write64(MTIME, 5n);
  assert.equal(read64(MTIME), 0x1_2345_6789n);
  assert.equal(clint.read(MTIME + 4, 4), 1, 'high word alone');
});

test('a split mtime read does not tear when the low word wraps in between', () => {
  const { clint, time } = setup(1, 0xffff_ffff);
  const lo = clint.read(MTIME, 4) >>> 0;
  time.ticks = 0x1_0000_0001;
  const hi = clint.read(MTIME + 4, 4);
  assert.deepEqual([hi, lo], [0, 0xffff_ffff]);
  assert.equal(clint.read(MTIME + 4, 4), 1, 'the latch serves only the very next read');
});

test('mtimecmp in the past raises MTIP at once; in the future it does not', () => {
  const { clint, harts, time, write64 } = setup(2, 1000);
  write64(mtimecmp(1), 500n);
  assert.equal(harts[1].has(MTIP), true, 'raised by the write itself');
  assert.equal(harts[0].has(MTIP), false);
  write64(mtimecmp(1), 1000n);
  assert.equal(harts[1].has(MTIP), true, 'mtime >= mtimecmp');
  write64(mtimecmp(1), 2000n);
  assert.equal(harts[1].has(MTIP), false, 'writing a future mtimecmp acknowledges the timer');
  assert.equal(clint.update(), 2000);
  time.ticks = 1999;
  assert.equal(clint.update(), 2000);
  assert.equal(harts[1].has(MTIP), false);
  time.ticks = 2000;
  assert.equal(clint.update(), Infinity);
  assert.equal(harts[1].has(MTIP), true);
});

test('update() returns the earliest future deadline over all harts', () => {
  const { clint, write64 } = setup(3, 100);
  write64(mtimecmp(0), 900n);
  write64(mtimecmp(1), 50n);
  write64(mtimecmp(2), 300n);
  assert.equal(clint.update(), 300);
});

test('64-bit compare uses both halves (rv64 split write)', () => {
  const { clint, harts, time, write64, read64 } = setup(1, 0);
  write64(mtimecmp(0), 0x1_0000_0010n);
  assert.equal(read64(mtimecmp(0)), 0x1_0000_0010n);
  time.ticks = 0x1_0000_0000;
  assert.equal(clint.update(), 0x1_0000_0010);
  assert.equal(harts[0].has(MTIP), false);
  time.ticks = 0x1_0000_0010;
  clint.update();
  assert.equal(harts[0].has(MTIP), true);
});

test('rv32 sequence: low word to all ones, high word, then low word', () => {
  const { clint, harts } = setup(1, 0x2_0000_0000);
  clint.write(mtimecmp(0), 4, -1);
  clint.write(mtimecmp(0) + 4, 4, 3);
  assert.equal(harts[0].has(MTIP), false);
  clint.write(mtimecmp(0), 4, 0x10);
  assert.equal(harts[0].has(MTIP), false);
  assert.equal(clint.update(), 0x3_0000_0010);
});

test('msip bit 0 drives MSIP on its hart', () => {
  const { clint, harts } = setup(2);
  clint.write(msip(1), 4, 0xffffffff | 0);
  assert.equal(harts[1].has(MSIP), true);
  assert.equal(harts[0].has(MSIP), false);
  assert.equal(clint.read(msip(1), 4), 1, 'only bit 0 is implemented');
  clint.write(msip(1), 4, 0);
  assert.equal(harts[1].has(MSIP), false);
  assert.equal(clint.read(msip(1), 4), 0);
});

test('registers of absent harts read 0 and ignore writes', () => {
  const { clint, harts } = setup(1);
  clint.write(msip(1), 4, 1);
  assert.equal(clint.read(msip(1), 4), 0);
  clint.write(mtimecmp(1), 4, 0);
  assert.equal(clint.read(mtimecmp(1), 4), 0);
  assert.equal(harts[0].mip, 0);
});
