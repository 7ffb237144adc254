// RV64I register-register and register-immediate arithmetic, including the W forms
// that compute on 32 bits and sign-extend the result to 64 (unprivileged spec, RV64I).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

test('add and sub wrap modulo 2^64', () => {
  const { h } = runAsm(`
    li t0, -1
    li t1, 1
    add a0, t0, t1            # 0xffff...ff + 1 = 0
    li t2, 0x7fffffffffffffff
    add a1, t2, t1            # INT64_MAX + 1 = INT64_MIN
    sub a2, zero, t1          # 0 - 1 = -1
    li t3, 0x100000000
    sub a3, t3, t1            # borrow across the 32-bit boundary
  done: j done`);
  assert.equal(reg(h, 'a0'), 0n);
  assert.equal(reg(h, 'a1'), 0x8000000000000000n);
  assert.equal(reg(h, 'a2'), 0xffffffffffffffffn);
  assert.equal(reg(h, 'a3'), 0xffffffffn);
});

test('addi sign-extends its 12-bit immediate', () => {
  const { h } = runAsm(`
    li t0, 0xffffffff
    addi a0, t0, 1            # carry into bit 32
    addi a1, zero, -2048
    addi a2, zero, 2047
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x100000000n);
  assert.equal(reg(h, 'a1'), 0xfffffffffffff800n);
  assert.equal(reg(h, 'a2'), 2047n);
});

test('slt/sltu/slti/sltiu compare signed and unsigned', () => {
  const { h } = runAsm(`
    li t0, -1
    li t1, 1
    slt a0, t0, t1            # -1 < 1 signed
    sltu a1, t0, t1           # 0xfff..f < 1 unsigned: no
    slti a2, t0, 0            # -1 < 0
    sltiu a3, t1, -1          # 1 < 0xfff..f (immediate sign-extended, then unsigned)
    sltiu a4, zero, 1         # seqz idiom
    li t2, 0x100000000
    slt a5, t1, t2            # decided by the high word
  done: j done`);
  assert.equal(reg(h, 'a0'), 1n);
  assert.equal(reg(h, 'a1'), 0n);
  assert.equal(reg(h, 'a2'), 1n);
  assert.equal(reg(h, 'a3'), 1n);
  assert.equal(reg(h, 'a4'), 1n);
  assert.equal(reg(h, 'a5'), 1n);
});

test('logical operations and their sign-extended immediates', () => {
  const { h } = runAsm(`
    li t0, 0x00ff00ff00ff00ff
    li t1, 0x0f0f0f0f0f0f0f0f
    and a0, t0, t1
    or a1, t0, t1
    xor a2, t0, t1
    xori a3, t0, -1           # not
    andi a4, t0, -256         # immediate 0xfff..f00
    ori a5, zero, -2048
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x000f000f000f000fn);
  assert.equal(reg(h, 'a1'), 0x0fff0fff0fff0fffn);
  assert.equal(reg(h, 'a2'), 0x0ff00ff00ff00ff0n);
  assert.equal(reg(h, 'a3'), 0xff00ff00ff00ff00n);
  assert.equal(reg(h, 'a4'), 0x00ff00ff00ff0000n);
  assert.equal(reg(h, 'a5'), 0xfffffffffffff800n);
});

test('lui sign-extends bit 31 and auipc adds to the pc', () => {
  const { h, sym } = runAsm(`
    lui a0, 0x80000
    lui a1, 0x7ffff
  here:
    auipc a2, 0
    auipc a3, 0xfffff         # pc - 4096
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xffffffff80000000n);
  assert.equal(reg(h, 'a1'), 0x7ffff000n);
  assert.equal(reg(h, 'a2'), sym('here'));
  assert.equal(reg(h, 'a3'), sym('here') + 4n - 4096n);
});

test('writes to x0 are discarded', () => {
  const { h } = runAsm(`
    li t0, 5
    add zero, t0, t0
    addi x0, x0, 1
    mv a0, zero
  done: j done`);
  assert.equal(reg(h, 'zero'), 0n);
  assert.equal(reg(h, 'a0'), 0n);
});

test('addw/subw/addiw compute on 32 bits and sign-extend', () => {
  const { h } = runAsm(`
    li t0, 0x7fffffff
    li t1, 1
    addw a0, t0, t1           # 0x80000000 -> negative
    li t2, 0x123456789
    addiw a1, t2, 0           # sext.w drops bits 63:32
    subw a2, zero, t1         # -1
    li t3, 0xffffffff00000000
    subw a3, t3, t1           # low word 0 - 1 = -1; upper input bits ignored
    addiw a4, t0, 1
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xffffffff80000000n);
  assert.equal(reg(h, 'a1'), 0x23456789n);
  assert.equal(reg(h, 'a2'), 0xffffffffffffffffn);
  assert.equal(reg(h, 'a3'), 0xffffffffffffffffn);
  assert.equal(reg(h, 'a4'), 0xffffffff80000000n);
});
