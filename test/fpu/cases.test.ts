// Hand-written corner cases for every F/D computational instruction, checked through both
// the fast-path executor and the exact reference.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { executeFp, executeFpReference } from '../../src/cpu/fpu/index.js';
import { FFlag, HartState } from '../../src/cpu/state.js';
import { FCSR, box, f32bits, f64bits, opInfo, run } from './encode.js';

const NV = FFlag.NV;
const DZ = FFlag.DZ;
const OF = FFlag.OF;
const UF = FFlag.UF;
const NX = FFlag.NX;
const [RNE, RTZ, RDN, RUP, RMM] = [0, 1, 2, 3, 4];

const D = (v: number) => f64bits(v);
const S = (v: number) => box(f32bits(v));
const CANON_D = 0x7ff8000000000000n;
const CANON_S = box(0x7fc00000);
const SNAN_D = 0x7ff0000000000001n;
const QNAN_D = 0x7ff8000000000123n;
const SNAN_S = box(0x7f800001);
const QNAN_S = box(0x7fc00123);
const MAX_D = 0x7fefffffffffffffn;
const MAX_S = box(0x7f7fffff);
const MIN_NORMAL_D = 0x0010000000000000n;
const X = (v: bigint) => BigInt.asUintN(64, v);

/** Checks one case through both executors and both rounding-mode encodings. */
function check(name: string, rm: number, ops: bigint[], value: bigint, flags: number): void {
  for (const exec of [executeFp, executeFpReference]) {
    for (const dyn of [false, true]) {
      const r = run(exec, name, rm, ops, dyn);
      const label = `${name} rm=${rm} dyn=${dyn} ${exec === executeFp ? 'fast' : 'ref'}`;
      assert.ok(r.ok, `${label}: reported illegal`);
      assert.equal(r.value.toString(16), value.toString(16), `${label}: value`);
      assert.equal(r.flags, flags, `${label}: fflags`);
    }
  }
}

