// Shifts: RV64 shifts use the low 6 bits of the amount, W shifts the low 5 bits and
// operate on the low word; amounts 0, 31, 32 and 63 are the edges.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mtrap, reg, runAsm } from '../support/run-asm.js';

const V = 0x8000000180000001n; // bits 63, 32, 31 and 0

test('slli/srli/srai by 0, 31, 32 and 63', () => {
  const { h } = runAsm(`
    li t0, ${V}
    slli a0, t0, 0
    slli a1, t0, 31
    slli a2, t0, 32
    slli a3, t0, 63
    srli a4, t0, 31
    srli a5, t0, 32
    srli a6, t0, 63
    srai a7, t0, 63
    srai s2, t0, 32
    srai s3, t0, 31
  done: j done`);
  assert.equal(reg(h, 'a0'), V);
  assert.equal(reg(h, 'a1'), 0xc000000080000000n);
  assert.equal(reg(h, 'a2'), 0x8000000100000000n);
  assert.equal(reg(h, 'a3'), 0x8000000000000000n);
  assert.equal(reg(h, 'a4'), 0x0000000100000003n);
  assert.equal(reg(h, 'a5'), 0x0000000080000001n);
  assert.equal(reg(h, 'a6'), 1n);
  assert.equal(reg(h, 'a7'), 0xffffffffffffffffn);
  assert.equal(reg(h, 's2'), 0xffffffff80000001n);
  assert.equal(reg(h, 's3'), 0xffffffff00000003n);
});

test('sll/srl/sra take the amount from the low 6 bits of rs2', () => {
  const { h } = runAsm(`
    li t0, ${V}
    li t1, 64                 # 64 & 63 = 0
    sll a0, t0, t1
    li t1, 0x7f               # & 63 = 63
    srl a1, t0, t1
    sra a2, t0, t1
    li t1, 32
    sll a3, t0, t1
    srl a4, t0, t1
    sra a5, t0, t1
    li t1, 31
    sra a6, t0, t1
  done: j done`);
  assert.equal(reg(h, 'a0'), V);
  assert.equal(reg(h, 'a1'), 1n);
  assert.equal(reg(h, 'a2'), 0xffffffffffffffffn);
  assert.equal(reg(h, 'a3'), 0x8000000100000000n);
  assert.equal(reg(h, 'a4'), 0x0000000080000001n);
  assert.equal(reg(h, 'a5'), 0xffffffff80000001n);
  assert.equal(reg(h, 'a6'), 0xffffffff00000003n);
});

test('slliw/srliw/sraiw by 0 and 31 sign-extend the 32-bit result', () => {
  const { h } = runAsm(`
    li t0, 0x1234567880000001
    slliw a0, t0, 0           # sext of the low word
    slliw a1, t0, 31
    srliw a2, t0, 31
    srliw a3, t0, 0
    sraiw a4, t0, 31
    sraiw a5, t0, 1
    li t1, 0x40000000
    slliw a6, t1, 1           # into bit 31: negative
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xffffffff80000001n);
  assert.equal(reg(h, 'a1'), 0xffffffff80000000n);
  assert.equal(reg(h, 'a2'), 1n);
  assert.equal(reg(h, 'a3'), 0xffffffff80000001n);
  assert.equal(reg(h, 'a4'), 0xffffffffffffffffn);
  assert.equal(reg(h, 'a5'), 0xffffffffc0000000n);
  assert.equal(reg(h, 'a6'), 0xffffffff80000000n);
});

test('sllw/srlw/sraw use only the low 5 bits of rs2 (32 acts as 0)', () => {
  const { h } = runAsm(`
    li t0, 0x80000001
    li t1, 32
    sllw a0, t0, t1
    srlw a1, t0, t1
    sraw a2, t0, t1
    li t1, 63                 # & 31 = 31
    srlw a3, t0, t1
    sraw a4, t0, t1
    sllw a5, t0, t1
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xffffffff80000001n);
  assert.equal(reg(h, 'a1'), 0xffffffff80000001n);
  assert.equal(reg(h, 'a2'), 0xffffffff80000001n);
  assert.equal(reg(h, 'a3'), 1n);
  assert.equal(reg(h, 'a4'), 0xffffffffffffffffn);
  assert.equal(reg(h, 'a5'), 0xffffffff80000000n);
});

test('slliw with shamt[5] set is an illegal instruction', () => {
  // slliw a0, a0, 32 does not exist: imm[25] must be zero for the W shifts.
  const { h, sym } = runAsm(`
    la t0, trap
    csrw mtvec, t0
  bad:
    .word 0x0205151b
  done: j done
  trap: j trap`, { until: ['done', 'trap'] });
  assert.equal(h.pc, sym('trap'));
  assert.equal(mtrap(h).cause, 2n);
  assert.equal(mtrap(h).epc, sym('bad'));
});
