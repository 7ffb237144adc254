// Cross-checks the fast paths (JS doubles + error-free transformations) against the exact
// BigInt reference on random operands shaped to hit their edges: cancellation, ties,
// results near the overflow/underflow thresholds and subnormals, in every rounding mode.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executeFp, executeFpReference } from '../../src/cpu/fpu/index.js';
import { HartState } from '../../src/cpu/state.js';
import { FCSR, opInfo } from './encode.js';

// xorshift32: deterministic, cheap.
let seed = 0x2545f491;
function rnd(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}
const below = (n: number) => rnd() % n;

/** Random bits for a float of (p, ebits), exponent biased (about) `center` ± spread. */
function randomFloat(double: boolean, center: number, spread: number): bigint {
  const ebits = double ? 11 : 8;
  const maxE = (1 << ebits) - 1;
  let e = center + below(2 * spread + 1) - spread;
  e = Math.max(0, Math.min(maxE - 1, e));
  let frac: bigint;
  const fbits = double ? 52 : 23;
  const all = (1n << BigInt(fbits)) - 1n;
  switch (below(5)) {
    case 0:
      frac = BigInt(1 << below(30)) << BigInt(below(fbits - 29 > 0 ? fbits - 29 : 1)); // one bit
      break;
    case 1:
      frac = all >> BigInt(below(fbits)); // low ones
      break;
    case 2:
      frac = (all << BigInt(below(fbits))) & all; // high ones
      break;
    default:
      frac = ((BigInt(rnd()) << 32n) | BigInt(rnd())) & all;
  }
  frac &= all;
  const sign = BigInt(below(2));
  return (sign << BigInt(ebits + fbits)) | (BigInt(e) << BigInt(fbits)) | frac;
}

function operand(double: boolean, bias: number, maxE: number, near?: number): bigint {
  switch (below(8)) {
    case 0:
      return randomFloat(double, 0, 4); // subnormal / tiny
    case 1:
      return randomFloat(double, maxE - 1, 4); // huge
    case 2:
      return randomFloat(double, below(maxE), 0); // anywhere
    case 3:
    case 4:
      if (near !== undefined) return randomFloat(double, near, 2);
      return randomFloat(double, bias, 30);
    default:
      return randomFloat(double, bias, 30);
  }
}

const OPS = ['fadd', 'fsub', 'fmul', 'fdiv', 'fsqrt', 'fmadd', 'fmsub', 'fnmsub', 'fnmadd'];

function exponentOf(bits: bigint, double: boolean): number {
  return Number((bits >> (double ? 52n : 23n)) & (double ? 0x7ffn : 0xffn));
}

test('fast paths agree with the exact reference on random operands', () => {
  const sFast = new HartState();
  const sRef = new HartState();
  const infos = new Map<string, ReturnType<typeof opInfo>>();
  let n = 0;
  const deadline = Date.now() + 15000;
  for (; n < 1000000 && Date.now() < deadline; n++) {
    const double = (n & 1) === 1;
    const fk = double ? 'd' : 's';
    const choice = below(OPS.length + 3);
    const bias = double ? 1023 : 127;
    const maxE = double ? 2047 : 255;
    let name: string;
    const ops: bigint[] = [];
    if (choice < OPS.length) {
      name = `${OPS[choice]}.${fk}`;
      const a = operand(double, bias, maxE);
      const ea = exponentOf(a, double);
      // Second operand near the first (cancellation, ties) or placing the product/quotient near a range edge.
      const target = below(3) === 0 ? [1, maxE - 1, bias][below(3)] : undefined;
      const eb = target === undefined ? ea + below(60) - 30 : name.startsWith('fdiv') ? ea - target + bias : target - ea + bias;
      const b = operand(double, bias, maxE, eb);
      let c = operand(double, bias, maxE, ea + exponentOf(b, double) - bias);
      if (choice >= 5 && below(2) === 0) {
        // Addend close to -(a*b) for deep cancellation.
        const prod = toNum(a, double) * toNum(b, double);
        if (Number.isFinite(prod)) c = fromNum(-prod, double) + BigInt(below(5)) - 2n;
        c = BigInt.asUintN(double ? 64 : 32, c);
      }
      ops.push(a, b, c);
    } else if (choice === OPS.length) {
      name = double ? 'fcvt.s.d' : 'fcvt.d.s';
      ops.push(double ? randomFloat(true, 1023 + below(300) - 150, 2) : operand(false, bias, maxE));
    } else {
      name = `fcvt.${fk}.${below(2) ? 'l' : 'lu'}`;
      ops.push((BigInt(rnd()) << 32n) | BigInt(rnd()) >> BigInt(below(32)));
      ops[0] >>= BigInt(below(40));
    }
    let info = infos.get(name);
    if (!info) infos.set(name, (info = opInfo(name)));
    const rm = below(5);
    const boxed = info.srcs[0] === 'F' && name.endsWith('.s') ? ops.map((v) => 0xffffffff00000000n | v) : ops;
    for (const s of [sFast, sRef]) {
      info.srcs.forEach((k, i) => (k === 'F' ? s.setF(i + 1, boxed[i]) : s.setX(i + 11, boxed[i])));
      s.w[FCSR] = 0;
    }
    const insn = info.encode(10, info.srcs[0] === 'F' ? 1 : 11, 2, 3, rm);
    assert.ok(executeFp(sFast, insn));
    assert.ok(executeFpReference(sRef, insn));
    const got = sFast.getF(10);
    const want = sRef.getF(10);
    if (got !== want || sFast.w[FCSR] !== sRef.w[FCSR]) {
      assert.fail(
        `${name} rm=${rm} ${boxed.map((v) => v.toString(16)).join(' ')}: fast ${got.toString(16)}/${sFast.w[FCSR]}, reference ${want.toString(16)}/${sRef.w[FCSR]}`,
      );
    }
  }
  assert.ok(n >= 100000, `only ${n} cases ran`);
});

const view = new DataView(new ArrayBuffer(8));
function toNum(bits: bigint, double: boolean): number {
  if (double) {
    view.setBigUint64(0, bits);
    return view.getFloat64(0);
  }
  view.setUint32(0, Number(bits));
  return view.getFloat32(0);
}
function fromNum(v: number, double: boolean): bigint {
  if (double) {
    view.setFloat64(0, v);
    return view.getBigUint64(0);
  }
  view.setFloat32(0, v);
  return BigInt(view.getUint32(0));
}
