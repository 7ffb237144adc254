// MRET and SRET: the privilege comes from MPP/SPP, xIE from xPIE, xPIE becomes 1, xPP
// becomes U, and MPRV is cleared when returning to a mode below M.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot } from '../../src/cpu/state.js';
import { PMP_ALLOW_ALL, mtrap, runAsm, slot } from '../support/run-asm.js';

const SIE = 1n << 1n, MIE = 1n << 3n, SPIE = 1n << 5n, MPIE = 1n << 7n, SPP = 1n << 8n;
const MPP = 3n << 11n, MPRV = 1n << 17n;

function mret(mpp: number, extra: number): ReturnType<typeof runAsm> {
  return runAsm(`
    ${PMP_ALLOW_ALL}
    la t0, mtrap
    csrw mtvec, t0
    li t0, 0x1888               # MPP, MIE, MPIE
    csrc mstatus, t0
    li t0, ${(mpp << 11) | extra}
    csrs mstatus, t0
    la t0, after
    csrw mepc, t0
    mret
  after:
  done: j done
  .align 2
  mtrap: j mtrap`, { until: ['done', 'mtrap'] });
}
test('mret to S: priv = S, MIE = MPIE, MPIE = 1, MPP = U', () => {
  const { h, sym } = mret(1, 0x80 /* MPIE */);
  assert.equal(h.pc, sym('done'));
  assert.equal(h.priv, 1);
  const ms = slot(h, Slot.Mstatus);
  assert.equal(ms & MIE, MIE);
  assert.equal(ms & MPIE, MPIE);
  assert.equal(ms & MPP, 0n);
});

test('mret with MPIE = 0 leaves MIE clear and still sets MPIE', () => {
  const { h } = mret(0, 0);
  assert.equal(h.priv, 0);
  const ms = slot(h, Slot.Mstatus);
  assert.equal(ms & MIE, 0n);
  assert.equal(ms & MPIE, MPIE);
});

test('mret to a mode below M clears MPRV', () => {
  const { h } = mret(1, 1 << 17);
  assert.equal(slot(h, Slot.Mstatus) & MPRV, 0n);
});

test('mret to M keeps MPRV', () => {
  const { h } = mret(3, 1 << 17);
  assert.equal(h.priv, 3);
  assert.equal(slot(h, Slot.Mstatus) & MPRV, MPRV);
});

test('mret jumps to mepc', () => {
  const { h, sym } = mret(3, 0);
  assert.equal(h.pc, sym('done'));
  assert.equal(mtrap(h).cause, 0n);
});

function sret(spp: number, extra: number, from: 'M' | 'S' = 'M'): ReturnType<typeof runAsm> {
  // From M, sret is legal and uses SPP like from S.
  const enter = from === 'S'
    ? `li t0, 0x1800
    csrc mstatus, t0
    li t0, 0x800
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret`
    : 'j smode';
  return runAsm(`
    ${PMP_ALLOW_ALL}
    la t0, mtrap
    csrw mtvec, t0
    li t0, 0x122                # SIE | SPIE | SPP
    csrc mstatus, t0
    li t0, ${(spp << 8) | extra}
    csrs mstatus, t0
    la t0, after
    csrw sepc, t0
    ${enter}
  smode:
    sret
  after:
  done: j done
  .align 2
  mtrap: j mtrap`, { until: ['done', 'mtrap'] });
}

test('sret from S to U: priv = SPP, SIE = SPIE, SPIE = 1, SPP = U', () => {
  const { h, sym } = sret(0, 0x20, 'S');
  assert.equal(h.pc, sym('done'));
  assert.equal(h.priv, 0);
  const ms = slot(h, Slot.Mstatus);
  assert.equal(ms & SIE, SIE);
  assert.equal(ms & SPIE, SPIE);
  assert.equal(ms & SPP, 0n);
});

test('sret to S with SPIE = 0 leaves SIE clear', () => {
  const { h } = sret(1, 0, 'S');
  assert.equal(h.priv, 1);
  assert.equal(slot(h, Slot.Mstatus) & SIE, 0n);
  assert.equal(slot(h, Slot.Mstatus) & SPIE, SPIE);
});

test('sret from M clears MPRV (SPP is never M)', () => {
  const { h } = sret(1, 1 << 17);
  assert.equal(h.priv, 1);
  assert.equal(slot(h, Slot.Mstatus) & MPRV, 0n);
});

