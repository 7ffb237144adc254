// The FP status: fflags/frm/fcsr as views of one register, mstatus.FS = Off making FP
// instructions and FP CSRs illegal, and FS becoming Dirty when FP state changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mtrap, reg, runAsm } from '../support/run-asm.js';

const FS = 3n << 13n;

test('fcsr = frm << 5 | fflags, each view writes its own field', () => {
  const { h } = runAsm(`
    li t0, 0x2000
    csrs mstatus, t0             # FS = Initial
    csrwi fflags, 0x1f
    csrwi frm, 3
    csrr a0, fcsr
    li t0, 0xffffffff
    csrw fcsr, t0                # only bits 7:0 exist
    csrr a1, fcsr
    csrr a2, fflags
    csrr a3, frm
    csrwi fflags, 0x1
    csrr a4, fcsr
  done: j done`);
  assert.equal(reg(h, 'a0'), (3n << 5n) | 0x1fn);
  assert.equal(reg(h, 'a1'), 0xffn);
  assert.equal(reg(h, 'a2'), 0x1fn);
  assert.equal(reg(h, 'a3'), 7n);
  assert.equal(reg(h, 'a4'), (7n << 5n) | 1n);
});

test('an FP instruction sets fflags (fdiv by zero raises DZ)', () => {
  const { h } = runAsm(`
    li t0, 0x2000
    csrs mstatus, t0
    li t0, 0x3ff0000000000000
    fmv.d.x fa0, t0
    fmv.d.x fa1, zero
    fdiv.d fa2, fa0, fa1
    csrr a0, fflags
  done: j done`);
  assert.equal(reg(h, 'a0'), 8n);
});

function withFsOff(insn: string): { trapped: boolean; cause: bigint; tval: bigint } {
  const { h, stoppedAt } = runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    li t0, 0x6000
    csrc mstatus, t0             # FS = Off
    la s0, buf
    ${insn}
  done: j done
  .align 2
  mtrap: j mtrap
  .data
  buf: .dword 0`, { until: ['done', 'mtrap'] });
  return { trapped: stoppedAt === 'mtrap', ...mtrap(h) };
}

test('with FS = Off, FP instructions are illegal', () => {
  for (const insn of ['fadd.d fa0, fa1, fa2', 'fmv.x.d a0, fa0', 'fmv.d.x fa0, a0', 'fld fa0, 0(s0)', 'fsd fa0, 0(s0)',
    'flw fa0, 0(s0)', 'fmadd.s fa0, fa1, fa2, fa3', 'fcvt.d.l fa0, a0', 'c.fld fa0, 0(s0)']) {
    const r = withFsOff(insn);
    assert.equal(r.trapped, true, insn);
    assert.equal(r.cause, 2n, insn);
  }
});

test('with FS = Off, the FP CSRs are illegal', () => {
  for (const insn of ['csrr a0, fflags', 'csrr a0, frm', 'csrr a0, fcsr', 'csrwi fflags, 0']) {
    const r = withFsOff(insn);
    assert.equal(r.trapped, true, insn);
    assert.equal(r.cause, 2n, insn);
  }
});

function fsAfter(insn: string): bigint {
  const { h } = runAsm(`
    li t0, 0x6000
    csrc mstatus, t0
    li t0, 0x2000
    csrs mstatus, t0             # FS = Initial
    li t0, 0x4000000000000000
    ${insn}
    csrr a0, mstatus
  done: j done`);
  return (reg(h, 'a0') & FS) >> 13n;
}

test('FS becomes Dirty (3) after an FP instruction writes FP state', () => {
  assert.equal(fsAfter('fmv.d.x fa0, t0'), 3n);
  assert.equal(fsAfter('fadd.d fa0, fa1, fa2'), 3n);
  assert.equal(fsAfter('csrwi fflags, 1'), 3n);
  assert.equal(fsAfter('csrwi frm, 1'), 3n);
});

test('FS stays Initial when nothing FP happens', () => {
  assert.equal(fsAfter('nop'), 1n);
});

test('illegal FP instruction reports its bits in mtval', () => {
  const r = withFsOff('fadd.d fa0, fa1, fa2');
  assert.equal(r.tval, 0x02c5f553n);
});
