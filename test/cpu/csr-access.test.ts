// CSR access rules: CSR address bits 9:8 give the lowest privilege allowed, bits 11:10
// = 3 mean read-only. csrrs/csrrc with rs1 = x0 (and the immediate forms with 0) do not
// write, so they are legal on read-only CSRs; csrrw always writes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enterMode, mtrap, reg, runAsm } from '../support/run-asm.js';

function attempt(mode: 'M' | 'S' | 'U', insn: string): { trapped: boolean; cause: bigint; tval: bigint; h: ReturnType<typeof runAsm>['h'] } {
  const { h, stoppedAt } = runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    li t0, -1
    csrw mcounteren, t0
    csrw scounteren, t0
    ${mode === 'M' ? '' : enterMode(mode, 'lower')}
  lower:
    ${insn}
  done: j done
  .align 2
  mtrap: j mtrap`, { until: ['done', 'mtrap'] });
  const t = mtrap(h);
  return { trapped: stoppedAt === 'mtrap', cause: t.cause, tval: t.tval, h };
}

test('S-mode access to an M-mode CSR is illegal', () => {
  for (const insn of ['csrr a0, mstatus', 'csrw mscratch, a0', 'csrr a0, mhartid', 'csrr a0, mcycle']) {
    const r = attempt('S', insn);
    assert.equal(r.trapped, true, insn);
    assert.equal(r.cause, 2n, insn);
  }
});

test('U-mode access to an S-mode CSR is illegal', () => {
  for (const insn of ['csrr a0, sstatus', 'csrw sscratch, a0', 'csrr a0, satp', 'csrr a0, stvec']) {
    const r = attempt('U', insn);
    assert.equal(r.trapped, true, insn);
    assert.equal(r.cause, 2n, insn);
  }
});

test('S-mode can access its own CSRs', () => {
  const r = attempt('S', `
    li t1, 5
    csrw sscratch, t1
    csrr a0, sscratch
    csrr a1, sstatus`);
  assert.equal(r.trapped, false);
  assert.equal(reg(r.h, 'a0'), 5n);
});

test('writing a read-only CSR is illegal, with mtval = the instruction', () => {
  // csrw mhartid, a0 = csrrw zero, mhartid, a0
  const r = attempt('M', 'csrw mhartid, a0');
  assert.equal(r.trapped, true);
  assert.equal(r.cause, 2n);
  assert.equal(r.tval, 0xf1451073n);
  for (const insn of ['csrrw a0, cycle, zero', 'csrrwi a0, mvendorid, 0', 'csrrs a0, instret, t0', 'csrrci a0, cycle, 1']) {
    const t = attempt('M', `li t0, 1\n    ${insn}`);
    assert.equal(t.trapped, true, insn);
    assert.equal(t.cause, 2n, insn);
  }
});

test('csrrs/csrrc with x0 and csrrsi/csrrci with 0 only read, so read-only CSRs allow them', () => {
  const r = attempt('M', `
    csrrs a0, mhartid, zero
    csrrc a1, mvendorid, zero
    csrrsi a2, cycle, 0
    csrrci a3, mimpid, 0`);
  assert.equal(r.trapped, false);
  assert.equal(reg(r.h, 'a0'), 0n);
});
