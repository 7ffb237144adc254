// The PLIC driven as Linux's irq-sifive-plic and OpenSBI drive it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Plic, PLIC_SOURCES, PLIC_WIDTHS } from '../../src/devices/plic.js';
import { FakeHart, MEIP, SEIP } from './fakes.js';

const priority = (src: number) => 4 * src;
const pending = (word: number) => 0x1000 + 4 * word;
const enable = (ctx: number, word: number) => 0x2000 + 0x80 * ctx + 4 * word;
const threshold = (ctx: number) => 0x20_0000 + 0x1000 * ctx;
const claim = (ctx: number) => threshold(ctx) + 4;
const sctx = (hart: number) => 2 * hart + 1;
const mctx = (hart: number) => 2 * hart;

function setup(harts = 2) {
  const h = Array.from({ length: harts }, () => new FakeHart());
  const plic = new Plic(h);
  const r = (off: number) => plic.read(off, 4);
  const w = (off: number, v: number) => plic.write(off, 4, v);
  return { plic, harts: h, r, w };
}

/** Enables `src` for `ctx` the way Linux does: read-modify-write of the enable word. */
function enableSource(r: (o: number) => number, w: (o: number, v: number) => void, ctx: number, src: number) {
  const off = enable(ctx, src >> 5);
  w(off, r(off) | (1 << (src & 31)));
}

test('widths and source count', () => {
  assert.equal(PLIC_WIDTHS, 4);
  assert.equal(PLIC_SOURCES, 95);
});

test('priority, enable, threshold, claim, complete raise and clear SEIP on the right hart', () => {
  const { plic, harts, r, w } = setup();
  const uart = plic.line(10);
  w(priority(10), 1);
  enableSource(r, w, sctx(1), 10);
  w(threshold(sctx(1)), 0);

  uart.set(true);
  assert.equal(harts[1].has(SEIP), true);
  assert.equal(harts[1].has(MEIP), false);
  assert.equal(harts[0].mip, 0);
  assert.equal(r(pending(0)), 1 << 10);

  assert.equal(r(claim(sctx(1))), 10);
  assert.equal(harts[1].has(SEIP), false, 'claimed: no longer pending');
  assert.equal(r(pending(0)), 0);
  assert.equal(r(claim(sctx(1))), 0, 'nothing else to claim');

  // The driver serviced the device, which dropped its line, then completes.
  uart.set(false);
  w(claim(sctx(1)), 10);
  assert.equal(harts[1].has(SEIP), false);
});

test('a source still high after completion fires again', () => {
  const { plic, harts, r, w } = setup(1);
  const line = plic.line(5);
  w(priority(5), 3);
  enableSource(r, w, sctx(0), 5);
  line.set(true);
  assert.equal(r(claim(sctx(0))), 5);
  assert.equal(harts[0].has(SEIP), false);
  w(claim(sctx(0)), 5);
  assert.equal(harts[0].has(SEIP), true);
  assert.equal(r(claim(sctx(0))), 5);
});

test('a line that drops before the claim is no longer pending', () => {
  const { plic, harts, r, w } = setup(1);
  const line = plic.line(1);
  w(priority(1), 1);
  enableSource(r, w, sctx(0), 1);
  line.set(true);
  line.set(false);
  assert.equal(harts[0].has(SEIP), false);
  assert.equal(r(claim(sctx(0))), 0);
});

test('priority 0 never interrupts; the threshold masks priorities at or below it', () => {
  const { plic, harts, r, w } = setup(1);
  enableSource(r, w, sctx(0), 7);
  plic.line(7).set(true);
  assert.equal(harts[0].has(SEIP), false, 'priority 0');
  w(priority(7), 2);
  assert.equal(harts[0].has(SEIP), true);
  w(threshold(sctx(0)), 2);
  assert.equal(harts[0].has(SEIP), false);
  assert.equal(r(claim(sctx(0))), 0);
  w(threshold(sctx(0)), 1);
  assert.equal(harts[0].has(SEIP), true);
});

