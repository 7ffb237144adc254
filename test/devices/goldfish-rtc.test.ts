// The RTC read and programmed as Linux's rtc-goldfish driver does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoldfishRtc, RTC_WIDTHS } from '../../src/devices/goldfish-rtc.js';
import { FakeLine } from './fakes.js';

const TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c;

function setup(ns: bigint) {
  const clock = { ns };
  const line = new FakeLine();
  const rtc = new GoldfishRtc(line, () => clock.ns);
  const r = (off: number) => rtc.read(off, 4) >>> 0;
  const w = (off: number, v: number) => rtc.write(off, 4, v | 0);
  const readTime = () => {
    const lo = r(TIME_LOW);
    const hi = r(TIME_HIGH);
    return (BigInt(hi) << 32n) | BigInt(lo);
  };
  const setAlarm = (t: bigint) => {
    w(ALARM_HIGH, Number(t >> 32n));
    w(ALARM_LOW, Number(t & 0xffffffffn));
    w(IRQ_ENABLED, 1);
  };
  return { rtc, clock, line, r, w, readTime, setAlarm };
}

// 2024-01-02T03:04:05.678Z
const T0 = 1_704_164_645_678_000_000n;

test('widths: 32-bit registers', () => {
  assert.equal(RTC_WIDTHS, 4);
});

test('reads the wall clock in nanoseconds since the epoch', () => {
  const { readTime } = setup(T0);
  assert.equal(readTime(), T0);
});

test('TIME_HIGH returns the half latched by the TIME_LOW read', () => {
  const { clock, r } = setup(0xffff_fff0n);
  const lo = r(TIME_LOW);
  clock.ns = 0x1_0000_0005n;
  assert.deepEqual([r(TIME_HIGH), lo], [0, 0xffff_fff0]);
  r(TIME_LOW);
  assert.equal(r(TIME_HIGH), 1);
});

test('setting the time (HIGH then LOW) offsets the clock from then on', () => {
  const { clock, w, readTime } = setup(T0);
  const target = 1_000_000_000_000_000_000n;
  w(TIME_HIGH, Number(target >> 32n));
  w(TIME_LOW, Number(target & 0xffffffffn));
  assert.equal(readTime(), target);
  clock.ns += 1_000n;
  assert.equal(readTime(), target + 1_000n);
});

test('an alarm fires once its time comes, and CLEAR_INTERRUPT drops the line', () => {
  const { rtc, clock, line, r, w, setAlarm } = setup(T0);
  setAlarm(T0 + 5_000_000_000n);
  assert.equal(r(ALARM_STATUS), 1);
  assert.equal(r(ALARM_LOW), Number((T0 + 5_000_000_000n) & 0xffffffffn));
  assert.equal(r(ALARM_HIGH), Number((T0 + 5_000_000_000n) >> 32n));
  rtc.update();
  assert.equal(line.level, false);
  clock.ns += 5_000_000_000n;
  rtc.update();
  assert.equal(line.level, true);
  assert.equal(r(ALARM_STATUS), 0, 'a fired alarm is no longer armed');
  w(CLEAR_INTERRUPT, 1);
  assert.equal(line.level, false);
  rtc.update();
  assert.equal(line.level, false, 'one alarm, one interrupt');
});

test('an alarm in the past fires as soon as it is written', () => {
  const { line, setAlarm } = setup(T0);
  setAlarm(T0 - 1n);
  assert.equal(line.level, true);
});

test('the interrupt reaches the line only while IRQ_ENABLED', () => {
  const { rtc, clock, line, r, w } = setup(T0);
  w(ALARM_HIGH, Number(T0 >> 32n));
  w(ALARM_LOW, Number((T0 + 10n) & 0xffffffffn));
  clock.ns += 10n;
  rtc.update();
  assert.equal(line.level, false);
  assert.equal(r(IRQ_ENABLED), 0);
  w(IRQ_ENABLED, 1);
  assert.equal(line.level, true, 'the fired alarm was held pending');
  w(IRQ_ENABLED, 0);
  assert.equal(line.level, false);
});

test('CLEAR_ALARM disarms a pending alarm', () => {
  const { rtc, clock, line, r, w, setAlarm } = setup(T0);
  setAlarm(T0 + 100n);
  w(CLEAR_ALARM, 1);
  assert.equal(r(ALARM_STATUS), 0);
  clock.ns += 200n;
  rtc.update();
  assert.equal(line.level, false);
});
