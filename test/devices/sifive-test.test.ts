// The test finisher as Linux's syscon-poweroff/syscon-reboot and test programs use it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SifiveTest, TEST_WIDTHS, type TestEvent } from '../../src/devices/sifive-test.js';

function setup() {
  const events: TestEvent[] = [];
  const dev = new SifiveTest((e) => events.push(e));
  return { dev, events };
}

test('widths: 16- and 32-bit writes', () => {
  assert.equal(TEST_WIDTHS, 2 | 4);
});

test('0x5555 powers off with code 0', () => {
  const { dev, events } = setup();
  dev.write(0, 4, 0x5555);
  assert.deepEqual(events, [{ kind: 'poweroff', code: 0 }]);
});

test('0x7777 resets', () => {
  const { dev, events } = setup();
  dev.write(0, 4, 0x7777);
  assert.deepEqual(events, [{ kind: 'reset' }]);
});

test('(code << 16) | 0x3333 powers off with a failure code', () => {
  const { dev, events } = setup();
  dev.write(0, 4, (3 << 16) | 0x3333);
  dev.write(0, 4, (0xffff << 16) | 0x3333);
  assert.deepEqual(events, [{ kind: 'poweroff', code: 3 }, { kind: 'poweroff', code: 0xffff }]);
});

test('16-bit stores of the command work too', () => {
  const { dev, events } = setup();
  dev.write(0, 2, 0x5555);
  assert.deepEqual(events, [{ kind: 'poweroff', code: 0 }]);
});

test('other values and offsets do nothing; reads return 0', () => {
  const { dev, events } = setup();
  dev.write(0, 4, 0x1234);
  dev.write(4, 4, 0x5555);
  dev.write(0, 4, 0x5556);
  assert.deepEqual(events, []);
  assert.equal(dev.read(0, 4), 0);
  assert.equal(dev.read(0x10, 4), 0);
});
