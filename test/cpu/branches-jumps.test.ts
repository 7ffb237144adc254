// Conditional branches (signed and unsigned compares on 64 bits), JAL and JALR
// (link = pc + 4, JALR clears bit 0 of the target).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

test('each branch is taken or not per its comparison', () => {
  // Every taken branch adds a distinct bit to a0; untaken ones add to a1.
  const { h } = runAsm(`
    li t0, -1
    li t1, 1
    li t2, 0x100000000
    li t3, 0x1
    li a0, 0
    li a1, 0
    beq t1, t3, 1f
    ori a1, a1, 1
  1: bne t0, t1, 1f
    ori a1, a1, 2
  1: blt t0, t1, 1f          # -1 < 1
    ori a1, a1, 4
  1: bltu t0, t1, 1f         # 0xfff..f < 1: not taken
    ori a0, a0, 8
  1: bge t1, t0, 1f          # 1 >= -1
    ori a1, a1, 16
  1: bgeu t1, t0, 1f         # 1 >= 0xfff..f: not taken
    ori a0, a0, 32
  1: beq t2, zero, 1f        # high word differs: not taken
    ori a0, a0, 64
  1: bltu t1, t2, 1f         # 1 < 2^32
    ori a1, a1, 128
  1: bge t1, t1, 1f          # equal: taken
    ori a1, a1, 256
  1:
  done: j done`);
  assert.equal(reg(h, 'a0'), 8n | 32n | 64n);
  assert.equal(reg(h, 'a1'), 0n);
});

test('backward branches loop', () => {
  const { h } = runAsm(`
    li t0, 10
    li a0, 0
  loop:
    addi a0, a0, 3
    addi t0, t0, -1
    bnez t0, loop
  done: j done`);
  assert.equal(reg(h, 'a0'), 30n);
});

test('jal links pc+4 and jumps relative', () => {
  const { h, sym } = runAsm(`
  call_site:
    jal ra, target
    li a1, 1
  done: j done
  target:
    mv a0, ra
    ret`);
  assert.equal(reg(h, 'a0'), sym('call_site') + 4n);
  assert.equal(reg(h, 'a1'), 1n);
});

test('jalr adds the offset and clears bit 0 of the target', () => {
  const { h, sym } = runAsm(`
    la t0, target
    addi t0, t0, 1            # odd address: bit 0 is dropped
  site:
    jalr a0, 0(t0)
    li a1, 99                 # skipped
  target:
    la t1, target2 - 8
    jalr zero, 8(t1)
    li a2, 99                 # skipped
  target2:
  done: j done`);
  assert.equal(reg(h, 'a0'), sym('site') + 4n);
  assert.equal(reg(h, 'a1'), 0n);
  assert.equal(reg(h, 'a2'), 0n);
});

test('jalr with rd = rs1 uses the old rs1 value', () => {
  const { h, sym } = runAsm(`
    la ra, target
  site:
    jalr ra, 0(ra)
  done: j done
  target:
    mv a0, ra
    j done`);
  assert.equal(reg(h, 'a0'), sym('site') + 4n);
});
