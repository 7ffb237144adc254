// mstatus WARL fields and the sstatus view (privileged spec, "Machine Status Register"
// and "Supervisor Status Register"). Values are read back by the guest with csrr.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

const SIE = 1n << 1n, MIE = 1n << 3n, SPIE = 1n << 5n, MPIE = 1n << 7n, SPP = 1n << 8n;
const MPP = 3n << 11n, FS = 3n << 13n, SUM = 1n << 18n, MXR = 1n << 19n, TVM = 1n << 20n;
const UXL = 3n << 32n, SXL = 3n << 34n, SD = 1n << 63n;

test('UXL and SXL read as 2 (64-bit) and cannot be changed', () => {
  const { h } = runAsm(`
    csrr a0, mstatus
    li t0, 0xf00000000
    csrc mstatus, t0
    csrr a1, mstatus
    csrr a2, sstatus
  done: j done`);
  for (const r of ['a0', 'a1']) {
    assert.equal(reg(h, r) & UXL, 2n << 32n, r);
    assert.equal(reg(h, r) & SXL, 2n << 34n, r);
  }
  assert.equal(reg(h, 'a2') & UXL, 2n << 32n);
});

test('writing MPP = 2 (reserved) leaves MPP unchanged', () => {
  const { h } = runAsm(`
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 0x800
    csrs mstatus, t0            # MPP = S
    csrr a0, mstatus
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 0x1000
    csrs mstatus, t0            # tries MPP = 2 (from 0)
    csrr a1, mstatus
  done: j done`);
  assert.equal((reg(h, 'a0') & MPP) >> 11n, 1n);
  assert.notEqual((reg(h, 'a1') & MPP) >> 11n, 2n);
});

test('SD is set exactly when FS is Dirty', () => {
  const { h } = runAsm(`
    li t0, 0x6000
    csrc mstatus, t0
    csrr a0, mstatus            # FS = Off
    li t0, 0x4000
    csrs mstatus, t0
    csrr a1, mstatus            # FS = Clean
    li t0, 0x6000
    csrs mstatus, t0
    csrr a2, mstatus            # FS = Dirty
    csrr a3, sstatus
  done: j done`);
  assert.equal(reg(h, 'a0') & SD, 0n);
  assert.equal(reg(h, 'a1') & SD, 0n);
  assert.equal(reg(h, 'a2') & FS, FS);
  assert.equal(reg(h, 'a2') & SD, SD);
  assert.equal(reg(h, 'a3') & SD, SD, 'sstatus.SD too');
});

test('sstatus shows only the supervisor fields of mstatus', () => {
  const { h } = runAsm(`
    li t0, ${0x1888 | 0x122 | (1 << 18) | (1 << 19) | (1 << 20)}
    csrs mstatus, t0            # MPP, MPIE, MIE, SPP, SPIE, SIE, SUM, MXR, TVM
    csrr a0, mstatus
    csrr a1, sstatus
  done: j done`);
  const m = reg(h, 'a0');
  for (const bit of [MIE, MPIE, MPP, TVM, SIE, SPIE, SPP, SUM, MXR]) assert.equal(m & bit, bit);
  const s = reg(h, 'a1');
  assert.equal(s & (MIE | MPIE | MPP | TVM), 0n, 'M-only fields are invisible in sstatus');
  assert.equal(s & (SIE | SPIE | SPP | SUM | MXR), SIE | SPIE | SPP | SUM | MXR);
});

test('writes to sstatus change only the supervisor fields of mstatus', () => {
  const { h } = runAsm(`
    li t0, 0x1888
    csrs mstatus, t0            # MPP = M, MPIE, MIE
    li t0, -1
    csrw sstatus, t0
    csrr a0, mstatus
    csrw sstatus, zero
    csrr a1, mstatus
  done: j done`);
  const a0 = reg(h, 'a0');
  assert.equal(a0 & (SIE | SPIE | SPP | SUM | MXR | FS), SIE | SPIE | SPP | SUM | MXR | FS);
  assert.equal(a0 & (MIE | MPIE | MPP), MIE | MPIE | MPP, 'M fields kept');
  assert.equal(a0 & TVM, 0n, 'sstatus cannot set TVM');
  const a1 = reg(h, 'a1');
  assert.equal(a1 & (SIE | SPIE | SPP | SUM | MXR | FS), 0n);
  assert.equal(a1 & (MIE | MPIE | MPP), MIE | MPIE | MPP, 'M fields kept');
});
