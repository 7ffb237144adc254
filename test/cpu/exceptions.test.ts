// Synchronous exceptions taken into M-mode: ecall causes by privilege, ebreak, illegal
// instructions (mtval = the instruction bits, the 16-bit parcel for RVC) and access
// faults on physical addresses with nothing behind them. mepc = the faulting pc.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot } from '../../src/cpu/state.js';
import { enterMode, mtrap, reg, runAsm, slot } from '../support/run-asm.js';

const HANDLER = `
  .align 2
  trap: j trap`;

function trapAt(body: string): ReturnType<typeof runAsm> {
  return runAsm(`
    la t0, trap
    csrw mtvec, t0
    ${body}
  done: j done
  ${HANDLER}`, { until: ['done', 'trap'] });
}

test('ecall from M-mode: cause 11, mepc = the ecall, mtval = 0', () => {
  const { h, sym } = trapAt(`
  site: ecall`);
  assert.deepEqual(mtrap(h), { cause: 11n, epc: sym('site'), tval: 0n });
  assert.equal(h.priv, 3);
});

test('ecall from S-mode: cause 9, MPP = S', () => {
  const { h, sym } = trapAt(`
    ${enterMode('S', 'smode')}
  smode:
  site: ecall`);
  assert.deepEqual(mtrap(h), { cause: 9n, epc: sym('site'), tval: 0n });
  assert.equal(h.priv, 3);
  assert.equal((slot(h, Slot.Mstatus) >> 11n) & 3n, 1n);
});

test('ecall from U-mode: cause 8, MPP = U', () => {
  const { h, sym } = trapAt(`
    ${enterMode('U', 'umode')}
  umode:
  site: ecall`);
  assert.deepEqual(mtrap(h), { cause: 8n, epc: sym('site'), tval: 0n });
  assert.equal((slot(h, Slot.Mstatus) >> 11n) & 3n, 0n);
});

test('ebreak: cause 3, mepc = the ebreak; mtval 0 as on QEMU virt', () => {
  // The spec allows mtval = 0 or the pc for breakpoints; QEMU 7.2 writes 0.
  const { h, sym } = trapAt(`
  site: ebreak`);
  assert.equal(mtrap(h).cause, 3n);
  assert.equal(mtrap(h).epc, sym('site'));
  assert.equal(mtrap(h).tval, 0n);
});

test('illegal 32-bit instruction: cause 2, mtval = the instruction', () => {
  const { h, sym } = trapAt(`
  site: .word 0x0000300b       # custom-0 opcode, not implemented`);
  assert.deepEqual(mtrap(h), { cause: 2n, epc: sym('site'), tval: 0x300bn });
});

test('illegal compressed instruction: mtval = the 16-bit parcel only', () => {
  // c.lui with nzimm = 0 is reserved; the next parcel belongs to the next instruction.
  const { h, sym } = trapAt(`
  site: .half 0x6081
    .half 0xffff`);
  assert.deepEqual(mtrap(h), { cause: 2n, epc: sym('site'), tval: 0x6081n });
});

test('the all-zero parcel is illegal', () => {
  const { h, sym } = trapAt(`
  site: .half 0`);
  assert.deepEqual(mtrap(h), { cause: 2n, epc: sym('site'), tval: 0n });
});

test('a CSR that does not exist is an illegal instruction', () => {
  const { h, sym } = trapAt(`
  site: csrr a0, 0x7ff`);
  assert.equal(mtrap(h).cause, 2n);
  assert.equal(mtrap(h).epc, sym('site'));
  assert.equal(mtrap(h).tval, 0x7ff02573n);
});

test('mret in S-mode is illegal', () => {
  const { h, sym } = trapAt(`
    ${enterMode('S', 'smode')}
  smode:
  site: mret`);
  assert.deepEqual(mtrap(h), { cause: 2n, epc: sym('site'), tval: 0x30200073n });
});

test('load from an unmapped physical address: load access fault (5), mtval = address', () => {
  const { h, sym } = trapAt(`
    li t1, 0x40000000
  site: ld a0, 8(t1)`);
  assert.deepEqual(mtrap(h), { cause: 5n, epc: sym('site'), tval: 0x40000008n });
});

test('store to an unmapped physical address: store access fault (7)', () => {
  const { h, sym } = trapAt(`
    li t1, 0x40000000
  site: sw a0, 4(t1)`);
  assert.deepEqual(mtrap(h), { cause: 7n, epc: sym('site'), tval: 0x40000004n });
});

test('jumping to an unmapped physical address: instruction access fault (1)', () => {
  const { h } = trapAt(`
    li t1, 0x40000000
    jr t1`);
  assert.deepEqual(mtrap(h), { cause: 1n, epc: 0x40000000n, tval: 0x40000000n });
});

test('mret to physical address 0 (no RAM there) raises an instruction access fault', () => {
  // Trap return flushes the fetch cache; page 0 must not hit the flushed entry.
  const { h } = trapAt(`
    csrw mepc, zero
    li t0, 0x1800
    csrs mstatus, t0           # MPP = M
    mret`);
  assert.deepEqual(mtrap(h), { cause: 1n, epc: 0n, tval: 0n });
});

test('a faulting instruction does not write rd', () => {
  const { h } = trapAt(`
    li a0, 77
    li t1, 0x40000000
    ld a0, 0(t1)`);
  assert.equal(mtrap(h).cause, 5n);
  assert.equal(reg(h, 'a0'), 77n);
});

test('exceptions go to mtvec BASE even in vectored mode', () => {
  const { h, sym } = runAsm(`
    la t0, trap
    ori t0, t0, 1
    csrw mtvec, t0
  site: ecall
  done: j done
  .align 8
  trap: j trap`, { until: ['done', 'trap'] });
  assert.equal(h.pc, sym('trap'));
  assert.equal(mtrap(h).epc, sym('site'));
});