describe('arithmetic', () => {
  test('NaN operands give the canonical NaN; only signalling ones raise NV', () => {
    check('fadd.d', RNE, [QNAN_D, D(1)], CANON_D, 0);
    check('fadd.d', RNE, [D(1), SNAN_D], CANON_D, NV);
    check('fmul.s', RNE, [QNAN_S, S(2)], CANON_S, 0);
    check('fdiv.s', RNE, [SNAN_S, S(2)], CANON_S, NV);
    check('fsqrt.d', RNE, [SNAN_D], CANON_D, NV);
    check('fsqrt.d', RNE, [D(-1)], CANON_D, NV);
    check('fadd.d', RNE, [D(Infinity), D(-Infinity)], CANON_D, NV);
    check('fmul.d', RNE, [D(Infinity), D(0)], CANON_D, NV);
  });

  test('improperly NaN-boxed singles read as the canonical NaN', () => {
    check('fadd.s', RNE, [BigInt(f32bits(1)), S(1)], CANON_S, 0);
    check('fadd.s', RNE, [0xfffffffe3f800000n, S(1)], CANON_S, 0);
    check('fcvt.d.s', RNE, [0x000000007f800001n], CANON_D, 0);
    check('fsqrt.s', RNE, [BigInt(f32bits(4))], CANON_S, 0);
  });

  test('signed zeros', () => {
    check('fsub.d', RNE, [D(1.5), D(1.5)], D(0), 0);
    check('fsub.d', RDN, [D(1.5), D(1.5)], D(-0), 0);
    check('fadd.s', RDN, [S(2), S(-2)], S(-0), 0);
    check('fadd.d', RNE, [D(-0), D(-0)], D(-0), 0);
    check('fadd.d', RUP, [D(-0), D(0)], D(0), 0);
    check('fadd.d', RDN, [D(-0), D(0)], D(-0), 0);
    check('fmul.d', RNE, [D(-0), D(5)], D(-0), 0);
    check('fsqrt.d', RNE, [D(-0)], D(-0), 0);
    check('fsqrt.s', RNE, [S(-0)], S(-0), 0);
    check('fdiv.d', RNE, [D(-0), D(Infinity)], D(-0), 0);
  });

  test('division by zero', () => {
    check('fdiv.d', RNE, [D(1), D(-0)], D(-Infinity), DZ);
    check('fdiv.s', RTZ, [S(-3), S(0)], S(-Infinity), DZ);
    check('fdiv.d', RNE, [D(0), D(0)], CANON_D, NV);
    check('fdiv.d', RNE, [D(Infinity), D(0)], D(Infinity), 0);
  });

  test('overflow goes to infinity or the largest finite value by rounding mode', () => {
    const big = D(2 ** 1023);
    check('fmul.d', RNE, [big, D(2)], D(Infinity), OF | NX);
    check('fmul.d', RMM, [big, D(-2)], D(-Infinity), OF | NX);
    check('fmul.d', RTZ, [big, D(2)], MAX_D, OF | NX);
    check('fmul.d', RDN, [big, D(2)], MAX_D, OF | NX);
    check('fmul.d', RDN, [big, D(-2)], D(-Infinity), OF | NX);
    check('fmul.d', RUP, [big, D(-2)], MAX_D | (1n << 63n), OF | NX);
    check('fadd.s', RTZ, [MAX_S, MAX_S], MAX_S, OF | NX);
    check('fadd.s', RUP, [MAX_S, MAX_S], S(Infinity), OF | NX);
    // Just above max finite but rounding back to it is not an overflow.
    check('fadd.d', RNE, [MAX_D, D(2 ** 969)], MAX_D, NX);
    check('fadd.d', RNE, [MAX_D, D(2 ** 970)], D(Infinity), OF | NX);
  });

  test('underflow: tininess after rounding, UF only when inexact', () => {
    // Exact subnormal results raise nothing.
    check('fmul.d', RNE, [D(2 ** -1000), D(2 ** -60)], D(2 ** -1060), 0);
    check('fsub.d', RNE, [0x0010000000000001n, MIN_NORMAL_D], 1n, 0);
    // x = 2^-1022 - 2^-1076 rounds to 2^-1022 with an unbounded exponent: not tiny.
    const a = D(-(2 ** -538));
    const b = D(2 ** -538);
    check('fmadd.d', RNE, [a, b, MIN_NORMAL_D], MIN_NORMAL_D, NX);
    check('fmadd.d', RTZ, [a, b, MIN_NORMAL_D], 0x000fffffffffffffn, UF | NX);
    check('fmadd.d', RUP, [a, b, MIN_NORMAL_D], MIN_NORMAL_D, NX);
    // x = 2^-1022 (1 - 2^-53) is tiny even after rounding, yet rounds to 2^-1022.
    check('fmul.d', RNE, [MIN_NORMAL_D, 0x3fefffffffffffffn], MIN_NORMAL_D, UF | NX);
    check('fmul.d', RUP, [D(2 ** -1074), D(0.5)], 1n, UF | NX);
    check('fmul.d', RNE, [D(2 ** -1074), D(0.5)], 0n, UF | NX);
    check('fmul.d', RDN, [D(-(2 ** -1074)), D(0.25)], D(-(2 ** -1074)), UF | NX);
    // Singles, through the fast path's bail-out.
    check('fmadd.s', RNE, [S(-(2 ** -76)), S(2 ** -76), S(2 ** -126)], S(2 ** -126), NX);
    check('fmul.s', RNE, [S(2 ** -126), box(0x3f7fffff)], S(2 ** -126), UF | NX);
    check('fdiv.s', RTZ, [S(2 ** -126), S(3)], box(0x002aaaaa), UF | NX);
  });

  test('every rounding mode on an inexact result', () => {
    // 1/3 in double: RNE/RDN/RTZ round down, RUP/RMM round up.
    const third = 0x3fd5555555555555n;
    for (const [rm, v] of [[RNE, third], [RTZ, third], [RDN, third], [RUP, third + 1n], [RMM, third]] as const) {
      check('fdiv.d', rm, [D(1), D(3)], v, NX);
    }
    for (const [rm, v] of [[RNE, third], [RTZ, third], [RDN, third + 1n], [RUP, third], [RMM, third]] as const) {
      check('fdiv.d', rm, [D(-1), D(3)], v | (1n << 63n), NX);
    }
  });

  test('RMM on quotients, which are never ties, with a 2-ulp spacing', () => {
    check('fdiv.d', RMM, [0x424479d822b0d397n, 0x3ef3ea58e8f0d52cn], 0x43407348fdfde3ebn, NX);
    check('fsqrt.d', RMM, [D(2 ** 107 + 2 ** 60)], f64bits(Math.sqrt(2 ** 107 + 2 ** 60)), NX);
  });

  test('ties: RNE to even, RMM away from zero', () => {
    check('fadd.d', RNE, [D(1), D(2 ** -53)], D(1), NX);
    check('fadd.d', RMM, [D(1), D(2 ** -53)], D(1 + 2 ** -52), NX);
    check('fadd.d', RMM, [D(-1), D(-(2 ** -53))], D(-1 - 2 ** -52), NX);
    check('fadd.d', RNE, [D(1 + 2 ** -52), D(2 ** -53)], D(1 + 2 ** -51), NX);
    check('fadd.s', RNE, [S(1), S(2 ** -24)], S(1), NX);
    check('fadd.s', RMM, [S(1), S(2 ** -24)], S(1 + 2 ** -23), NX);
    // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 is exact in double and a single tie.
    check('fmul.s', RNE, [S(1 + 2 ** -12), S(1 + 2 ** -12)], S(1 + 2 ** -11), NX);
    check('fmul.s', RMM, [S(1 + 2 ** -12), S(1 + 2 ** -12)], S(1 + 2 ** -11 + 2 ** -23), NX);
  });

  test('fused multiply-add rounds once and follows the sign rules', () => {
    // a*b + c where a*b rounds away the bits that survive the addition.
    const a = D(1 + 2 ** -30);
    check('fmadd.d', RNE, [a, a, D(-1)], D(2 ** -29 + 2 ** -60), 0);
    check('fmsub.d', RNE, [a, a, D(1)], D(2 ** -29 + 2 ** -60), 0);
    check('fnmsub.d', RNE, [a, a, D(1)], D(-(2 ** -29) - 2 ** -60), 0);
    check('fnmadd.d', RNE, [a, a, D(-1)], D(-(2 ** -29) - 2 ** -60), 0);
    check('fmadd.s', RNE, [S(1 + 2 ** -12), S(1 + 2 ** -12), S(-1)], S(2 ** -11 + 2 ** -24), 0);
    // inf * 0 is invalid even with a quiet NaN addend.
    check('fmadd.d', RNE, [D(Infinity), D(0), QNAN_D], CANON_D, NV);
    check('fmadd.s', RNE, [S(0), S(-Infinity), QNAN_S], CANON_S, NV);
    check('fmadd.d', RNE, [D(Infinity), D(1), D(-Infinity)], CANON_D, NV);
    check('fmadd.d', RNE, [QNAN_D, D(1), SNAN_D], CANON_D, NV);
    // Exact zero results: +0, or -0 when rounding down; -0 + -0 stays -0.
    check('fmadd.d', RNE, [D(2), D(3), D(-6)], D(0), 0);
    check('fmadd.d', RDN, [D(2), D(3), D(-6)], D(-0), 0);
    check('fmadd.d', RNE, [D(-0), D(3), D(-0)], D(-0), 0);
    check('fnmadd.d', RNE, [D(0), D(3), D(0)], D(-0), 0);
  });
});

