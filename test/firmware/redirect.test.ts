// Traps that reach the firmware without being SBI calls: undelegated exceptions go to
// S-mode as if delegated; a stray M-level interrupt is masked and execution goes on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot } from '../../src/cpu/state.js';
import { Mip } from '../../src/cpu/trap.js';
import { reg, slot } from '../support/run-asm.js';
import { boot, run } from './harness.js';

const SPP = 1n << 8n, SPIE = 1n << 5n;

function trapping(body: string): ReturnType<typeof boot> {
  return boot(`
    la t0, strap
    csrw stvec, t0
    ${body}
  .align 2
  strap:
    csrr s0, scause
    csrr s1, sepc
    csrr s2, stval
    csrr s3, sstatus
  done: j done`);
}

test('an illegal instruction in S (not delegated) arrives at stvec with scause/sepc/stval', () => {
  const m = trapping(`
    csrsi sstatus, 2
  bad: csrr t0, mstatus`);
  run(m);
  const h = m.harts[0];
  assert.equal(h.priv, 1);
  assert.deepEqual([reg(h, 's0'), reg(h, 's1'), reg(h, 's2')], [2n, m.sym('bad'), 0x300022f3n]);
  assert.equal(reg(h, 's3') & SPP, SPP);
  assert.equal(reg(h, 's3') & SPIE, SPIE, 'SPIE = old SIE');
  assert.equal(reg(h, 's3') & 2n, 0n, 'SIE cleared');
  assert.equal(slot(h, Slot.Mcause), 0n, 'nothing entered M-mode');
  assert.equal(slot(h, Slot.Medeleg), 0xb159n, 'medeleg restored');
});

test('a load access fault in S is redirected with the address in stval', () => {
  const m = trapping(`
    li t1, 0x10008
  bad: ld t0, 0(t1)`);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([reg(h, 's0'), reg(h, 's1'), reg(h, 's2')], [5n, m.sym('bad'), 0x10008n]);
});

test('an illegal instruction in U is redirected with SPP = U', () => {
  const m = trapping(`
    la t0, user
    csrw sepc, t0
    li t0, 0x100
    csrc sstatus, t0
    sret
  user:
  bad: csrr t0, sstatus`);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([reg(h, 's0'), reg(h, 's1')], [2n, m.sym('bad')]);
  assert.equal(reg(h, 's3') & SPP, 0n);
});

test('a misaligned AMO is delegated to S directly', () => {
  const m = trapping(`
    la t1, strap
    addi t1, t1, 2
  bad: amoadd.w t0, t2, (t1)`);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([reg(h, 's0'), reg(h, 's1'), reg(h, 's2')], [6n, m.sym('bad'), m.sym('strap') + 2n]);
});

test('an M-level interrupt that reaches the firmware is masked and S-mode goes on', () => {
  const m = boot(`
    li t0, 0
  loop: addi t0, t0, 1
    li t1, 10
    blt t0, t1, loop
  done: j done`);
  const h = m.harts[0];
  h.s.set64(Slot.Mie, 1n << 7n);
  h.setInterrupt(Mip.MTIP, true);
  run(m);
  assert.equal(reg(h, 't0'), 10n);
  assert.equal(slot(h, Slot.Mie) & (1n << 7n), 0n, 'MTIE masked');
  assert.equal(slot(h, Slot.Mcause), 0n);
  assert.equal(h.priv, 1);
});
