// Zbb basic bit manipulation: andn/orn/xnor, clz/ctz/cpop (+W), min/max(u), sext.b/h,
// zext.h, rol/ror(i)(+W), orc.b and rev8.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

const MASK = (1n << 64n) - 1n;
const u64 = (v: bigint) => BigInt.asUintN(64, v);
const s64 = (v: bigint) => BigInt.asIntN(64, v);
const sext32 = (v: bigint) => u64(BigInt.asIntN(32, v));

function rr(op: string, a: bigint, b: bigint): bigint {
  const { h } = runAsm(`
    li t0, ${u64(a)}
    li t1, ${u64(b)}
    ${op} a0, t0, t1
  done: j done`);
  return reg(h, 'a0');
}

function un(op: string, a: bigint): bigint {
  const { h } = runAsm(`
    li t0, ${u64(a)}
    ${op} a0, t0
  done: j done`);
  return reg(h, 'a0');
}

const A = 0xf0f0ff0012345678n;
const B = 0x0ff0f0f0aaaa5555n;

test('andn/orn/xnor invert rs2', () => {
  assert.equal(rr('andn', A, B), A & ~B & MASK);
  assert.equal(rr('orn', A, B), (A | ~B) & MASK);
  assert.equal(rr('xnor', A, B), ~(A ^ B) & MASK);
});

function clz(v: bigint, bits: number): bigint {
  for (let i = bits - 1; i >= 0; i--) if ((v >> BigInt(i)) & 1n) return BigInt(bits - 1 - i);
  return BigInt(bits);
}
function ctz(v: bigint, bits: number): bigint {
  for (let i = 0; i < bits; i++) if ((v >> BigInt(i)) & 1n) return BigInt(i);
  return BigInt(bits);
}
function cpop(v: bigint): bigint {
  let n = 0n;
  for (; v; v >>= 1n) n += v & 1n;
  return n;
}

const COUNT_INPUTS = [0n, 1n, 0x8000000000000000n, 0x80000000n, 0x100000000n, 0xffffffffffffffffn, 0x00f0000000000100n, 0xffffffff00000000n];

test('clz/ctz/cpop count over 64 bits (0 gives 64)', () => {
  for (const v of COUNT_INPUTS) {
    assert.equal(un('clz', v), clz(v, 64), `clz ${v}`);
    assert.equal(un('ctz', v), ctz(v, 64), `ctz ${v}`);
    assert.equal(un('cpop', v), cpop(v), `cpop ${v}`);
  }
});

test('clzw/ctzw/cpopw count over the low word only (0 gives 32)', () => {
  for (const v of COUNT_INPUTS) {
    const w = v & 0xffffffffn;
    assert.equal(un('clzw', v), clz(w, 32), `clzw ${v}`);
    assert.equal(un('ctzw', v), ctz(w, 32), `ctzw ${v}`);
    assert.equal(un('cpopw', v), cpop(w), `cpopw ${v}`);
  }
});

test('min/max compare signed, minu/maxu unsigned', () => {
  for (const [a, b] of [[-1n, 1n], [1n, -1n], [5n, 5n], [-(1n << 63n), (1n << 63n) - 1n], [0x100000000n, 0xffffffffn]]) {
    assert.equal(rr('min', a, b), u64(s64(a) < s64(b) ? a : b), `min ${a} ${b}`);
    assert.equal(rr('max', a, b), u64(s64(a) > s64(b) ? a : b), `max ${a} ${b}`);
    assert.equal(rr('minu', a, b), u64(a) < u64(b) ? u64(a) : u64(b), `minu ${a} ${b}`);
    assert.equal(rr('maxu', a, b), u64(a) > u64(b) ? u64(a) : u64(b), `maxu ${a} ${b}`);
  }
});

test('sext.b/sext.h sign-extend, zext.h zero-extends', () => {
  assert.equal(un('sext.b', 0x1234567890abcd80n), 0xffffffffffffff80n);
  assert.equal(un('sext.b', 0x7fn), 0x7fn);
  assert.equal(un('sext.h', 0x1234567890ab8001n), 0xffffffffffff8001n);
  assert.equal(un('sext.h', 0xffffffffffff7fffn), 0x7fffn);
  assert.equal(un('zext.h', 0xffffffffffff8001n), 0x8001n);
});

function rol(v: bigint, s: number): bigint {
  s &= 63;
  return ((v << BigInt(s)) | (v >> BigInt((64 - s) & 63))) & MASK;
}

test('rol/ror rotate by rs2[5:0]; rori by an immediate', () => {
  for (const s of [0, 1, 31, 32, 63, 64 + 4]) {
    assert.equal(rr('rol', A, BigInt(s)), rol(A, s), `rol ${s}`);
    assert.equal(rr('ror', A, BigInt(s)), rol(A, 64 - (s & 63)), `ror ${s}`);
  }
  for (const s of [0, 1, 31, 32, 63]) {
    const { h } = runAsm(`
      li t0, ${A}
      rori a0, t0, ${s}
    done: j done`);
    assert.equal(reg(h, 'a0'), rol(A, 64 - s), `rori ${s}`);
  }
});

function rol32(v: bigint, s: number): bigint {
  v &= 0xffffffffn;
  s &= 31;
  return sext32(((v << BigInt(s)) | (v >> BigInt((32 - s) & 31))) & 0xffffffffn);
}

test('rolw/rorw/roriw rotate the low word and sign-extend', () => {
  for (const s of [0, 1, 16, 31, 32 + 3]) {
    assert.equal(rr('rolw', A, BigInt(s)), rol32(A, s), `rolw ${s}`);
    assert.equal(rr('rorw', A, BigInt(s)), rol32(A, 32 - (s & 31)), `rorw ${s}`);
  }
  for (const s of [0, 1, 4, 31]) {
    const { h } = runAsm(`
      li t0, ${A}
      roriw a0, t0, ${s}
    done: j done`);
    assert.equal(reg(h, 'a0'), rol32(A, 32 - s), `roriw ${s}`);
  }
  // 0x00000001 rotated right by 1 sets bit 31: negative.
  assert.equal(rr('rorw', 1n, 1n), 0xffffffff80000000n);
});

test('orc.b sets each non-zero byte to 0xff', () => {
  assert.equal(un('orc.b', 0x0001008000000010n), 0x00ff00ff000000ffn);
  assert.equal(un('orc.b', 0n), 0n);
  assert.equal(un('orc.b', 0x8000000000000001n), 0xff000000000000ffn);
});

test('rev8 reverses the eight bytes', () => {
  assert.equal(un('rev8', 0x0102030405060708n), 0x0807060504030201n);
  assert.equal(un('rev8', 0x80n), 0x8000000000000000n);
});
