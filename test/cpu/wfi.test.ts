// WFI: the hart waits until an interrupt is pending and enabled in mie — regardless of
// the global enable — then continues after the WFI (or takes the interrupt if it is
// globally enabled, with mepc = the instruction after the WFI).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot, slotIndex } from '../../src/cpu/state.js';
import { INTERRUPT, enterMode, load, mtrap, reg, run } from '../support/run-asm.js';

const MTIP = 1 << 7, SSIP = 1 << 1;

function program(mstatusMIE: boolean, mie: number, mode: 'M' | 'S' = 'M'): ReturnType<typeof load> {
  return load(`
    la t0, mtrap
    csrw mtvec, t0
    li t0, ${mie}
    csrw mie, t0
    ${mstatusMIE ? 'csrsi mstatus, 8' : 'csrci mstatus, 8'}
    ${mode === 'S' ? enterMode('S', 'lower') : ''}
  lower:
  site:
    wfi
  after:
    li a0, 1
  done: j done
  .align 2
  mtrap: j mtrap`);
}

test('WFI with nothing pending waits and retires nothing more', () => {
  const m = program(false, MTIP);
  assert.equal(run(m, { until: ['done', 'mtrap'], stopWhenWaiting: true }).stoppedAt, 'waiting');
  assert.equal(m.h.waiting, true);
  const again = run(m, { until: 'done', stopWhenWaiting: true });
  assert.equal(again.retired, 0);
  assert.equal(reg(m.h, 'a0'), 0n);
});

test('with MIE = 0, a pending enabled interrupt wakes WFI and execution continues after it', () => {
  const m = program(false, MTIP);
  run(m, { until: ['done', 'mtrap'], stopWhenWaiting: true });
  m.h.w[slotIndex(Slot.Mip)] |= MTIP;
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done');
  assert.equal(m.h.waiting, false);
  assert.equal(reg(m.h, 'a0'), 1n);
  assert.equal(mtrap(m.h).cause, 0n, 'no trap taken');
});

test('with MIE = 1, the wake-up interrupt is taken with mepc after the WFI', () => {
  const m = program(true, MTIP);
  run(m, { until: ['done', 'mtrap'], stopWhenWaiting: true });
  m.h.w[slotIndex(Slot.Mip)] |= MTIP;
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'mtrap');
  assert.equal(mtrap(m.h).cause, INTERRUPT | 7n);
  assert.equal(mtrap(m.h).epc, m.sym('after'));
});

test('an interrupt pending but not enabled in mie does not wake WFI', () => {
  const m = program(false, MTIP);
  run(m, { until: ['done', 'mtrap'], stopWhenWaiting: true });
  m.h.w[slotIndex(Slot.Mip)] |= SSIP;
  assert.equal(run(m, { until: ['done', 'mtrap'], stopWhenWaiting: true }).stoppedAt, 'waiting');
});

test('WFI with an enabled interrupt already pending does not wait', () => {
  const m = program(false, SSIP);
  m.h.w[slotIndex(Slot.Mip)] |= SSIP;
  assert.equal(run(m, { until: ['done', 'mtrap'], stopWhenWaiting: true }).stoppedAt, 'done');
});

test('WFI is legal in S-mode when TW = 0', () => {
  const m = program(false, MTIP, 'S');
  assert.equal(run(m, { until: ['done', 'mtrap'], stopWhenWaiting: true }).stoppedAt, 'waiting');
  m.h.w[slotIndex(Slot.Mip)] |= MTIP;
  // In S-mode an M interrupt is always enabled: it is taken, mepc after the WFI.
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'mtrap');
  assert.equal(mtrap(m.h).epc, m.sym('after'));
});
