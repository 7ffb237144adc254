// Random instruction sequences for the differential test against QEMU.
//
// A sequence is a list of blocks, each one or more assembly lines. Branches only jump
// forward to a block boundary a few blocks ahead, so every sequence terminates; blocks
// that must stay together (an LR/SC pair, an address computation and the access that uses
// it, a c.addi16sp and the one that undoes it) are single blocks so no branch lands inside.
//
// Two registers are reserved and never written by a sequence:
//   s0 (x8) = scratch + 2048: base of every memory access; also a compressed base register.
//   sp (x2) = scratch + 1024: base of the c.*sp forms.
// Every address a sequence forms lies inside the 4 KiB scratch area.

export const SCRATCH_SIZE = 4096;
/** Offsets of the reserved base registers from the start of the scratch area. */
export const S0_OFFSET = 2048;
export const SP_OFFSET = 1024;

/** xoshiro128** seeded through splitmix32: tiny, fast, and the same on every platform. */
export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let z = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z;
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b);
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35);
      this.s[i] = (t ^ (t >>> 16)) >>> 0;
    }
  }

  u32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

const hex = (v: bigint): string => '0x' + BigInt.asUintN(64, v).toString(16);

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Register state a sequence starts from (the layout of a record's register part). */
export interface SeqState {
  /** x0..x31; the reserved registers' values are set by the prologue instead. */
  x: bigint[];
  /** f0..f31 as raw 64-bit patterns. */
  f: bigint[];
  fcsr: number;
}

export interface Block {
  lines: string[];
  /** For a branch: how many blocks ahead its target label sits (the label is `@`). */
  skip?: number;
}

export interface Sequence {
  index: number;
  init: SeqState;
  blocks: Block[];
}

// ---------------------------------------------------------------------------------------
// Registers

export const XNAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
export const FNAMES = ['ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3',
  'fa4', 'fa5', 'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11', 'ft8', 'ft9',
  'ft10', 'ft11'];
export const RESERVED = [2, 8];
const WRITABLE = Array.from({ length: 32 }, (_, i) => i).filter((i) => i !== 0 && !RESERVED.includes(i));
/** Compressed-form destinations (x8..x15 without s0). */
const CWRITABLE = [9, 10, 11, 12, 13, 14, 15];

// ---------------------------------------------------------------------------------------
// Interesting values

const M64 = (1n << 64n) - 1n;
const sx32 = (v: bigint): bigint => BigInt.asUintN(64, BigInt.asIntN(32, v));

const X_SPECIAL: bigint[] = [
  0n, 1n, 2n, 3n, M64, M64 - 1n, 1n << 63n, (1n << 63n) - 1n, (1n << 63n) + 1n,
  0x80000000n, 0x7fffffffn, 0xffffffffn, 0x100000000n, sx32(0x80000000n), sx32(0xffffffffn),
  0xffffffff00000000n, 0x00000000ffff8000n, 0x8000n, 0x7fffn, 0xffffn, 0x80n, 0xffn,
  31n, 32n, 33n, 63n, 64n, 65n, 0x5555555555555555n, 0xaaaaaaaaaaaaaaaan, 0x0123456789abcdefn,
];

function xValue(r: Rng): bigint {
  switch (r.int(8)) {
    case 0: case 1: case 2: return r.pick(X_SPECIAL);
    case 3: return BigInt.asUintN(64, BigInt(r.range(-70, 70)));
    case 4: return sx32(BigInt(r.u32()));
    case 5: return BigInt(r.u32());
    case 6: return (1n << BigInt(r.int(64))) ^ (r.chance(0.5) ? 0n : M64) ^ (r.chance(0.3) ? 1n : 0n);
    default: return r.u64();
  }
}

const BOX = 0xffffffff00000000n;
const F32_SPECIAL: number[] = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa00000,
  0x7fffffff, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, 0x3f800000,
  0xbf800000, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000, 0xc0200000, 0x3effffff, 0x4f000000, 0xcf000000,
  0x4f800000, 0x5f000000, 0xdf000000, 0x5f800000, 0x4effffff, 0x3f800001, 0x33800000, 0x00400000,
];
const F64_SPECIAL: bigint[] = [
  0n, 1n << 63n, 0x7ff0000000000000n, 0xfff0000000000000n, 0x7ff8000000000000n, 0xfff8000000000000n,
  0x7ff0000000000001n, 0x7ff4000000000000n, 0x7fffffffffffffffn, 1n, 0x8000000000000001n, 0x000fffffffffffffn,
  0x0010000000000000n, 0x7fefffffffffffffn, 0xffefffffffffffffn, 0x3ff0000000000000n, 0xbff0000000000000n,
  0x3fe0000000000000n, 0xbfe0000000000000n, 0x3ff8000000000000n, 0x4004000000000000n, 0xc004000000000000n,
  0x3ff0000000000001n, 0x3fefffffffffffffn, 0x41e0000000000000n, 0xc1e0000000000000n, 0x41efffffffe00000n,
  0x41f0000000000000n, 0x43e0000000000000n, 0xc3e0000000000000n, 0x43f0000000000000n, 0x43dfffffffffffffn,
  0x3ff0000010000000n, 0x36a0000000000000n, 0x3810000000000000n, 0x47efffffe0000000n, 0x47effffff0000000n,
];

