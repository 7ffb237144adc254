// Builds the operand records for the F/D golden vectors, runs them through the riscv64
// oracle (scripts/gen-fpu-fixtures.c under qemu) and writes the gzip'd fixture:
//   "RVFPU1\n" + comma-separated op names + "\n" + records of 35 bytes:
//   op u8, rm u8, fflags u8, a u64, b u64, c u64, result u64 (little-endian).
// Usage: node gen-fpu-fixtures.mjs <qemu> <oracle> <out.bin.gz>
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const [qemu, oracle, outPath] = process.argv.slice(2);
const run = (args, input) => {
  const r = spawnSync(qemu, [oracle, ...args], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`oracle failed: ${r.status} ${r.stderr}`);
  return r.stdout;
};
const names = run(['--list']).toString().trim().split('\n');

// Deterministic xorshift128+ so the fixture is reproducible.
let s0 = 0x9e3779b97f4a7c15n;
let s1 = 0xbf58476d1ce4e5b9n;
const M64 = (1n << 64n) - 1n;
function rand64() {
  let x = s0;
  const y = s1;
  s0 = y;
  x = (x ^ (x << 23n)) & M64;
  s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
  return (s1 + y) & M64;
}
const randInt = (n) => Number(rand64() % BigInt(n));
const chance = (p) => randInt(1 << 20) < p * (1 << 20);
const pick = (arr) => arr[randInt(arr.length)];

const FMT = {
  s: { p: 24, ebits: 8, bias: 127, width: 32 },
  d: { p: 53, ebits: 11, bias: 1023, width: 64 },
};
const maxBE = (f) => (1 << f.ebits) - 1;
function make(f, sign, be, frac) {
  return (BigInt(sign) << BigInt(f.width - 1)) | (BigInt(be) << BigInt(f.p - 1)) | (frac & ((1n << BigInt(f.p - 1)) - 1n));
}
const BOX = 0xffffffff00000000n;
/** Puts a single into an f register image: NaN-boxed, or now and then deliberately not. */
function reg(f, bits) {
  if (f.width === 64) return bits;
  if (chance(0.02)) return pick([0n, 0xfffffffe00000000n, rand64() & ~0xffffffffn]) | bits;
  return BOX | bits;
}

function fracPattern(f) {
  const n = f.p - 1;
  const all = (1n << BigInt(n)) - 1n;
  switch (randInt(8)) {
    case 0:
      return 0n;
    case 1:
      return all;
    case 2: {
      // A few scattered bits: products and sums of these land exactly on ties.
      let v = 0n;
      for (let k = randInt(4); k >= 0; k--) v |= 1n << BigInt(randInt(n));
      return v;
    }
    case 3:
      return all >> BigInt(randInt(n)); // low run of ones
    case 4:
      return (all << BigInt(randInt(n))) & all; // high run of ones
    case 5:
      return (1n << BigInt(n - 1)) | BigInt(randInt(4)); // just above a half
    default:
      return rand64() & all;
  }
}

function specials(f) {
  const M = maxBE(f);
  const all = (1n << BigInt(f.p - 1)) - 1n;
  const q = 1n << BigInt(f.p - 2);
  const list = [];
  for (const sign of [0, 1]) {
    list.push(
      make(f, sign, 0, 0n), // zero
      make(f, sign, 0, 1n), // min subnormal
      make(f, sign, 0, all), // max subnormal
      make(f, sign, 1, 0n), // min normal
      make(f, sign, M - 1, all), // max finite
      make(f, sign, M, 0n), // inf
      make(f, sign, f.bias, 0n), // 1
      make(f, sign, f.bias, 1n), // 1 + ulp
      make(f, sign, f.bias - 1, all), // 1 - ulp/2
    );
  }
  list.push(make(f, 0, M, q), make(f, 1, M, q | 5n), make(f, 0, M, 1n), make(f, 1, M, all >> 1n)); // qNaN, qNaN, sNaN, sNaN
  list.push(make(f, 0, f.bias + 1, q), make(f, 0, 1, 1n), make(f, 1, M - 1, 0n)); // 3, min normal + ulp, large power of two
  return list;
}

/** A random finite value with exponent near `center` (biased), clamped to the format. */
function near(f, center, spread, sign = randInt(2)) {
  let be = center + randInt(2 * spread + 1) - spread;
  be = Math.max(0, Math.min(maxBE(f) - 1, be));
  return make(f, sign, be, fracPattern(f));
}

