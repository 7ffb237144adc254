// save() -> restore() -> save() for the platform devices: the restored device saves the
// same state, behaves the same from then on, drives its interrupt lines to the restored
// level, and refuses corrupt states without changing anything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Clint } from '../../src/devices/clint.js';
import { GoldfishRtc } from '../../src/devices/goldfish-rtc.js';
import { Plic } from '../../src/devices/plic.js';
import { SnapshotError } from '../../src/devices/snapshot.js';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { FakeHart, FakeLine, FakeTime, MEIP, MSIP, MTIP, SEIP } from './fakes.js';

/** structuredClone keeps Uint8Arrays, so a test can corrupt a copy of a saved state. */
function corrupt<T>(state: T, change: (s: T) => void): T {
  const copy = structuredClone(state);
  change(copy);
  return copy;
}

/** Every corruption throws a SnapshotError and leaves the device's state as it was. */
function assertRefused(dev: { save(): unknown; restore(s: unknown): void }, states: unknown[]): void {
  const before = dev.save();
  for (const s of states) {
    assert.throws(() => dev.restore(s), SnapshotError, JSON.stringify(s, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
    assert.deepEqual(dev.save(), before);
  }
}

function uartSetup() {
  const line = new FakeLine();
  const out: number[] = [];
  const uart = new Uart16550(line, (b) => out.push(...b));
  return { uart, line, out };
}

test('uart: round trip keeps the FIFO, registers and interrupt', () => {
  const a = uartSetup();
  const w = (off: number, v: number) => a.uart.write(off, 1, v);
  w(3, 0x80); w(0, 0x02); w(3, 0x03); w(2, 0xc1); w(4, 0x0b); w(7, 0x5a); w(1, 0x01);
  a.uart.receive(new TextEncoder().encode('hello world'));
  a.uart.read(0, 1); // consumes 'h': the FIFO head is no longer at 0
  assert.equal(a.line.level, true);
  const saved = a.uart.save();

  const b = uartSetup();
  b.uart.restore(saved);
  assert.deepEqual(b.uart.save(), saved);
  assert.equal(b.line.level, true, 'the line is driven to the restored level');
  const drain = (u: Uart16550) => Array.from({ length: 12 }, () => [u.read(2, 1), u.read(5, 1), u.read(0, 1)]);
  assert.deepEqual(drain(b.uart), drain(a.uart));
  assert.equal(b.line.level, false);
});

test('uart: corrupt states are refused', () => {
  const { uart } = uartSetup();
  uart.receive(Uint8Array.of(1, 2, 3));
  const s = uart.save();
  assertRefused(uart, [
    null, 42, [], corrupt(s, (c) => { c.ier = 0x10; }), corrupt(s, (c) => { c.rxTrigger = 5; }),
    corrupt(s, (c) => { c.rx = new Uint8Array(5000); }), corrupt(s, (c) => { (c as { lcr: unknown }).lcr = '3'; }),
    corrupt(s, (c) => { (c as { overrun: unknown }).overrun = 1; }), corrupt(s, (c) => { delete (c as Partial<typeof c>).mcr; }),
  ]);
});

test('plic: round trip keeps claims and drives the harts again', () => {
  const harts = [new FakeHart(), new FakeHart()];
  const plic = new Plic(harts);
  plic.write(4 * 10, 4, 3);
  plic.write(4 * 33, 4, 2);
  plic.write(0x2000 + 0x80 * 3, 4, 1 << 10);
  plic.write(0x2000 + 0x80 * 3 + 4, 4, 1 << 1);
  plic.write(0x2000, 4, 1 << 10);
  plic.line(10).set(true);
  plic.line(33).set(true);
  assert.equal(plic.read(0x20_0000 + 0x1000 * 3 + 4, 4), 10, 'hart 1 S claims 10');
  const saved = plic.save();

  const other = [new FakeHart(), new FakeHart()];
  other[0].mip = MEIP | SEIP; // stale levels from before the restore
  const copy = new Plic(other);
  copy.restore(saved);
  assert.deepEqual(copy.save(), saved);
  assert.deepEqual(other.map((h) => h.mip), harts.map((h) => h.mip));
  assert.equal(other[1].has(SEIP), true, 'source 33 is still pending for hart 1 S');
  assert.equal(copy.read(0x20_0000 + 0x1000 * 3 + 4, 4), 33);
  assert.equal(copy.read(0x20_0000 + 0x1000 * 3 + 4, 4), 0, 'source 10 stays claimed');
});

test('plic: corrupt states are refused', () => {
  const plic = new Plic([new FakeHart()], 40);
  const s = plic.save();
  assertRefused(plic, [
    corrupt(s, (c) => { c.priority[3] = 8; }), corrupt(s, (c) => { c.priority[0] = 1; }),
    corrupt(s, (c) => { c.enable.pop(); }), corrupt(s, (c) => { c.enable[0] = 1; }),
    corrupt(s, (c) => { c.level[1] = 1 << 9; }), corrupt(s, (c) => { c.level.push(0); }), corrupt(s, (c) => { c.sources = 31; }),
    corrupt(s, (c) => { c.threshold = [1, 2, 3]; }), corrupt(s, (c) => { c.claimed[0] = -1; }),
  ]);
});

test('clint: round trip keeps msip and mtimecmp and re-drives MSIP/MTIP', () => {
  const harts = [new FakeHart(), new FakeHart()];
  const time = new FakeTime(5000);
  const clint = new Clint(harts, time);
  clint.write(4, 4, 1);
  clint.write(0x4000, 4, 4000);
  clint.write(0x4004, 4, 0);
  clint.write(0x4008, 4, 0x1234);
  clint.write(0x400c, 4, 7);
  const saved = clint.save();
  assert.deepEqual(saved.harts, [{ msip: 0, mtimecmp: '4000' }, { msip: 1, mtimecmp: String((7n << 32n) | 0x1234n) }]);

  const other = [new FakeHart(), new FakeHart()];
  other[1].mip = MTIP;
  const copy = new Clint(other, time);
  copy.restore(saved);
  assert.deepEqual(copy.save(), saved);
  assert.equal(other[0].mip, MTIP);
  assert.equal(other[1].mip, MSIP);
  assertRefused(copy, [
    corrupt(saved, (c) => { c.harts.pop(); }), corrupt(saved, (c) => { c.harts[0].msip = 2; }),
    corrupt(saved, (c) => { c.harts[0].mtimecmp = String(1n << 64n); }), corrupt(saved, (c) => { c.harts[0].mtimecmp = '0x10'; }),
    corrupt(saved, (c) => { c.latchedHigh = -2; }),
  ]);
});

test('rtc: round trip keeps the guest-set clock and a pending alarm', () => {
  const clock = { ns: 1_000_000_000_000n };
  const line = new FakeLine();
  const rtc = new GoldfishRtc(line, () => clock.ns);
  rtc.write(0x04, 4, 0);
  rtc.write(0x00, 4, 5000); // the guest sets its clock to 5000 ns
  rtc.write(0x0c, 4, 0);
  rtc.write(0x08, 4, 9000);
  rtc.write(0x10, 4, 1);
  const saved = rtc.save();

  const line2 = new FakeLine();
  const copy = new GoldfishRtc(line2, () => clock.ns);
  copy.restore(saved);
  assert.deepEqual(copy.save(), saved);
  assert.equal(copy.read(0x00, 4), 5000);
  assert.equal(line2.level, false);
  clock.ns += 5000n;
  copy.update();
  assert.equal(line2.level, true, 'the restored alarm fires');
  assertRefused(copy, [
    corrupt(saved, (c) => { c.alarm = '-1'; }), corrupt(saved, (c) => { c.offset = 'x'; }),
    corrupt(saved, (c) => { c.alarmHigh = 2 ** 32; }), corrupt(saved, (c) => { (c as { irqEnabled: unknown }).irqEnabled = 'yes'; }),
  ]);
});