function f32Value(r: Rng): number {
  switch (r.int(4)) {
    case 0: case 1: return r.pick(F32_SPECIAL);
    case 2: return f32Bits(r.range(-300, 300) / r.pick([1, 2, 4, 8, 3]));
    default: return r.u32();
  }
}

function f64Value(r: Rng): bigint {
  switch (r.int(6)) {
    case 0: case 1: return r.pick(F64_SPECIAL);
    case 2: return f64Bits(r.range(-300, 300) / r.pick([1, 2, 4, 8, 3, 1024]));
    case 3: {
      // A single-precision value plus exactly half (or a bit more or less than half) of its
      // ulp: the interesting inputs of fcvt.s.d.
      const s = BigInt(r.u32() & 0xbfffffff);
      const tail = r.pick([0x10000000n, 0x10000001n, 0x0fffffffn, 0x08000000n]);
      return f64FromF32Bits(s) | tail;
    }
    case 4: return f64Bits((r.chance(0.5) ? -1 : 1) * Math.pow(2, r.range(0, 66)) * (1 + r.int(4) / 4) + r.pick([0, 0.5, -0.5, 1]));
    default: return r.u64();
  }
}

/** f registers: NaN-boxed singles, doubles, and non-boxed garbage that single ops must see as NaN. */
function fValue(r: Rng): bigint {
  const k = r.int(10);
  if (k < 4) return BOX | BigInt(f32Value(r));
  if (k < 9) return f64Value(r);
  return r.chance(0.5) ? BigInt(f32Value(r)) : (BigInt(r.u32() & 0xfffffffe) << 32n) | BigInt(f32Value(r));
}

const f32Buf = new DataView(new ArrayBuffer(8));
function f32Bits(v: number): number {
  f32Buf.setFloat32(0, v, true);
  return f32Buf.getUint32(0, true);
}
function f64Bits(v: number): bigint {
  f32Buf.setFloat64(0, v, true);
  return f32Buf.getBigUint64(0, true);
}
function bitsToF32(v: number): number {
  f32Buf.setUint32(0, v, true);
  return f32Buf.getFloat32(0, true);
}
function bitsToF64(v: bigint): number {
  f32Buf.setBigUint64(0, v, true);
  return f32Buf.getFloat64(0, true);
}
/** The double with the same value as a single's bit pattern (exponent rebased, mantissa shifted). */
function f64FromF32Bits(s: bigint): bigint {
  f32Buf.setUint32(0, Number(s), true);
  return f64Bits(f32Buf.getFloat32(0, true)) & ~0xfffffffn;
}

