// TIME, IPI and RFENCE: set_timer programs the Sstc comparator (STIP follows the clock,
// the S timer interrupt arrives at stvec), send_ipi raises SSIP on the selected harts,
// remote fences flush the selected harts' TLBs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INVALID_TAG } from '../../src/cpu/hart.js';
import { execute } from '../../src/cpu/interp.js';
import { Slot } from '../../src/cpu/state.js';
import { INTERRUPT, reg, slot, sreg } from '../support/run-asm.js';
import { boot, call, run } from './harness.js';

const TIME = 0x54494d45, IPI = 0x735049, RFENCE = 0x52464e43, HSM = 0x48534d;
const STIP = 1n << 5n, SSIP = 1n << 1n;

test('set_timer raises STIP when the clock reaches it, and the S timer interrupt reaches stvec', () => {
  const m = boot(`
    la t0, strap
    csrw stvec, t0
    li a0, 1000
    ${call(TIME, 0)}
    mv s0, a0
    csrr s1, sip               # time 500: not pending
    li t0, 0x20
    csrs sie, t0
    csrsi sstatus, 2
  spin: j spin
  .align 2
  strap:
    csrr s2, scause
    csrr s3, sepc
    li a0, -1
    ${call(TIME, 0)}           # far future: no longer pending
    csrr s4, sip
  done: j done`);
  m.platform.t = 500;
  run(m, 'spin');
  const h = m.harts[0];
  assert.equal(reg(h, 's0'), 0n);
  assert.equal(reg(h, 's1') & STIP, 0n);
  assert.equal(slot(h, Slot.Stimecmp), 1000n);
  execute(h, 50); // still 500: the hart keeps spinning
  assert.equal(h.pc, m.sym('spin'));
  assert.equal(slot(h, Slot.Scause), 0n);
  m.platform.t = 1000;
  run(m);
  assert.equal(reg(h, 's2'), INTERRUPT | 5n);
  assert.equal(reg(h, 's3'), m.sym('spin'));
  assert.equal(reg(h, 's4') & STIP, 0n);
});

test('set_timer in the past is pending at once; legacy set_timer writes a0 only', () => {
  const m = boot(`
    li a0, 10
    ${call(TIME, 0)}
    csrr s0, sip
    li a1, 99
    li a0, 5000
    ${call(0x00)}
    mv s1, a0
    mv s2, a1
    csrr s3, sip
  done: j done`);
  m.platform.t = 100;
  run(m);
  const h = m.harts[0];
  assert.equal(reg(h, 's0') & STIP, STIP);
  assert.deepEqual([reg(h, 's1'), reg(h, 's2'), reg(h, 's3') & STIP], [0n, 99n, 0n]);
  assert.equal(slot(h, Slot.Stimecmp), 5000n);
});

test('send_ipi interrupts another hart with a supervisor software interrupt', () => {
  const m = boot(`
    li a0, 1
    la a1, h1
    li a2, 0
    ${call(HSM, 0)}
    la t0, ready
  wait: ld t1, 0(t0)
    beqz t1, wait
    li a0, 2                   # hart 1
    li a1, 0
    ${call(IPI, 0)}
    mv s0, a0
  done: j done

  h1:
    la t0, h1trap
    csrw stvec, t0
    li t0, 2
    csrs sie, t0
    csrsi sstatus, 2
    la t0, ready
    li t1, 1
    sd t1, 0(t0)
  h1wait: wfi
    j h1wait
  .align 2
  h1trap:
    csrr s0, scause
  done1: j done1
  .align 3
  ready: .dword 0`);
  run(m);
  run(m, 'done1', 1);
  assert.equal(reg(m.harts[0], 's0'), 0n);
  assert.equal(reg(m.harts[1], 's0'), INTERRUPT | 1n);
});

test('hart_mask_base = -1 targets every hart; a hartid that does not exist is invalid', () => {
  const m = boot(`
    li a0, 1
    li a1, 5                   # hart 5 of 3
    ${call(IPI, 0)}
    mv s0, a0
    csrr s1, sip               # nothing sent, not even to hart 0
    li a0, 0
    li a1, -1
    ${call(IPI, 0)}
    mv s2, a0
    csrr s3, sip
  done: j done`, 3);
  run(m);
  const h = m.harts[0];
  assert.equal(sreg(h, 's0'), -3n);
  assert.equal(reg(h, 's1') & SSIP, 0n);
  assert.equal(reg(h, 's2'), 0n);
  assert.equal(reg(h, 's3') & SSIP, SSIP);
  for (const x of m.harts) assert.equal(slot(x, Slot.Mip) & SSIP, SSIP);
});

test('remote sfence.vma flushes the target harts\' TLBs; hypervisor fences are not supported', () => {
  const m = boot(`
    li a0, 2
    li a1, 0
    li a2, 0
    li a3, 0
    ${call(RFENCE, 1)}
    mv s0, a0
    li a0, 1
    li a1, 0
    ${call(RFENCE, 0)}         # fence.i on hart 0
    mv s1, a0
    li a0, 2
    li a1, 0
    ${call(RFENCE, 3)}
    mv s2, a0
    li a0, 8
    li a1, 0
    ${call(RFENCE, 2)}         # hart 3 of 2
    mv s3, a0
  done: j done`);
  const other = m.harts[1];
  other.tlbTagLo[7] = 0x7000;
  run(m);
  const h = m.harts[0];
  assert.deepEqual([sreg(h, 's0'), sreg(h, 's1'), sreg(h, 's2'), sreg(h, 's3')], [0n, 0n, -2n, -3n]);
  assert.equal(other.tlbTagLo[7], INVALID_TAG, 'flushed');
});
