// Zba address generation: add.uw, sh1add/sh2add/sh3add, their .uw forms (which
// zero-extend rs1 from 32 bits first) and slli.uw.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

const MASK = (1n << 64n) - 1n;
const zext32 = (v: bigint) => v & 0xffffffffn;

function rr(op: string, a: bigint, b: bigint): bigint {
  const { h } = runAsm(`
    li t0, ${a}
    li t1, ${b}
    ${op} a0, t0, t1
  done: j done`);
  return reg(h, 'a0');
}

const A = 0xfedcba9887654321n;
const B = 0x0000000100000010n;

test('add.uw adds zext(rs1[31:0]) to rs2', () => {
  assert.equal(rr('add.uw', A, B), (zext32(A) + B) & MASK);
  assert.equal(rr('add.uw', 0xffffffffffffffffn, 1n), 0x100000000n);
});

test('zext.w (add.uw rd, rs, zero) clears the upper word', () => {
  const { h } = runAsm(`
    li t0, -2
    zext.w a0, t0
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xfffffffen);
});

test('sh1add/sh2add/sh3add shift rs1 by 1/2/3 and add rs2', () => {
  for (const [op, s] of [['sh1add', 1n], ['sh2add', 2n], ['sh3add', 3n]] as const) {
    assert.equal(rr(op, A, B), ((A << s) + B) & MASK, op);
    assert.equal(rr(op, 0x8000000000000001n, 0n), ((0x8000000000000001n << s) & MASK), `${op} drops bits shifted out`);
  }
});

test('sh1add.uw/sh2add.uw/sh3add.uw zero-extend rs1 before shifting', () => {
  for (const [op, s] of [['sh1add.uw', 1n], ['sh2add.uw', 2n], ['sh3add.uw', 3n]] as const) {
    assert.equal(rr(op, A, B), ((zext32(A) << s) + B) & MASK, op);
    assert.equal(rr(op, 0xffffffffffffffffn, 0n), 0xffffffffn << s, `${op} of -1`);
  }
});

test('slli.uw shifts zext(rs1[31:0]) left by up to 63', () => {
  const cases: [number, bigint][] = [[0, zext32(A)], [1, zext32(A) << 1n], [32, (zext32(A) << 32n) & MASK], [63, (zext32(A) << 63n) & MASK]];
  for (const [sh, want] of cases) {
    const { h } = runAsm(`
      li t0, ${A}
      slli.uw a0, t0, ${sh}
    done: j done`);
    assert.equal(reg(h, 'a0'), want, `slli.uw ${sh}`);
  }
});