// ---------------------------------------------------------------------------------------
// Instruction forms

const RMS = ['', '', '', 'rne', 'rtz', 'rdn', 'rup', 'rmm', 'dyn'];

class Builder {
  readonly blocks: Block[] = [];
  /** Lines that set up source operands of the next block (see xs/fs). */
  private setup: string[] = [];
  /** Registers a sequence favours, so results feed later instructions. */
  private readonly hot: number[];
  private readonly hotF: number[];

  constructor(readonly r: Rng) {
    this.hot = Array.from({ length: 6 }, () => r.pick(WRITABLE));
    this.hotF = Array.from({ length: 6 }, () => r.int(32));
  }

  xd(): string {
    if (this.r.chance(0.03)) return 'zero';
    return XNAMES[this.r.chance(0.5) ? this.r.pick(this.hot) : this.r.pick(WRITABLE)];
  }

  /** A source register; sometimes loaded with an edge-case value right before the block,
   *  since random register contents rarely line up into e.g. INT_MIN / -1. */
  xs(): string {
    const k = this.r.int(100);
    if (k < 6) return 'zero';
    if (k < 26) {
      const reg = XNAMES[this.r.pick(this.hot)];
      this.setup.push(`li ${reg}, ${hex(this.r.chance(0.7) ? this.r.pick(X_SPECIAL) : xValue(this.r))}`);
      return reg;
    }
    return XNAMES[k < 60 ? this.r.pick(this.hot) : this.r.int(32)];
  }

  cd(): string { return XNAMES[this.r.pick(CWRITABLE)]; }
  cs(): string { return XNAMES[this.r.range(8, 15)]; }
  fd(): string { return FNAMES[this.r.chance(0.5) ? this.r.pick(this.hotF) : this.r.int(32)]; }

  fs(): string {
    const k = this.r.int(100);
    if (k < 20) {
      const reg = FNAMES[this.r.pick(this.hotF)];
      const t = this.temp();
      this.setup.push(`li ${t}, ${hex(fValue(this.r))}`, `fmv.d.x ${reg}, ${t}`);
      return reg;
    }
    return FNAMES[k < 60 ? this.r.pick(this.hotF) : this.r.int(32)];
  }

  cf(): string { return FNAMES[this.r.range(8, 15)]; }
  rm(): string { const m = this.r.pick(RMS); return m === '' ? '' : ', ' + m; }
  imm12(): number { return this.r.chance(0.3) ? this.r.pick([0, 1, -1, 2047, -2048, 31, 32, 63, 64]) : this.r.range(-2048, 2047); }
  temp(): string { return XNAMES[this.r.pick(WRITABLE)]; }

  /** Appends a block, preceded by the operand setup its sources asked for. */
  push(block: Block): void {
    block.lines.unshift(...this.setup);
    this.setup = [];
    this.blocks.push(block);
  }

  add(...lines: string[]): void { this.push({ lines }); }

  /** An offset from a base `baseOffset` bytes into the scratch area such that `size`
   *  bytes stay inside the area; naturally aligned more often than not. */
  offset(baseOffset: number, size: number, align: number): number {
    const lo = Math.max(0, baseOffset - 2048), hi = Math.min(SCRATCH_SIZE - size, baseOffset + 2047);
    let a = this.r.range(lo, hi);
    // s0 sits on a page boundary: straddling it takes the page-crossing paths.
    const crossing = S0_OFFSET - 1 - this.r.int(size - 1);
    if (size > 1 && crossing >= lo && crossing <= hi && this.r.chance(0.1)) return crossing - baseOffset;
    if (this.r.chance(0.6)) {
      a -= a % align;
      if (a < lo) a += align;
    }
    return a - baseOffset;
  }