describe('sign injection, min/max, compare, classify', () => {
  test('sign injection is a pure bit operation', () => {
    check('fsgnj.d', RNE, [SNAN_D, D(-1)], SNAN_D | (1n << 63n), 0);
    check('fsgnjn.d', RNE, [QNAN_D, D(-1)], QNAN_D, 0);
    check('fsgnjx.d', RNE, [D(-2), D(-1)], D(2), 0);
    check('fsgnj.s', RNE, [SNAN_S, S(-1)], box(0xff800001), 0);
    check('fsgnjn.s', RNE, [S(3), S(3)], S(-3), 0);
    check('fsgnjx.s', RNE, [S(-3), S(3)], S(-3), 0);
    // A mis-boxed operand is the canonical NaN, sign included.
    check('fsgnj.s', RNE, [0x3f800000n, S(-1)], box(0xffc00000), 0);
    check('fsgnjx.s', RNE, [S(-1), 0xbf800000n], S(-1), 0);
  });

  test('min/max: minimumNumber semantics', () => {
    check('fmin.d', RNE, [D(-0), D(0)], D(-0), 0);
    check('fmin.d', RNE, [D(0), D(-0)], D(-0), 0);
    check('fmax.d', RNE, [D(-0), D(0)], D(0), 0);
    check('fmax.s', RNE, [S(0), S(-0)], S(0), 0);
    check('fmin.d', RNE, [QNAN_D, D(3)], D(3), 0);
    check('fmax.d', RNE, [D(3), SNAN_D], D(3), NV);
    check('fmin.s', RNE, [SNAN_S, QNAN_S], CANON_S, NV);
    check('fmax.d', RNE, [QNAN_D, QNAN_D], CANON_D, 0);
    check('fmin.s', RNE, [0n, S(-5)], S(-5), 0);
    check('fmax.d', RNE, [D(-Infinity), D(-1e300)], D(-1e300), 0);
  });

  test('comparisons: FEQ is quiet, FLT/FLE signal on any NaN', () => {
    check('feq.d', RNE, [D(0), D(-0)], 1n, 0);
    check('flt.d', RNE, [D(-0), D(0)], 0n, 0);
    check('fle.d', RNE, [D(-0), D(0)], 1n, 0);
    check('feq.d', RNE, [QNAN_D, D(1)], 0n, 0);
    check('feq.s', RNE, [SNAN_S, S(1)], 0n, NV);
    check('flt.d', RNE, [QNAN_D, D(1)], 0n, NV);
    check('fle.s', RNE, [S(1), QNAN_S], 0n, NV);
    check('flt.s', RNE, [S(-Infinity), S(-3)], 1n, 0);
    check('feq.s', RNE, [0x3f800000n, 0x3f800000n], 0n, 0);
  });

  test('classify', () => {
    const cases: [bigint, number][] = [
      [D(-Infinity), 0], [D(-1), 1], [0x800fffffffffffffn, 2], [D(-0), 3], [D(0), 4],
      [1n, 5], [D(1), 6], [D(Infinity), 7], [SNAN_D, 8], [QNAN_D, 9],
    ];
    for (const [v, bit] of cases) check('fclass.d', RNE, [v], BigInt(1 << bit), 0);
    const single: [bigint, number][] = [
      [S(-Infinity), 0], [S(-1), 1], [box(0x80000001), 2], [S(-0), 3], [S(0), 4],
      [box(0x007fffff), 5], [S(1), 6], [S(Infinity), 7], [SNAN_S, 8], [QNAN_S, 9], [0x3f800000n, 9],
    ];
    for (const [v, bit] of single) check('fclass.s', RNE, [v], BigInt(1 << bit), 0);
  });
});

