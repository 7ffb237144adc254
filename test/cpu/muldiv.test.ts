// The M extension: full 128-bit products for the MULH forms with their operand
// signedness, and division by zero / signed overflow which never trap but return the
// spec-defined values (unprivileged spec, "Division Operations" table).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

const MASK = (1n << 64n) - 1n;
const s64 = (v: bigint) => BigInt.asIntN(64, v);
const u64 = (v: bigint) => BigInt.asUintN(64, v);

/** Runs `op a0, t0, t1` for each pair and returns the results. */
function binop(op: string, pairs: [bigint, bigint][]): bigint[] {
  return pairs.map(([a, b]) => {
    const { h } = runAsm(`
      li t0, ${u64(a)}
      li t1, ${u64(b)}
      ${op} a0, t0, t1
    done: j done`);
    return reg(h, 'a0');
  });
}

const MIN = -(1n << 63n);
const OPERANDS: bigint[] = [0n, 1n, -1n, 7n, -7n, MIN, (1n << 63n) - 1n, 0x123456789abcdefn, -0x0fedcba987654321n, 1n << 32n];
const PAIRS: [bigint, bigint][] = OPERANDS.flatMap((a) => OPERANDS.map((b): [bigint, bigint] => [a, b]));

test('mul returns the low 64 bits of the product', () => {
  const got = binop('mul', PAIRS);
  PAIRS.forEach(([a, b], i) => assert.equal(got[i], (a * b) & MASK, `${a} * ${b}`));
});

test('mulh/mulhsu/mulhu return the high 64 bits with signed/unsigned operands', () => {
  const h = binop('mulh', PAIRS), hsu = binop('mulhsu', PAIRS), hu = binop('mulhu', PAIRS);
  PAIRS.forEach(([a, b], i) => {
    assert.equal(h[i], ((s64(a) * s64(b)) >> 64n) & MASK, `mulh ${a} ${b}`);
    assert.equal(hsu[i], ((s64(a) * u64(b)) >> 64n) & MASK, `mulhsu ${a} ${b}`);
    assert.equal(hu[i], ((u64(a) * u64(b)) >> 64n) & MASK, `mulhu ${a} ${b}`);
  });
});

test('mulh of small negative operands sign-fills the high half', () => {
  // -1 * 1: the 128-bit product is all ones for mulh, but mulhu(2^64-1, 1) is 0.
  assert.deepEqual(binop('mulh', [[-1n, 1n]]), [MASK]);
  assert.deepEqual(binop('mulhsu', [[-1n, 1n]]), [MASK]);
  assert.deepEqual(binop('mulhu', [[-1n, 1n]]), [0n]);
  // mulhsu treats rs2 as unsigned: -1 * (2^64 - 1) = -(2^64 - 1) -> high word -1.
  assert.deepEqual(binop('mulhsu', [[-1n, -1n]]), [MASK]);
  assert.deepEqual(binop('mulhsu', [[1n, -1n]]), [0n]);
});

/** Spec semantics of the divisions, division by zero and overflow included. */
function divRef(op: string, a: bigint, b: bigint): bigint {
  const sa = s64(a), sb = s64(b), ua = u64(a), ub = u64(b);
  switch (op) {
    case 'div': return sb === 0n ? MASK : sa === MIN && sb === -1n ? u64(MIN) : u64(sa / sb);
    case 'divu': return ub === 0n ? MASK : ua / ub;
    case 'rem': return sb === 0n ? ua : sa === MIN && sb === -1n ? 0n : u64(sa % sb);
    default: return ub === 0n ? ua : ua % ub;
  }
}

test('div/divu/rem/remu including division by zero and INT64_MIN / -1', () => {
  for (const op of ['div', 'divu', 'rem', 'remu']) {
    const got = binop(op, PAIRS);
    PAIRS.forEach(([a, b], i) => assert.equal(got[i], divRef(op, a, b), `${op} ${a} ${b}`));
  }
});

test('division by zero: quotient all ones, remainder the dividend', () => {
  assert.deepEqual(binop('div', [[42n, 0n]]), [MASK]);
  assert.deepEqual(binop('divu', [[42n, 0n]]), [MASK]);
  assert.deepEqual(binop('rem', [[-42n, 0n]]), [u64(-42n)]);
  assert.deepEqual(binop('remu', [[42n, 0n]]), [42n]);
});

test('signed overflow: INT64_MIN / -1 = INT64_MIN, remainder 0', () => {
  assert.deepEqual(binop('div', [[MIN, -1n]]), [u64(MIN)]);
  assert.deepEqual(binop('rem', [[MIN, -1n]]), [0n]);
});

test('signed division truncates toward zero; remainder takes the dividend sign', () => {
  assert.deepEqual(binop('div', [[-7n, 2n], [7n, -2n]]), [u64(-3n), u64(-3n)]);
  assert.deepEqual(binop('rem', [[-7n, 2n], [7n, -2n]]), [u64(-1n), 1n]);
});

const s32 = (v: bigint) => BigInt.asIntN(32, v);
const u32 = (v: bigint) => BigInt.asUintN(32, v);
const sext32 = (v: bigint) => u64(s32(v));

test('mulw/divw/divuw/remw/remuw operate on the low words and sign-extend', () => {
  const W: [bigint, bigint][] = [
    [0x100000007n, 0x200000002n], [-7n, 2n], [0x80000000n, -1n], [0xffffffff80000000n, -1n],
    [5n, 0n], [-5n, 0n], [0xfffffffffn, 0x10n], [0x7fffffffn, 2n], [0x80000000n, 0xffffffffn],
  ];
  const ref: Record<string, (a: bigint, b: bigint) => bigint> = {
    mulw: (a, b) => sext32(s32(a) * s32(b)),
    divw: (a, b) => s32(b) === 0n ? MASK : s32(a) === -(1n << 31n) && s32(b) === -1n ? sext32(s32(a)) : sext32(s32(a) / s32(b)),
    divuw: (a, b) => u32(b) === 0n ? MASK : sext32(u32(a) / u32(b)),
    remw: (a, b) => s32(b) === 0n ? sext32(a) : s32(a) === -(1n << 31n) && s32(b) === -1n ? 0n : sext32(s32(a) % s32(b)),
    remuw: (a, b) => u32(b) === 0n ? sext32(a) : sext32(u32(a) % u32(b)),
  };
  for (const [op, f] of Object.entries(ref)) {
    const got = binop(op, W);
    W.forEach(([a, b], i) => assert.equal(got[i], f(a, b), `${op} ${a} ${b}`));
  }
});

test('divw overflow and divuw/remuw results with bit 31 set are sign-extended', () => {
  assert.deepEqual(binop('divw', [[0x80000000n, -1n]]), [0xffffffff80000000n]);
  assert.deepEqual(binop('remw', [[0x80000000n, -1n]]), [0n]);
  assert.deepEqual(binop('divuw', [[0xfffffffen, 1n]]), [0xfffffffffffffffen]);
  assert.deepEqual(binop('remuw', [[0x80000000n, 0n]]), [0xffffffff80000000n]);
  assert.deepEqual(binop('divuw', [[1n, 0n]]), [MASK]);
});