  /** `off(base)` for a load or store of `size` bytes, sometimes through a temporary base. */
  address(size: number, align: number, pre: string[]): string {
    const k = this.r.int(4);
    if (k === 0) return `${this.offset(SP_OFFSET, size, align)}(sp)`;
    if (k === 1) {
      // A computed base: exercises the immediate's sign with a base elsewhere in the area.
      const t = this.temp();
      const to = this.r.range(0, SCRATCH_SIZE - 1);
      pre.push(`addi ${t}, s0, ${to - S0_OFFSET}`);
      return `${this.offset(to, size, align)}(${t})`;
    }
    return `${this.offset(S0_OFFSET, size, align)}(s0)`;
  }
}

type Emitter = (b: Builder) => void;

const R_ALU = ['add', 'sub', 'sll', 'slt', 'sltu', 'xor', 'srl', 'sra', 'or', 'and', 'addw', 'subw', 'sllw', 'srlw', 'sraw'];
const I_ALU = ['addi', 'slti', 'sltiu', 'xori', 'ori', 'andi', 'addiw'];
const SHIFT64 = ['slli', 'srli', 'srai'];
const SHIFT32 = ['slliw', 'srliw', 'sraiw'];
const MUL = ['mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu', 'mulw', 'divw', 'divuw', 'remw', 'remuw'];
/** Operand pairs for division edge cases; undefined = any value. */
const DIV_EDGES: [bigint | undefined, bigint | undefined][] = [
  [1n << 63n, M64], [sx32(0x80000000n), M64], [0x80000000n, 0xffffffffn], [0xdead80000000n, sx32(0xffffffffn)],
  [undefined, 0n], [undefined, 0xffffffff00000000n], [0n, 0n], [undefined, M64], [undefined, 1n],
];
const B_R = ['add.uw', 'sh1add', 'sh2add', 'sh3add', 'sh1add.uw', 'sh2add.uw', 'sh3add.uw', 'andn', 'orn', 'xnor',
  'max', 'maxu', 'min', 'minu', 'rol', 'rolw', 'ror', 'rorw', 'bclr', 'bext', 'binv', 'bset'];
// ctzw is left out: QEMU 7.2 returns the 64-bit count when bits 31:0 are zero (ctzw of
// 1<<63 gives 63, not 32). A spec-checked fixture in test/fixtures/diff/regressions covers it.
const B_UNARY = ['clz', 'clzw', 'ctz', 'cpop', 'cpopw', 'sext.b', 'sext.h', 'zext.h', 'orc.b', 'rev8'];
const B_SHIFT64 = ['slli.uw', 'rori', 'bclri', 'bexti', 'binvi', 'bseti'];
const BRANCHES = ['beq', 'bne', 'blt', 'bge', 'bltu', 'bgeu'];
const LOADS: [string, number][] = [['lb', 1], ['lh', 2], ['lw', 4], ['ld', 8], ['lbu', 1], ['lhu', 2], ['lwu', 4]];
const STORES: [string, number][] = [['sb', 1], ['sh', 2], ['sw', 4], ['sd', 8]];
const AMOS = ['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu'];
const ORDER = ['', '', '.aq', '.rl', '.aqrl'];
const FP_ARITH = ['fadd', 'fsub', 'fmul', 'fdiv'];
const FP_FMA = ['fmadd', 'fmsub', 'fnmsub', 'fnmadd'];
const FP_NO_RM = ['fmin', 'fmax', 'fsgnj', 'fsgnjn', 'fsgnjx'];
const FP_CMP = ['feq', 'flt', 'fle'];
const INT_TYPES = ['w', 'wu', 'l', 'lu'];