function randomValue(f) {
  const M = maxBE(f);
  switch (randInt(6)) {
    case 0:
      return near(f, randInt(M), 0);
    case 1:
      return near(f, 0, 3); // subnormals and the smallest normals
    case 2:
      return near(f, M - 1, 3); // near overflow
    case 3:
      return pick(specials(f));
    default:
      return near(f, f.bias, 8);
  }
}

const be = (f, bits) => Number((bits >> BigInt(f.p - 1)) & BigInt(maxBE(f)));

/** Operand pairs shaped so that results land on rounding boundaries and range edges. */
function binaryPair(f, op) {
  const a = randomValue(f);
  if (chance(0.2)) return [a, randomValue(f)];
  const ea = be(f, a);
  const M = maxBE(f);
  let eb;
  if (op === 'fadd' || op === 'fsub') {
    eb = ea + pick([0, 0, 1, -1, f.p - 1, f.p, f.p + 1, f.p + 2, -f.p, -f.p - 1, randInt(2 * f.p) - f.p]);
  } else {
    // Target result exponents near the overflow and underflow thresholds, or ordinary ones.
    const target = pick([M - 1, M - 2, M, 1, 0, -1, 2 - f.p, 1 - f.p, -f.p, f.bias, f.bias, f.bias + randInt(9) - 4]);
    eb = op === 'fmul' ? target - ea + f.bias : ea - target + f.bias;
  }
  eb = Math.max(0, Math.min(M - 1, eb));
  return [a, make(f, randInt(2), eb, fracPattern(f))];
}

const toNum = (f, bits) => {
  const buf = Buffer.alloc(8);
  if (f.width === 64) {
    buf.writeBigUInt64LE(bits);
    return buf.readDoubleLE(0);
  }
  buf.writeUInt32LE(Number(bits));
  return buf.readFloatLE(0);
};
const fromNum = (f, v) => {
  const buf = Buffer.alloc(8);
  if (f.width === 64) {
    buf.writeDoubleLE(v);
    return buf.readBigUInt64LE(0);
  }
  buf.writeFloatLE(v);
  return BigInt(buf.readUInt32LE(0));
};

/** Triples for fused multiply-add, often with c close to -(a*b) so that it cancels. */
function fmaTriple(f) {
  if (chance(0.25)) return [randomValue(f), randomValue(f), randomValue(f)];
  const [a, b] = binaryPair(f, 'fmul');
  const prod = toNum(f, a) * toNum(f, b);
  let c;
  if (Number.isFinite(prod) && prod !== 0 && chance(0.6)) {
    // -(a*b) rounded, nudged by a few ulps, or scaled a little.
    let cb = fromNum(f, f.width === 64 ? -prod : Math.fround(-prod));
    if (chance(0.5)) cb += BigInt(randInt(5) - 2);
    else cb = make(f, randInt(2), Math.max(0, Math.min(maxBE(f) - 1, be(f, cb) + randInt(2 * f.p) - f.p)), fracPattern(f));
    c = cb & ((1n << BigInt(f.width)) - 1n);
  } else {
    c = randomValue(f);
  }
  return [a, b, c];
}

const I64 = [0n, 1n, 2n, 3n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn, 0xfffffffffffffffen,
  0x7fffffffffffffffn, 0x8000000000000000n, 0x8000000000000001n, 0xffffffff80000000n, 0xffffffff7fffffffn, 0x1000001n,
  0x1000003n, 0x20000000000001n, 0x20000000000003n, 0xfffffffffe000001n];

function randomInt() {
  switch (randInt(4)) {
    case 0:
      return pick(I64);
    case 1: {
      // A sparse integer of random width: ties when converted to a narrower precision.
      const w = 1 + randInt(64);
      let v = 1n << BigInt(w - 1);
      for (let k = randInt(3); k >= 0; k--) v |= 1n << BigInt(randInt(w));
      return chance(0.5) ? (-v) & M64 : v;
    }
    case 2:
      return rand64() >> BigInt(randInt(64));
    default:
      return (-(rand64() >> BigInt(randInt(64)))) & M64;
  }
}

/** Float inputs for float->int: around the integer range limits and halves. */
function convValue(f) {
  if (chance(0.3)) return randomValue(f);
  const limits = [0, 31, 32, 63, 64, 1, 2, 23, 24, 52, 53];
  const e = pick(limits);
  const base = 2 ** e * (chance(0.5) ? -1 : 1);
  const delta = pick([0, 0.5, -0.5, 1, -1, 0.25, 1.5, -1.5, 2.5, 0.75]) * (chance(0.3) ? 2 ** (e - f.p + 1) : 1);
  let v = base + delta;
  if (f.width === 32) v = Math.fround(v);
  return fromNum(f, v);
}