describe('conversions', () => {
  test('float to integer: rounding, saturation and NV per the spec table', () => {
    check('fcvt.w.d', RNE, [D(2.5)], 2n, NX);
    check('fcvt.w.d', RMM, [D(2.5)], 3n, NX);
    check('fcvt.w.d', RDN, [D(-2.5)], X(-3n), NX);
    check('fcvt.w.d', RUP, [D(-2.5)], X(-2n), NX);
    check('fcvt.w.d', RTZ, [D(-2.5)], X(-2n), NX);
    check('fcvt.w.d', RNE, [D(-3.5)], X(-4n), NX);
    check('fcvt.w.d', RNE, [D(2147483647.5)], 0x7fffffffn, NV);
    check('fcvt.w.d', RTZ, [D(2147483647.5)], 0x7fffffffn, NX);
    check('fcvt.w.d', RNE, [D(-2147483648.5)], X(-2147483648n), NX);
    check('fcvt.w.d', RDN, [D(-2147483648.5)], X(-2147483648n), NV);
    check('fcvt.w.d', RNE, [QNAN_D], 0x7fffffffn, NV);
    check('fcvt.w.s', RNE, [S(-Infinity)], X(-2147483648n), NV);
    check('fcvt.w.s', RNE, [S(Infinity)], 0x7fffffffn, NV);
    // WU results are sign-extended from 32 bits.
    check('fcvt.wu.d', RNE, [D(4294967295)], X(-1n), 0);
    check('fcvt.wu.d', RNE, [D(3e9)], X(BigInt.asIntN(32, 3000000000n)), 0);
    check('fcvt.wu.d', RNE, [D(-1)], 0n, NV);
    check('fcvt.wu.d', RTZ, [D(-0.75)], 0n, NX);
    check('fcvt.wu.d', RNE, [D(-0.75)], 0n, NV);
    check('fcvt.wu.s', RNE, [SNAN_S], X(-1n), NV);
    check('fcvt.wu.d', RNE, [D(4294967296)], X(-1n), NV);
    check('fcvt.l.d', RNE, [D(2 ** 63)], 0x7fffffffffffffffn, NV);
    check('fcvt.l.d', RNE, [D(-(2 ** 63))], 0x8000000000000000n, 0);
    check('fcvt.l.s', RNE, [S(-Infinity)], 0x8000000000000000n, NV);
    check('fcvt.l.d', RNE, [D(-123456789012.75)], X(-123456789013n), NX);
    check('fcvt.lu.d', RNE, [D(2 ** 64 - 2048)], 0xfffffffffffff800n, 0);
    check('fcvt.lu.d', RNE, [D(2 ** 64)], X(-1n), NV);
    check('fcvt.lu.d', RNE, [D(Infinity)], X(-1n), NV);
    check('fcvt.lu.d', RNE, [QNAN_D], X(-1n), NV);
    check('fcvt.lu.s', RNE, [S(-Infinity)], 0n, NV);
    check('fcvt.l.d', RNE, [D(-0)], 0n, 0);
  });

  test('integer to float: exact rounding of 64-bit values', () => {
    check('fcvt.d.l', RNE, [2n ** 53n + 1n], D(2 ** 53), NX);
    check('fcvt.d.l', RUP, [2n ** 53n + 1n], D(2 ** 53 + 2), NX);
    check('fcvt.d.l', RNE, [2n ** 53n + 3n], D(2 ** 53 + 4), NX);
    check('fcvt.d.l', RDN, [X(-(2n ** 53n) - 1n)], D(-(2 ** 53) - 2), NX);
    check('fcvt.d.l', RNE, [0x8000000000000000n], D(-(2 ** 63)), 0);
    check('fcvt.d.lu', RNE, [X(-1n)], D(2 ** 64), NX);
    check('fcvt.d.lu', RTZ, [X(-1n)], D(2 ** 64 - 2048), NX);
    check('fcvt.d.w', RNE, [X(-7n)], D(-7), 0);
    check('fcvt.d.w', RNE, [0xffffffff_00000005n], D(5), 0);
    check('fcvt.d.wu', RNE, [0x00000000_ffffffffn], D(4294967295), 0);
    check('fcvt.s.w', RNE, [16777217n], S(16777216), NX);
    check('fcvt.s.w', RMM, [16777217n], S(16777218), NX);
    check('fcvt.s.wu', RNE, [0xffffffffn], S(4294967296), NX);
    check('fcvt.s.wu', RTZ, [0xffffffffn], box(0x4f7fffff), NX);
    check('fcvt.s.lu', RNE, [X(-1n)], S(2 ** 64), NX);
    check('fcvt.s.lu', RTZ, [X(-1n)], box(0x5f7fffff), NX);
    // Double rounding trap: the nearest double is exactly a single midpoint, but x is above it.
    check('fcvt.s.l', RNE, [(1n << 60n) + (1n << 36n) + 1n], S(2 ** 60 + 2 ** 37), NX);
    check('fcvt.s.l', RNE, [0n], S(0), 0);
    check('fcvt.d.l', RDN, [0n], D(0), 0);
  });

  test('between formats', () => {
    check('fcvt.s.d', RNE, [D(1 / 3)], S(1 / 3), NX);
    check('fcvt.s.d', RNE, [MAX_D], S(Infinity), OF | NX);
    check('fcvt.s.d', RTZ, [MAX_D], MAX_S, OF | NX);
    check('fcvt.s.d', RNE, [D(2 ** -140)], S(2 ** -140), 0);
    check('fcvt.s.d', RNE, [D(2 ** -140 * 1.1)], box(f32bits(2 ** -140 * 1.1)), UF | NX);
    check('fcvt.s.d', RUP, [D(1e-300)], box(1), UF | NX);
    check('fcvt.s.d', RNE, [D(-0)], S(-0), 0);
    check('fcvt.s.d', RNE, [SNAN_D], CANON_S, NV);
    check('fcvt.s.d', RNE, [QNAN_D], CANON_S, 0);
    check('fcvt.d.s', RNE, [box(1)], D(2 ** -149), 0);
    check('fcvt.d.s', RNE, [SNAN_S], CANON_D, NV);
    check('fcvt.d.s', RNE, [S(-Infinity)], D(-Infinity), 0);
  });

  test('moves', () => {
    check('fmv.x.w', RNE, [0x12345678_89abcdefn], 0xffffffff_89abcdefn, 0);
    check('fmv.x.w', RNE, [0xffffffff_7fc00000n], 0x7fc00000n, 0);
    check('fmv.w.x', RNE, [0x12345678_89abcdefn], 0xffffffff_89abcdefn, 0);
    check('fmv.x.d', RNE, [SNAN_D], SNAN_D, 0);
    check('fmv.d.x', RNE, [0x7ff0000000000001n], 0x7ff0000000000001n, 0);
  });
});