const EMITTERS: [number, Emitter][] = [
  [6, (b) => b.add(`${b.r.pick(R_ALU)} ${b.xd()}, ${b.xs()}, ${b.xs()}`)],
  [5, (b) => b.add(`${b.r.pick(I_ALU)} ${b.xd()}, ${b.xs()}, ${b.imm12()}`)],
  [3, (b) => b.add(`${b.r.pick(SHIFT64)} ${b.xd()}, ${b.xs()}, ${b.r.int(64)}`)],
  [2, (b) => b.add(`${b.r.pick(SHIFT32)} ${b.xd()}, ${b.xs()}, ${b.r.int(32)}`)],
  [2, (b) => b.add(`${b.r.pick(['lui', 'auipc'])} ${b.xd()}, 0x${b.r.int(0x100000).toString(16)}`)],
  [7, (b) => b.add(`${b.r.pick(MUL)} ${b.xd()}, ${b.xs()}, ${b.r.chance(0.1) ? 'zero' : b.xs()}`)],
  [2, (b) => {
    // Division's two special cases, with the operands placed right before the op.
    const [x, y] = b.r.pick(DIV_EDGES);
    const ra = b.r.pick(WRITABLE);
    let rb = b.r.pick(WRITABLE);
    while (rb === ra) rb = b.r.pick(WRITABLE);
    const a = x ?? xValue(b.r), c = y ?? xValue(b.r);
    b.add(`li ${XNAMES[ra]}, ${hex(a)}`, `li ${XNAMES[rb]}, ${hex(c)}`, `${b.r.pick(MUL)} ${b.xd()}, ${XNAMES[ra]}, ${XNAMES[rb]}`);
  }],
  [5, (b) => b.add(`${b.r.pick(B_R)} ${b.xd()}, ${b.xs()}, ${b.xs()}`)],
  [3, (b) => b.add(`${b.r.pick(B_UNARY)} ${b.xd()}, ${b.xs()}`)],
  [3, (b) => {
    const op = b.r.pick([...B_SHIFT64, 'roriw']);
    b.add(`${op} ${b.xd()}, ${b.xs()}, ${b.r.int(op === 'roriw' ? 32 : 64)}`);
  }],
  [4, (b) => b.push({ lines: [`${b.r.pick(BRANCHES)} ${b.xs()}, ${b.xs()}, @`], skip: b.r.range(1, 4) })],
  [1, (b) => b.push({ lines: [`jal ${b.xd()}, @`], skip: b.r.range(1, 4) })],
  [1, (b) => {
    // Indirect jumps: the target comes from la, so it is the same address on both sides.
    const t = b.temp();
    const form = b.r.int(3);
    const jump = form === 0 ? `jalr ${b.xd()}, 0(${t})` : form === 1 ? `c.jr ${t}` : `c.jalr ${t}`;
    b.push({ lines: [`la ${t}, @`, jump], skip: b.r.range(1, 4) });
  }],
  [6, (b) => {
    const [op, size] = b.r.pick(LOADS);
    const pre: string[] = [];
    const a = b.address(size, size, pre);
    b.add(...pre, `${op} ${b.xd()}, ${a}`);
  }],
  [5, (b) => {
    const [op, size] = b.r.pick(STORES);
    const pre: string[] = [];
    const a = b.address(size, size, pre);
    b.add(...pre, `${op} ${b.xs()}, ${a}`);
  }],
  [3, (b) => {
    const d = b.r.chance(0.5);
    const store = b.r.chance(0.5);
    const size = d ? 8 : 4;
    const pre: string[] = [];
    const a = b.address(size, size, pre);
    b.add(...pre, `${store ? 'fs' : 'fl'}${d ? 'd' : 'w'} ${store ? b.fs() : b.fd()}, ${a}`);
  }],
  [4, (b) => {
    const size = b.r.chance(0.5) ? 8 : 4;
    const t = b.temp();
    const addr = `addi ${t}, s0, ${b.r.range(-S0_OFFSET / size, (SCRATCH_SIZE - S0_OFFSET) / size - 1) * size}`;
    b.add(addr, `${b.r.pick(AMOS)}.${size === 8 ? 'd' : 'w'}${b.r.pick(ORDER)} ${b.xd()}, ${b.xs()}, (${t})`);
  }],
  [2, lrsc],
  [4, (b) => b.add(`${b.r.pick(FP_ARITH)}.${b.r.pick(['s', 'd'])} ${b.fd()}, ${b.fs()}, ${b.fs()}${b.rm()}`)],
  [2, (b) => b.add(`fsqrt.${b.r.pick(['s', 'd'])} ${b.fd()}, ${b.fs()}${b.rm()}`)],
  [3, (b) => b.add(`${b.r.pick(FP_FMA)}.${b.r.pick(['s', 'd'])} ${b.fd()}, ${b.fs()}, ${b.fs()}, ${b.fs()}${b.rm()}`)],
  [2, fmaCancel],
  [3, (b) => b.add(`${b.r.pick(FP_NO_RM)}.${b.r.pick(['s', 'd'])} ${b.fd()}, ${b.fs()}, ${b.fs()}`)],
  [2, (b) => b.add(`${b.r.pick(FP_CMP)}.${b.r.pick(['s', 'd'])} ${b.xd()}, ${b.fs()}, ${b.fs()}`)],
  [1, (b) => b.add(`fclass.${b.r.pick(['s', 'd'])} ${b.xd()}, ${b.fs()}`)],
  [4, (b) => b.add(`fcvt.${b.r.pick(INT_TYPES)}.${b.r.pick(['s', 'd'])} ${b.xd()}, ${b.fs()}${b.rm()}`)],
  [3, (b) => {
    const to = b.r.pick(['s', 'd']);
    const from = b.r.pick(INT_TYPES);
    // int -> double from 32 bits is exact, and takes no rounding-mode operand.
    const exact = to === 'd' && (from === 'w' || from === 'wu');
    b.add(`fcvt.${to}.${from} ${b.fd()}, ${b.xs()}${exact ? '' : b.rm()}`);
  }],
  [2, (b) => b.add(b.r.chance(0.5) ? `fcvt.s.d ${b.fd()}, ${b.fs()}${b.rm()}` : `fcvt.d.s ${b.fd()}, ${b.fs()}`)],
  [2, (b) => {
    const op = b.r.pick(['fmv.x.w', 'fmv.x.d', 'fmv.w.x', 'fmv.d.x']);
    b.add(op.startsWith('fmv.x') ? `${op} ${b.xd()}, ${b.fs()}` : `${op} ${b.fd()}, ${b.xs()}`);
  }],
  [1, (b) => {
    // fcsr traffic; frm only ever gets a valid mode so dynamic rounding stays legal.
    switch (b.r.int(5)) {
      case 0: b.add(`csrrwi ${b.xd()}, frm, ${b.r.range(0, 4)}`); break;
      case 1: b.add(`${b.r.pick(['csrrw', 'csrrs', 'csrrc'])} ${b.xd()}, fflags, ${b.xs()}`); break;
      case 2: b.add(`${b.r.pick(['csrrwi', 'csrrsi', 'csrrci'])} ${b.xd()}, fflags, ${b.r.int(32)}`); break;
      case 3: b.add(`csrrs ${b.xd()}, ${b.r.pick(['fcsr', 'frm', 'fflags'])}, zero`); break;
      default: b.add(`csrrci ${b.xd()}, fcsr, ${b.r.int(32)}`); break;
    }
  }],
  [1, (b) => b.add(b.r.pick(['fence', 'fence rw, rw', 'fence r, w', 'nop', 'fence.i']))],
  [10, compressed],
];