test('claim picks the highest priority, then the lowest source number', () => {
  const { plic, r, w } = setup(1);
  for (const [src, prio] of [[3, 1], [40, 5], [70, 5], [95, 7]] as const) {
    w(priority(src), prio);
    enableSource(r, w, sctx(0), src);
    plic.line(src).set(true);
  }
  assert.equal(r(pending(0)), 1 << 3);
  assert.equal(r(pending(1)), 1 << (40 - 32));
  assert.equal(r(pending(2)) >>> 0, ((1 << (70 - 64)) | (1 << 31)) >>> 0);
  assert.deepEqual([r(claim(sctx(0))), r(claim(sctx(0))), r(claim(sctx(0))), r(claim(sctx(0))), r(claim(sctx(0)))], [95, 40, 70, 3, 0]);
});

test('M-mode contexts drive MEIP; a source enabled in two contexts is claimed once', () => {
  const { plic, harts, r, w } = setup(2);
  const line = plic.line(11);
  w(priority(11), 1);
  enableSource(r, w, mctx(0), 11);
  enableSource(r, w, sctx(1), 11);
  line.set(true);
  assert.equal(harts[0].has(MEIP), true);
  assert.equal(harts[0].has(SEIP), false);
  assert.equal(harts[1].has(SEIP), true);
  assert.equal(r(claim(mctx(0))), 11);
  assert.equal(harts[0].has(MEIP), false);
  assert.equal(harts[1].has(SEIP), false);
  assert.equal(r(claim(sctx(1))), 0);
});

test('completion is ignored for a source the context has not enabled', () => {
  const { plic, harts, r, w } = setup(2);
  const line = plic.line(10);
  w(priority(10), 1);
  enableSource(r, w, sctx(0), 10);
  line.set(true);
  assert.equal(r(claim(sctx(0))), 10);
  w(claim(sctx(1)), 10);
  assert.equal(harts[0].has(SEIP), false, 'still claimed');
  w(claim(sctx(0)), 10);
  assert.equal(harts[0].has(SEIP), true);
});

test('disabling a source withdraws its interrupt', () => {
  const { plic, harts, r, w } = setup(1);
  w(priority(2), 1);
  enableSource(r, w, sctx(0), 2);
  plic.line(2).set(true);
  assert.equal(harts[0].has(SEIP), true);
  w(enable(sctx(0), 0), 0);
  assert.equal(harts[0].has(SEIP), false);
});

test('registers read back with their implemented bits only', () => {
  const { r, w } = setup(1);
  w(priority(1), 0xff);
  assert.equal(r(priority(1)), 7);
  w(priority(0), 5);
  assert.equal(r(priority(0)), 0, 'source 0 does not exist');
  w(priority(96), 5);
  assert.equal(r(priority(96)), 0);
  w(enable(sctx(0), 0), -1);
  assert.equal(r(enable(sctx(0), 0)) >>> 0, 0xfffffffe);
  w(enable(sctx(0), 2), -1);
  assert.equal(r(enable(sctx(0), 2)) >>> 0, 0xffffffff, 'sources 64..95');
  w(enable(sctx(0), 3), -1);
  assert.equal(r(enable(sctx(0), 3)), 0);
  w(threshold(sctx(0)), 9);
  assert.equal(r(threshold(sctx(0))), 7);
  w(pending(0), -1);
  assert.equal(r(pending(0)), 0, 'pending is read-only');
  assert.equal(r(threshold(5)), 0, 'context of an absent hart');
  w(threshold(5), 3);
  assert.equal(r(claim(5)), 0);
});

test('line() refuses sources that do not exist', () => {
  const { plic } = setup(1);
  assert.throws(() => plic.line(0), RangeError);
  assert.throws(() => plic.line(96), RangeError);
});

test('harts start with external interrupts low and are told only about changes', () => {
  const calls: [number, boolean][] = [];
  const hart = { setInterrupt: (bit: number, level: boolean) => calls.push([bit, level]) };
  const plic = new Plic([hart]);
  assert.deepEqual(calls, [[MEIP, false], [SEIP, false]]);
  calls.length = 0;
  plic.write(priority(4), 4, 1);
  plic.write(enable(1, 0), 4, 1 << 4);
  plic.line(4).set(true);
  plic.line(4).set(true);
  plic.write(priority(4), 4, 2);
  assert.deepEqual(calls, [[SEIP, true]]);
});