describe('encoding and state', () => {
  function enc(name: string, rm: number): number {
    return opInfo(name).encode(10, 1, 2, 3, rm);
  }

  test('illegal encodings return false and change nothing', () => {
    const illegal = [
      enc('fadd.d', 5),
      enc('fadd.d', 6),
      enc('fmadd.s', 5),
      (enc('fadd.d', 0) | (2 << 25)) >>> 0, // fmt H
      (enc('fadd.d', 0) | (3 << 25)) >>> 0, // fmt Q
      (enc('fmadd.d', 0) | (2 << 25)) >>> 0,
      (enc('fsqrt.d', 0) | (1 << 20)) >>> 0,
      (enc('fsgnj.s', 0) | (3 << 12)) >>> 0,
      (enc('fmin.d', 0) | (2 << 12)) >>> 0,
      (enc('feq.d', 0) | (3 << 12)) >>> 0,
      (enc('fclass.d', 0) | (1 << 20)) >>> 0,
      (enc('fmv.x.w', 0) | (2 << 12)) >>> 0,
      (enc('fmv.w.x', 0) | (1 << 12)) >>> 0,
      (enc('fcvt.w.d', 0) | (4 << 20)) >>> 0,
      (enc('fcvt.d.w', 0) | (5 << 20)) >>> 0,
      (enc('fcvt.s.d', 0) & ~(31 << 20)) >>> 0,
      (enc('fcvt.d.s', 0) | (2 << 20)) >>> 0,
      enc('fcvt.d.s', 6),
      (0x7f << 25) | 0x53,
      0x00000013,
    ];
    for (const insn of illegal) {
      for (const exec of [executeFp, executeFpReference]) {
        const s = new HartState();
        s.setF(1, SNAN_D);
        s.setF(2, D(0));
        s.w[FCSR + 1] = RNE;
        const before = new Uint8Array(s.buffer.slice(0));
        assert.equal(exec(s, insn), false, `insn 0x${insn.toString(16)}`);
        assert.deepEqual(new Uint8Array(s.buffer), before);
      }
    }
  });

  test('DYN with a reserved frm is illegal; static rm ignores frm', () => {
    for (const frm of [5, 6, 7]) {
      const s = new HartState();
      s.w[FCSR + 1] = frm;
      assert.equal(executeFp(s, enc('fadd.d', 7)), false);
      assert.equal(executeFp(s, enc('fcvt.d.w', 7)), false);
      assert.equal(executeFp(s, enc('fadd.d', RTZ)), true);
      // Instructions without a rounding mode never look at frm.
      assert.equal(executeFp(s, enc('fsgnj.d', 0)), true);
    }
  });

  test('flags accumulate and integer writes to x0 are dropped', () => {
    const s = new HartState();
    s.w[FCSR] = DZ;
    s.setF(1, D(1));
    s.setF(2, D(3));
    assert.ok(executeFp(s, enc('fdiv.d', RNE)));
    assert.equal(s.w[FCSR], DZ | NX);
    s.setF(1, QNAN_D);
    const flt0 = opInfo('flt.d').encode(0, 1, 2, 0, 0);
    assert.ok(executeFp(s, flt0));
    assert.equal(s.getX(0), 0n);
    assert.equal(s.w[FCSR], DZ | NX | NV);
  });

  test('destination may alias a source', () => {
    const s = new HartState();
    s.setF(1, D(1.5));
    s.setF(2, D(2.25));
    const insn = opInfo('fmadd.d').encode(2, 1, 2, 2, RNE);
    assert.ok(executeFp(s, insn));
    assert.equal(s.f[2], 1.5 * 2.25 + 2.25);
  });
});