const TOTAL_WEIGHT = EMITTERS.reduce((s, [w]) => s + w, 0);

function lrsc(b: Builder): void {
  const r = b.r;
  const w = r.chance(0.5) ? 'w' : 'd';
  const size = w === 'd' ? 8 : 4;
  const slot = () => r.range(-S0_OFFSET / size, (SCRATCH_SIZE - S0_OFFSET) / size - 1) * size;
  const t = b.temp();
  const lines = [`addi ${t}, s0, ${slot()}`];
  const kind = r.int(3);
  if (kind === 2) {
    // SC with no reservation held (every LR in a sequence is followed by an SC).
    lines.push(`sc.${w}${r.pick(ORDER)} ${b.xd()}, ${b.xs()}, (${t})`);
  } else {
    let rd = b.xd();
    while (rd === t) rd = b.xd();
    lines.push(`lr.${w}${r.pick(ORDER)} ${rd}, (${t})`);
    // A little register-only work between the pair keeps the reservation.
    for (let k = r.int(3); k > 0; k--) {
      let d = b.xd();
      while (d === t) d = b.xd();
      lines.push(`${r.pick(R_ALU)} ${d}, ${b.xs()}, ${b.xs()}`);
    }
    let sct = t;
    if (kind === 1) {
      // SC to another address than the LR: must fail.
      sct = b.temp();
      lines.push(`addi ${sct}, s0, ${slot()}`);
    }
    lines.push(`sc.${w}${r.pick(ORDER)} ${b.xd()}, ${b.xs()}, (${sct})`);
  }
  b.add(...lines);
}

