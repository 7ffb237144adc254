// SRST and legacy shutdown reach the platform; the calling hart stops. Reserved types
// and reasons are refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sreg } from '../support/run-asm.js';
import { boot, call, runIdle } from './harness.js';

const SRST = 0x53525354;

test('system_reset hands type and reason to the platform and stops the caller', () => {
  const m = boot(`
    li a0, 3                   # reserved type
    li a1, 0
    ${call(SRST, 0)}
    mv s0, a0
    li a0, 0
    li a1, 2                   # reserved reason
    ${call(SRST, 0)}
    mv s1, a0
    li a0, 1                   # cold reboot, system failure
    li a1, 1
    ${call(SRST, 0)}
  after: j after`);
  runIdle(m);
  const h = m.harts[0];
  assert.deepEqual([sreg(h, 's0'), sreg(h, 's1')], [-3n, -3n]);
  assert.deepEqual(m.platform.resets, [[1, 1]]);
  assert.equal(m.sbi.isRunning(0), false);
});

test('legacy shutdown is a system_reset(shutdown)', () => {
  const m = boot(`
    ${call(0x08)}
  after: j after`);
  runIdle(m);
  assert.deepEqual(m.platform.resets, [[0, 0]]);
});
