// Sstc: with menvcfg.STCE = 1, mip.STIP is (time >= stimecmp) and read-only; S-mode
// reaches stimecmp only when STCE = 1 and mcounteren.TM = 1. Time comes from a fake
// TimeSource the test advances.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INTERRUPT, enterMode, load, mtrap, reg, run, strap } from '../support/run-asm.js';

const STIP = 1n << 5n;
const STCE = '0x8000000000000000';

class FakeTime {
  t = 0;
  mtime(): number {
    return this.t;
  }
}

function sstcRun(time: FakeTime, body: string): ReturnType<typeof load> {
  return load(`
    la t0, mtrap
    csrw mtvec, t0
    ${body}
  done: j done
  .align 2
  mtrap: j mtrap
  .align 2
  strap: j strap`, { time });
}

test('STIP is set at time = stimecmp and cleared by a later stimecmp', () => {
  const time = new FakeTime();
  time.t = 999;
  const m = sstcRun(time, `
    li t0, ${STCE}
    csrw menvcfg, t0
    li t0, 1000
    csrw stimecmp, t0
    csrr a0, mip
  step2:
    csrr a1, mip
    li t0, 2000
    csrw stimecmp, t0
    csrr a2, mip`);
  run(m, { until: 'step2' });
  time.t = 1000;
  run(m, { until: ['done', 'mtrap'] });
  assert.equal(reg(m.h, 'a0') & STIP, 0n, 'time 999 < 1000');
  assert.equal(reg(m.h, 'a1') & STIP, STIP, 'time 1000 >= 1000');
  assert.equal(reg(m.h, 'a2') & STIP, 0n, 'time 1000 < 2000');
});

test('with STCE = 1, mip.STIP cannot be written', () => {
  const time = new FakeTime();
  const m = sstcRun(time, `
    li t0, ${STCE}
    csrw menvcfg, t0
    li t0, 1000000
    csrw stimecmp, t0
    li t0, 0x20
    csrs mip, t0
    csrr a0, mip`);
  run(m, { until: ['done', 'mtrap'] });
  assert.equal(reg(m.h, 'a0') & STIP, 0n);
});

test('stimecmp compares unsigned: 2^64 - 1 (the reset value, "never") leaves STIP clear', () => {
  const time = new FakeTime();
  time.t = 123456;
  const m = sstcRun(time, `
    li t0, ${STCE}
    csrw menvcfg, t0
    csrr a0, mip                 # stimecmp still at its reset value
    li t0, -1
    csrw stimecmp, t0
    csrr a1, mip
    li t0, 0x8000000000000000
    csrw stimecmp, t0
    csrr a2, mip`);
  run(m, { until: ['done', 'mtrap'] });
  assert.equal(reg(m.h, 'a0') & STIP, 0n, 'reset value');
  assert.equal(reg(m.h, 'a1') & STIP, 0n, '2^64 - 1');
  assert.equal(reg(m.h, 'a2') & STIP, 0n, '2^63');
});

test('with STCE = 0, stimecmp does not drive STIP and STIP is software-writable', () => {
  const time = new FakeTime();
  time.t = 5000;
  const m = sstcRun(time, `
    li t0, 1000
    csrw stimecmp, t0            # M-mode may access it regardless of STCE
    csrr a0, mip
    li t0, 0x20
    csrs mip, t0
    csrr a1, mip`);
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done');
  assert.equal(reg(m.h, 'a0') & STIP, 0n);
  assert.equal(reg(m.h, 'a1') & STIP, STIP);
});

test('the Sstc timer interrupt is delivered to S-mode when time reaches stimecmp', () => {
  const time = new FakeTime();
  const m = sstcRun(time, `
    li t0, 1000000
    csrw stimecmp, t0            # far in the future while setting up
    li t0, ${STCE}
    csrw menvcfg, t0
    li t0, 2
    csrw mcounteren, t0          # TM: S may use stimecmp
    li t0, 0x20
    csrw mideleg, t0
    csrw mie, t0
    la t0, strap
    csrw stvec, t0
    csrsi sstatus, 2             # SIE
    ${enterMode('S', 'smode')}
  smode:
    li t0, 500
    csrw stimecmp, t0
  spin:
    j spin`);
  run(m, { until: ['spin', 'strap', 'mtrap'] });
  assert.equal(m.h.pc, m.sym('spin'), 'no interrupt before time reaches 500');
  time.t = 500;
  run(m, { until: ['strap', 'mtrap'], maxSteps: 5 });
  assert.equal(m.h.pc, m.sym('strap'));
  assert.equal(strap(m.h).cause, INTERRUPT | 5n);
});

function stimecmpFrom(mode: 'S' | 'U', menvcfg: string, mcounteren: number): { trapped: boolean; cause: bigint } {
  const time = new FakeTime();
  const m = sstcRun(time, `
    li t0, ${menvcfg}
    csrw menvcfg, t0
    li t0, ${mcounteren}
    csrw mcounteren, t0
    ${enterMode(mode, 'lower')}
  lower:
    csrr a0, stimecmp`);
  const r = run(m, { until: ['done', 'mtrap'] });
  return { trapped: r.stoppedAt === 'mtrap', cause: mtrap(m.h).cause };
}

test('stimecmp from S-mode needs menvcfg.STCE and mcounteren.TM', () => {
  assert.equal(stimecmpFrom('S', STCE, 2).trapped, false);
  assert.deepEqual(stimecmpFrom('S', '0', 2), { trapped: true, cause: 2n });
  assert.deepEqual(stimecmpFrom('S', STCE, 0), { trapped: true, cause: 2n });
});

test('stimecmp is not accessible from U-mode', () => {
  assert.deepEqual(stimecmpFrom('U', STCE, -1), { trapped: true, cause: 2n });
});