/** A fused multiply-add whose addend nearly cancels the product, so the result is the
 *  product's rounding error (plus a nudge): the case that needs the exact product. */
function fmaCancel(b: Builder): void {
  const r = b.r;
  const single = r.chance(0.5);
  const regs: string[] = [];
  while (regs.length < 3) {
    const f = FNAMES[r.int(32)];
    if (!regs.includes(f)) regs.push(f);
  }
  const t = b.temp();
  let x: number, y: number, z: number;
  if (single) {
    x = bitsToF32(f32Value(r)); y = bitsToF32(f32Value(r));
    z = -Math.fround(x * y);
    if (r.chance(0.3)) z = Math.fround(z * (1 + r.pick([-1, 1]) * 2 ** -23));
  } else {
    x = bitsToF64(f64Value(r)); y = bitsToF64(f64Value(r));
    z = -(x * y);
    if (r.chance(0.3)) z *= 1 + r.pick([-1, 1]) * 2 ** -52;
  }
  const bits = (v: number) => (single ? BOX | BigInt(f32Bits(v)) : f64Bits(v));
  const lines = [x, y, z].flatMap((v, k) => [`li ${t}, ${hex(bits(v))}`, `fmv.d.x ${regs[k]}, ${t}`]);
  const [a, c, d] = regs;
  b.add(...lines, `${r.pick(FP_FMA)}.${single ? 's' : 'd'} ${b.fd()}, ${a}, ${c}, ${d}${b.rm()}`);
}

