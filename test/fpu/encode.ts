// Encodes F/D instructions by mnemonic for the FPU tests, and runs one on a fresh hart.

import { HartState, Slot, slotIndex } from '../../src/cpu/state.js';

export type Kind = 'F' | 'X';

export interface OpInfo {
  /** Operand register files, in order rs1, rs2, rs3. */
  readonly srcs: readonly Kind[];
  readonly dst: Kind;
  readonly usesRm: boolean;
  /** Builds the instruction word. */
  encode(rd: number, rs1: number, rs2: number, rs3: number, rm: number): number;
}

const FMT: Record<string, number> = { s: 0, d: 1 };
const INT: Record<string, number> = { w: 0, wu: 1, l: 2, lu: 3 };

function opFp(funct7: number, rs2Fixed: number | null, funct3Fixed: number | null) {
  return (rd: number, rs1: number, rs2: number, _rs3: number, rm: number): number =>
    ((funct7 << 25) | ((rs2Fixed ?? rs2) << 20) | (rs1 << 15) | ((funct3Fixed ?? rm) << 12) | (rd << 7) | 0x53) >>> 0;
}

export function opInfo(name: string): OpInfo {
  const parts = name.split('.');
  const m = parts[0];
  const last = parts[parts.length - 1];
  const fmt = FMT[last] ?? 0;
  const arith: Record<string, number> = { fadd: 0, fsub: 1, fmul: 2, fdiv: 3 };
  if (m in arith) return { srcs: ['F', 'F'], dst: 'F', usesRm: true, encode: opFp((arith[m] << 2) | fmt, null, null) };
  if (m === 'fsqrt') return { srcs: ['F'], dst: 'F', usesRm: true, encode: opFp((0x0b << 2) | fmt, 0, null) };
  const fixed3: Record<string, [number, number, Kind]> = {
    fsgnj: [0x04, 0, 'F'], fsgnjn: [0x04, 1, 'F'], fsgnjx: [0x04, 2, 'F'],
    fmin: [0x05, 0, 'F'], fmax: [0x05, 1, 'F'],
    feq: [0x14, 2, 'X'], flt: [0x14, 1, 'X'], fle: [0x14, 0, 'X'],
  };
  if (m in fixed3) {
    const [f5, f3, dst] = fixed3[m];
    return { srcs: ['F', 'F'], dst, usesRm: false, encode: opFp((f5 << 2) | fmt, null, f3) };
  }
  if (m === 'fclass') return { srcs: ['F'], dst: 'X', usesRm: false, encode: opFp((0x1c << 2) | fmt, 0, 1) };
  const fused: Record<string, number> = { fmadd: 0x43, fmsub: 0x47, fnmsub: 0x4b, fnmadd: 0x4f };
  if (m in fused) {
    return {
      srcs: ['F', 'F', 'F'],
      dst: 'F',
      usesRm: true,
      encode: (rd, rs1, rs2, rs3, rm) =>
        ((rs3 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12) | (rd << 7) | fused[m]) >>> 0,
    };
  }
  if (m === 'fmv') {
    const toX = parts[1] === 'x';
    const f7 = (toX ? 0x70 : 0x78) | (last === 'd' || parts[1] === 'd' ? 1 : 0);
    return { srcs: [toX ? 'F' : 'X'], dst: toX ? 'X' : 'F', usesRm: false, encode: opFp(f7, 0, 0) };
  }
  if (m === 'fcvt') {
    const [, to, from] = parts;
    if (to in FMT && from in FMT) {
      return { srcs: ['F'], dst: 'F', usesRm: true, encode: opFp(0x20 | FMT[to], FMT[from], null) };
    }
    if (to in INT) return { srcs: ['F'], dst: 'X', usesRm: true, encode: opFp((0x18 << 2) | FMT[from], INT[to], null) };
    return { srcs: ['X'], dst: 'F', usesRm: true, encode: opFp((0x1a << 2) | FMT[to], INT[from], null) };
  }
  throw new Error(`unknown op ${name}`);
}

export const FCSR = slotIndex(Slot.Fcsr);

export function fflags(s: HartState): number {
  return s.w[FCSR];
}

/** Boxes a single's bits as it sits in an f register. */
export function box(bits: number): bigint {
  return 0xffffffff00000000n | BigInt(bits >>> 0);
}

export function f64bits(v: number): bigint {
  const b = new Float64Array([v]);
  return new BigUint64Array(b.buffer)[0];
}

export function f32bits(v: number): number {
  const b = new Float32Array([v]);
  return new Uint32Array(b.buffer)[0];
}

export interface RunResult {
  ok: boolean;
  /** Destination register contents (64 bits, unsigned). */
  value: bigint;
  flags: number;
}

export type Executor = (s: HartState, insn: number) => boolean;

/**
 * Runs one op on a fresh hart: sources in f1/x11, f2/x12, f3/x13, result in f10/x10.
 * With dyn, the instruction says DYN and frm holds rm; otherwise rm is static and frm is
 * left holding a reserved value to prove it is not consulted.
 */
export function run(exec: Executor, name: string, rm: number, ops: readonly bigint[], dyn = false): RunResult {
  const info = opInfo(name);
  const s = new HartState();
  info.srcs.forEach((k, i) => (k === 'F' ? s.setF(i + 1, ops[i]) : s.setX(i + 11, ops[i])));
  s.w[FCSR + 1] = dyn ? rm : 5;
  const rd = 10;
  const insn = info.encode(rd, info.srcs[0] === 'F' ? 1 : 11, 2, 3, info.usesRm && dyn ? 7 : rm);
  const ok = exec(s, insn);
  const value = BigInt.asUintN(64, info.dst === 'F' ? s.getF(rd) : s.getX(rd));
  return { ok, value, flags: fflags(s) };
}
