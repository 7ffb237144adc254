// Zbs single-bit instructions: bset/bclr/binv/bext with the index in rs2[5:0] and
// their immediate forms.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

const MASK = (1n << 64n) - 1n;
const A = 0xa5a5a5a55a5a5a5an;
const INDICES = [0, 1, 31, 32, 33, 62, 63];

function rr(op: string, a: bigint, b: bigint): bigint {
  const { h } = runAsm(`
    li t0, ${a}
    li t1, ${b}
    ${op} a0, t0, t1
  done: j done`);
  return reg(h, 'a0');
}

function ri(op: string, a: bigint, imm: number): bigint {
  const { h } = runAsm(`
    li t0, ${a}
    ${op} a0, t0, ${imm}
  done: j done`);
  return reg(h, 'a0');
}

const REF: Record<string, (a: bigint, i: number) => bigint> = {
  bset: (a, i) => a | (1n << BigInt(i)),
  bclr: (a, i) => a & ~(1n << BigInt(i)) & MASK,
  binv: (a, i) => a ^ (1n << BigInt(i)),
  bext: (a, i) => (a >> BigInt(i)) & 1n,
};

test('bset/bclr/binv/bext with the index in rs2', () => {
  for (const [op, f] of Object.entries(REF)) {
    for (const i of INDICES) assert.equal(rr(op, A, BigInt(i)), f(A, i), `${op} ${i}`);
  }
});

test('the register forms use only rs2[5:0]', () => {
  assert.equal(rr('bset', 0n, 64n + 5n), 1n << 5n);
  assert.equal(rr('bext', 1n << 63n, 0xffffffffffffffffn), 1n);
  assert.equal(rr('bclr', MASK, 0x100n + 63n), MASK >> 1n);
});

test('bseti/bclri/binvi/bexti with a 6-bit immediate index', () => {
  for (const [op, f] of Object.entries(REF)) {
    for (const i of INDICES) assert.equal(ri(op + 'i', A, i), f(A, i), `${op}i ${i}`);
  }
});
