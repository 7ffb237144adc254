// Zicntr counters: instret counts retired instructions (a value written to minstret is
// what the next instruction reads), mcountinhibit stops cycle/instret, and
// mcounteren/scounteren gate cycle/time/instret (and hpmcounters) below M.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enterMode, mtrap, reg, runAsm } from '../support/run-asm.js';

test('instret advances by the number of instructions retired in between', () => {
  const { h } = runAsm(`
    csrr a0, instret
    addi t0, t0, 1
    addi t0, t0, 1
    addi t0, t0, 1
    csrr a1, instret
    csrr a2, minstret
  done: j done`);
  // The first csrr and three addis retire before the second read.
  assert.equal(reg(h, 'a1') - reg(h, 'a0'), 4n);
  assert.equal(reg(h, 'a2') - reg(h, 'a1'), 1n);
});

test('instructions that trap do not retire', () => {
  const { h } = runAsm(`
    la t0, handler
    csrw mtvec, t0
    csrr a0, minstret
    ecall
    csrr a1, minstret
  done: j done
  .align 2
  handler:
    csrr t1, mepc
    addi t1, t1, 4
    csrw mepc, t1
    mret`);
  // Retired in between: csrr a0, then handler's csrr/addi/csrw/mret; the ecall does not count.
  assert.equal(reg(h, 'a1') - reg(h, 'a0'), 5n);
});

test('a value written to minstret is the value the next instruction reads', () => {
  // Unprivileged spec, Zicsr: "a value written to instret by one instruction will be
  // the value read by the following instruction".
  const { h } = runAsm(`
    li t0, 1000
    csrw minstret, t0
    csrr a0, minstret
    csrr a1, instret
  done: j done`);
  assert.equal(reg(h, 'a0'), 1000n);
  assert.equal(reg(h, 'a1'), 1001n);
});

test('mcountinhibit.IR stops instret and mcountinhibit.CY stops cycle', () => {
  const { h } = runAsm(`
    csrwi mcountinhibit, 5       # CY | IR
    csrr a0, minstret
    csrr a1, mcycle
    nop
    nop
    csrr a2, minstret
    csrr a3, mcycle
    csrwi mcountinhibit, 0
    csrr a4, minstret
    nop
    csrr a5, minstret
  done: j done`);
  assert.equal(reg(h, 'a2'), reg(h, 'a0'));
  assert.equal(reg(h, 'a3'), reg(h, 'a1'));
  assert.equal(reg(h, 'a5') - reg(h, 'a4'), 2n);
});

test('mcountinhibit bit 1 (TM) is read-only zero', () => {
  const { h } = runAsm(`
    csrwi mcountinhibit, 7
    csrr a0, mcountinhibit
    csrwi mcountinhibit, 0
  done: j done`);
  assert.equal(reg(h, 'a0') & 7n, 5n);
});

test('time reads the platform time source', () => {
  const { h } = runAsm(`
    csrr a0, time
  done: j done`, { time: { mtime: () => 0x123456789 } });
  assert.equal(reg(h, 'a0'), 0x123456789n);
});

function counterFrom(mode: 'S' | 'U', mcounteren: number, scounteren: number, csr: string): { trapped: boolean; cause: bigint } {
  const { h, stoppedAt } = runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    li t0, ${mcounteren}
    csrw mcounteren, t0
    li t0, ${scounteren}
    csrw scounteren, t0
    ${enterMode(mode, 'lower')}
  lower:
    csrr a0, ${csr}
  done: j done
  .align 2
  mtrap: j mtrap`, { until: ['done', 'mtrap'] });
  return { trapped: stoppedAt === 'mtrap', cause: mtrap(h).cause };
}

test('S-mode reads of cycle/time/instret need the mcounteren bit', () => {
  for (const [csr, bit] of [['cycle', 0], ['time', 1], ['instret', 2], ['hpmcounter3', 3]] as const) {
    assert.deepEqual(counterFrom('S', 0, -1, csr), { trapped: true, cause: 2n }, `${csr} without mcounteren`);
    assert.equal(counterFrom('S', 1 << bit, 0, csr).trapped, false, `${csr} with mcounteren.${bit}`);
    assert.deepEqual(counterFrom('S', ~(1 << bit), -1, csr), { trapped: true, cause: 2n }, `${csr} with only other bits`);
  }
});

test('U-mode reads need both the mcounteren and scounteren bits', () => {
  for (const [csr, bit] of [['cycle', 0], ['time', 1], ['instret', 2]] as const) {
    assert.equal(counterFrom('U', 1 << bit, 1 << bit, csr).trapped, false, `${csr} with both`);
    assert.deepEqual(counterFrom('U', 1 << bit, 0, csr), { trapped: true, cause: 2n }, `${csr} without scounteren`);
    assert.deepEqual(counterFrom('U', 0, 1 << bit, csr), { trapped: true, cause: 2n }, `${csr} without mcounteren`);
  }
});