const records = [];
const add = (op, rm, a = 0n, b = 0n, c = 0n) => records.push({ op: names.indexOf(op), rm, a, b, c });
const RMS = [0, 1, 2, 3, 4];

for (const fk of ['s', 'd']) {
  const f = FMT[fk];
  const sp = specials(f);
  const r = (bits) => reg(f, bits);
  for (const op of ['fadd', 'fsub', 'fmul', 'fdiv']) {
    for (const a of sp) for (const b of sp) add(`${op}.${fk}`, pick(RMS), r(a), r(b));
    for (const rm of RMS) for (let i = 0; i < 300; i++) {
      const [a, b] = binaryPair(f, op);
      add(`${op}.${fk}`, rm, r(a), r(b));
    }
  }
  for (const rm of RMS) {
    for (const a of sp) add(`fsqrt.${fk}`, rm, r(a));
    for (let i = 0; i < 300; i++) add(`fsqrt.${fk}`, rm, r(randomValue(f)));
  }
  for (const op of ['fmadd', 'fmsub', 'fnmsub', 'fnmadd']) {
    for (let i = 0; i < 300; i++) add(`${op}.${fk}`, pick(RMS), r(pick(sp)), r(pick(sp)), r(pick(sp)));
    for (const rm of RMS) for (let i = 0; i < 250; i++) {
      const [a, b, c] = fmaTriple(f);
      add(`${op}.${fk}`, rm, r(a), r(b), r(c));
    }
  }
  for (const op of ['fmin', 'fmax', 'fsgnj', 'fsgnjn', 'fsgnjx', 'feq', 'flt', 'fle']) {
    for (const a of sp) for (const b of sp) add(`${op}.${fk}`, 0, r(a), r(b));
    for (let i = 0; i < 100; i++) add(`${op}.${fk}`, 0, r(randomValue(f)), r(randomValue(f)));
  }
  for (const a of sp) add(`fclass.${fk}`, 0, r(a));
  for (let i = 0; i < 200; i++) add(`fclass.${fk}`, 0, r(randomValue(f)));
  for (const it of ['w', 'wu', 'l', 'lu']) {
    for (const rm of RMS) {
      for (const a of sp) add(`fcvt.${it}.${fk}`, rm, r(a));
      for (let i = 0; i < 100; i++) add(`fcvt.${it}.${fk}`, rm, r(convValue(f)));
      for (const v of I64) add(`fcvt.${fk}.${it}`, rm, v);
      for (let i = 0; i < 100; i++) add(`fcvt.${fk}.${it}`, rm, randomInt());
    }
  }
}
for (const rm of RMS) {
  for (const a of specials(FMT.d)) add('fcvt.s.d', rm, a);
  for (let i = 0; i < 300; i++) {
    // Doubles spanning the single range, its overflow and underflow edges included.
    const e = pick([randInt(2047), 1023 + randInt(60) - 30, 1023 + 127 + randInt(5) - 2, 1023 - 126 + randInt(7) - 3, 1023 - 150 + randInt(30)]);
    add('fcvt.s.d', rm, make(FMT.d, randInt(2), e, fracPattern(FMT.d)));
  }
  for (const a of specials(FMT.s)) add('fcvt.d.s', rm, reg(FMT.s, a));
  for (let i = 0; i < 60; i++) add('fcvt.d.s', rm, reg(FMT.s, randomValue(FMT.s)));
}
for (let i = 0; i < 100; i++) {
  add('fmv.x.w', 0, chance(0.5) ? rand64() : reg(FMT.s, randomValue(FMT.s)));
  add('fmv.w.x', 0, rand64());
  add('fmv.x.d', 0, rand64());
  add('fmv.d.x', 0, rand64());
}

const input = Buffer.alloc(records.length * 32);
records.forEach((rec, i) => {
  const o = i * 32;
  input[o] = rec.op;
  input[o + 1] = rec.rm;
  input.writeBigUInt64LE(rec.a, o + 8);
  input.writeBigUInt64LE(rec.b, o + 16);
  input.writeBigUInt64LE(rec.c, o + 24);
});
const output = run([], input);
if (output.length !== records.length * 40) throw new Error('short oracle output');
const packed = Buffer.alloc(records.length * 35);
for (let i = 0; i < records.length; i++) {
  output.copy(packed, i * 35, i * 40, i * 40 + 3);
  output.copy(packed, i * 35 + 3, i * 40 + 8, i * 40 + 40);
}
const header = Buffer.from(`RVFPU1\n${names.join(',')}\n`);
const gz = gzipSync(Buffer.concat([header, packed]), { level: 9 });
writeFileSync(outPath, gz);
console.log(`${records.length} records, ${gz.length} bytes -> ${outPath}`);