function compressed(b: Builder): void {
  const r = b.r;
  const nz = (lo: number, hi: number) => { let v = 0; while (v === 0) v = r.range(lo, hi); return v; };
  const full = () => XNAMES[r.pick(WRITABLE)];
  switch (r.int(24)) {
    case 0: b.add(`c.addi4spn ${b.cd()}, sp, ${r.range(1, 255) * 4}`); break;
    case 1: b.add(`c.fld ${b.cf()}, ${r.int(32) * 8}(s0)`); break;
    case 2: b.add(`c.lw ${b.cd()}, ${r.int(32) * 4}(s0)`); break;
    case 3: b.add(`c.ld ${b.cd()}, ${r.int(32) * 8}(s0)`); break;
    case 4: b.add(`c.fsd ${b.cf()}, ${r.int(32) * 8}(s0)`); break;
    case 5: b.add(`c.sw ${b.cs()}, ${r.int(32) * 4}(s0)`); break;
    case 6: b.add(`c.sd ${b.cs()}, ${r.int(32) * 8}(s0)`); break;
    case 7: b.add(r.chance(0.2) ? 'c.nop' : `c.addi ${full()}, ${nz(-32, 31)}`); break;
    case 8: b.add(`c.addiw ${full()}, ${r.range(-32, 31)}`); break;
    case 9: b.add(`c.li ${full()}, ${r.range(-32, 31)}`); break;
    case 10: {
      const imm = nz(-31, 31) * 16;
      const mid = r.chance(0.5) ? [`c.ldsp ${full()}, ${r.int(64) * 8}(sp)`] : [];
      b.add(`c.addi16sp sp, ${imm}`, ...mid, `c.addi16sp sp, ${-imm}`);
      break;
    }
    case 11: {
      const v = nz(-32, 31);
      b.add(`c.lui ${full()}, 0x${(v < 0 ? v + 0x100000 : v).toString(16)}`);
      break;
    }
    case 12: b.add(`${r.pick(['c.srli', 'c.srai'])} ${b.cd()}, ${r.range(1, 63)}`); break;
    case 13: b.add(`c.andi ${b.cd()}, ${r.range(-32, 31)}`); break;
    case 14: b.add(`${r.pick(['c.sub', 'c.xor', 'c.or', 'c.and', 'c.subw', 'c.addw'])} ${b.cd()}, ${b.cs()}`); break;
    case 15: b.push({ lines: ['c.j @'], skip: r.range(1, 4) }); break;
    case 16: b.push({ lines: [`${r.pick(['c.beqz', 'c.bnez'])} ${b.cs()}, @`], skip: r.range(1, 4) }); break;
    case 17: b.add(`c.slli ${full()}, ${r.range(1, 63)}`); break;
    case 18: b.add(`c.fldsp ${b.fd()}, ${r.int(64) * 8}(sp)`); break;
    case 19: b.add(r.chance(0.5) ? `c.lwsp ${full()}, ${r.int(64) * 4}(sp)` : `c.ldsp ${full()}, ${r.int(64) * 8}(sp)`); break;
    case 20: b.add(`${r.pick(['c.mv', 'c.add'])} ${full()}, ${XNAMES[r.range(1, 31)]}`); break;
    case 21: b.add(`c.fsdsp ${b.fs()}, ${r.int(64) * 8}(sp)`); break;
    case 22: b.add(`c.swsp ${b.xs()}, ${r.int(64) * 4}(sp)`); break;
    default: b.add(`c.sdsp ${b.xs()}, ${r.int(64) * 8}(sp)`); break;
  }
}

// ---------------------------------------------------------------------------------------

export function randomState(r: Rng): SeqState {
  const x = Array.from({ length: 32 }, (_, i) => (i === 0 ? 0n : xValue(r)));
  const f = Array.from({ length: 32 }, () => fValue(r));
  return { x, f, fcsr: r.range(0, 4) << 5 };
}

/** One sequence of `length` blocks. */
export function generateSequence(r: Rng, index: number, length: number): Sequence {
  const init = randomState(r);
  const b = new Builder(r);
  while (b.blocks.length < length) {
    let k = r.int(TOTAL_WEIGHT);
    for (const [w, emit] of EMITTERS) {
      if (k < w) { emit(b); break; }
      k -= w;
    }
  }
  return { index, init, blocks: b.blocks };
}

/** The body's assembly; branch targets become labels `<prefix>_<block>`. */
export function renderBody(blocks: Block[], prefix: string): string[] {
  const targets = new Set<number>();
  blocks.forEach((bl, i) => { if (bl.skip !== undefined) targets.add(Math.min(i + bl.skip, blocks.length)); });
  const out: string[] = [];
  blocks.forEach((bl, i) => {
    if (targets.has(i)) out.push(`${prefix}_${i}:`);
    const label = `${prefix}_${Math.min(i + (bl.skip ?? 0), blocks.length)}`;
    for (const l of bl.lines) out.push('  ' + l.replace('@', label));
  });
  if (targets.has(blocks.length)) out.push(`${prefix}_${blocks.length}:`);
  return out;
}
