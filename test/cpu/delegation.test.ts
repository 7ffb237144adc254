// Exception delegation through medeleg: traps from S/U with the bit set go to the
// S-mode handler (scause/sepc/stval, sstatus.SPP/SPIE/SIE); traps taken in M-mode are
// never delegated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot } from '../../src/cpu/state.js';
import { enterMode, mtrap, runAsm, slot, strap } from '../support/run-asm.js';

const SIE = 1n << 1n, SPIE = 1n << 5n, SPP = 1n << 8n;

function program(mode: 'U' | 'S', medeleg: number, body: string, preS = ''): ReturnType<typeof runAsm> {
  return runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    la t0, strap
    csrw stvec, t0
    li t0, ${medeleg}
    csrw medeleg, t0
    ${preS}
    ${enterMode(mode, 'lower')}
  lower:
    ${body}
  done: j done
  .align 2
  mtrap: j mtrap
  .align 2
  strap: j strap`, { until: ['done', 'mtrap', 'strap'] });
}

test('a delegated ecall from U goes to stvec with scause 8 and SPP = U', () => {
  const { h, sym } = program('U', 1 << 8, `site: ecall`);
  assert.equal(h.pc, sym('strap'));
  assert.equal(h.priv, 1);
  assert.deepEqual(strap(h), { cause: 8n, epc: sym('site'), tval: 0n });
  assert.equal(slot(h, Slot.Mstatus) & SPP, 0n);
  assert.equal(slot(h, Slot.Mcause), 0n, 'M-mode trap registers are untouched');
});

test('a delegated exception from S sets SPP = S, SPIE = old SIE and clears SIE', () => {
  const { h, sym } = program('S', 1 << 2, `
  site: .word 0x0000300b`, 'csrsi sstatus, 2');
  assert.equal(h.pc, sym('strap'));
  assert.deepEqual(strap(h), { cause: 2n, epc: sym('site'), tval: 0x300bn });
  const ms = slot(h, Slot.Mstatus);
  assert.equal(ms & SPP, SPP);
  assert.equal(ms & SPIE, SPIE);
  assert.equal(ms & SIE, 0n);
});

test('stval receives the faulting address of a delegated load access fault', () => {
  const { h, sym } = program('S', 1 << 5, `
    li t1, 0x40000000
  site: lw a0, 0(t1)`);
  assert.equal(h.pc, sym('strap'));
  assert.deepEqual(strap(h), { cause: 5n, epc: sym('site'), tval: 0x40000000n });
});

test('exceptions whose medeleg bit is clear go to M even from S', () => {
  const { h, sym } = program('S', 1 << 8, `site: ecall`);
  assert.equal(h.pc, sym('mtrap'));
  assert.equal(mtrap(h).cause, 9n);
  assert.equal(slot(h, Slot.Scause), 0n);
});

test('exceptions in M-mode are never delegated', () => {
  const { h, sym } = runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    la t0, strap
    csrw stvec, t0
    li t0, -1
    csrw medeleg, t0
  site: ebreak
  done: j done
  .align 2
  mtrap: j mtrap
  .align 2
  strap: j strap`, { until: ['done', 'mtrap', 'strap'] });
  assert.equal(h.pc, sym('mtrap'));
  assert.equal(mtrap(h).cause, 3n);
  assert.equal(mtrap(h).epc, sym('site'));
  assert.equal(h.priv, 3);
});

test('stvec in vectored mode still sends exceptions to BASE', () => {
  const { h, sym } = program('U', 1 << 8, `site: ecall`, `
    la t0, strap
    ori t0, t0, 1
    csrw stvec, t0`);
  assert.equal(h.pc, sym('strap'));
});
