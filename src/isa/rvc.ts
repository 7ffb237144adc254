// RVC (compressed) instructions for RV64GC: one table drives expansion to
// 32-bit words, the disassembler and the assembler's explicit c.* mnemonics.
//
// Operand tokens in `args`:
//   X / Y   x register at bits 11:7 / 6:2     x / y  x' register at 4:2 / 9:7
//   F / G   f register at bits 11:7 / 6:2     f      f' register at 4:2
//   sp      the literal stack pointer
//   NAME or NAME(reg)  an immediate (CIMM below), optionally as a memory offset

import { Chunk, encB, encI, encJ, encR, encS, encU, field, gather, sext } from './bits.js';

export interface CImm {
  chunks: readonly Chunk[];
  /** Width of the assembled value before sign extension (0 = unsigned). */
  signedBits: number;
  print: 'dec' | 'hex' | 'lui' | 'target';
}

const CI6: Chunk[] = [[12, 12, 5], [6, 2, 0]];

export const CIMM: Readonly<Record<string, CImm>> = {
  i6: { chunks: CI6, signedBits: 6, print: 'dec' },
  u6: { chunks: CI6, signedBits: 0, print: 'hex' },
  lui: { chunks: CI6, signedBits: 6, print: 'lui' },
  spn: { chunks: [[12, 11, 4], [10, 7, 6], [6, 6, 2], [5, 5, 3]], signedBits: 0, print: 'dec' },
  a16: { chunks: [[12, 12, 9], [6, 6, 4], [5, 5, 6], [4, 3, 7], [2, 2, 5]], signedBits: 10, print: 'dec' },
  lw: { chunks: [[12, 10, 3], [6, 6, 2], [5, 5, 6]], signedBits: 0, print: 'dec' },
  ld: { chunks: [[12, 10, 3], [6, 5, 6]], signedBits: 0, print: 'dec' },
  lwsp: { chunks: [[12, 12, 5], [6, 4, 2], [3, 2, 6]], signedBits: 0, print: 'dec' },
  ldsp: { chunks: [[12, 12, 5], [6, 5, 3], [4, 2, 6]], signedBits: 0, print: 'dec' },
  swsp: { chunks: [[12, 9, 2], [8, 7, 6]], signedBits: 0, print: 'dec' },
  sdsp: { chunks: [[12, 10, 3], [9, 7, 6]], signedBits: 0, print: 'dec' },
  cj: { chunks: [[12, 12, 11], [11, 11, 4], [10, 9, 8], [8, 8, 10], [7, 7, 6], [6, 6, 7], [5, 3, 1], [2, 2, 5]], signedBits: 12, print: 'target' },
  cb: { chunks: [[12, 12, 8], [11, 10, 3], [6, 5, 6], [4, 3, 1], [2, 2, 5]], signedBits: 9, print: 'target' },
};

export interface CReg {
  lo: number;
  prime: boolean;
  float: boolean;
}

export const CREG: Readonly<Record<string, CReg>> = {
  X: { lo: 7, prime: false, float: false },
  Y: { lo: 2, prime: false, float: false },
  x: { lo: 2, prime: true, float: false },
  y: { lo: 7, prime: true, float: false },
  F: { lo: 7, prime: false, float: true },
  G: { lo: 2, prime: false, float: true },
  f: { lo: 2, prime: true, float: true },
};

export function cRegValue(p: number, r: CReg): number {
  return r.prime ? 8 + field(p, r.lo, 3) : field(p, r.lo, 5);
}

export function cImmValue(p: number, imm: CImm): number {
  const v = gather(p, imm.chunks);
  return imm.signedBits ? sext(v, imm.signedBits) : v;
}

export interface CDef {
  name: string;
  match: number;
  mask: number;
  args: string[];
  /** Spec legality for RV64GC (hints are legal). */
  legal: (p: number) => boolean;
  /** objdump prints some reserved parcels anyway; the disassembler follows it. */
  shown?: (p: number) => boolean;
  expand: (p: number) => number;
}

// Field shorthands used by the expansions below.
const rdFull = (p: number): number => field(p, 7, 5);
const rs2Full = (p: number): number => field(p, 2, 5);
const rdP = (p: number): number => 8 + field(p, 2, 3);
const rs1P = (p: number): number => 8 + field(p, 7, 3);
const imm = (p: number, name: string): number => cImmValue(p, CIMM[name]);
const always = (): boolean => true;

const defs: CDef[] = [];
function def(name: string, match: number, mask: number, args: string, legal: (p: number) => boolean,
  expand: (p: number) => number, shown?: (p: number) => boolean): void {
  defs.push({ name, match, mask, args: args ? args.split(',') : [], legal, expand, shown });
}

// Quadrant 0
def('c.unimp', 0x0000, 0xffff, '', () => false, () => 0, always);
def('c.addi4spn', 0x0000, 0xe003, 'x,sp,spn', (p) => imm(p, 'spn') !== 0,
  (p) => encI(0x13, 0, rdP(p), 2, imm(p, 'spn')));
def('c.fld', 0x2000, 0xe003, 'f,ld(y)', always, (p) => encI(0x07, 3, rdP(p), rs1P(p), imm(p, 'ld')));
def('c.lw', 0x4000, 0xe003, 'x,lw(y)', always, (p) => encI(0x03, 2, rdP(p), rs1P(p), imm(p, 'lw')));
def('c.ld', 0x6000, 0xe003, 'x,ld(y)', always, (p) => encI(0x03, 3, rdP(p), rs1P(p), imm(p, 'ld')));
def('c.fsd', 0xa000, 0xe003, 'f,ld(y)', always, (p) => encS(0x27, 3, rs1P(p), rdP(p), imm(p, 'ld')));
def('c.sw', 0xc000, 0xe003, 'x,lw(y)', always, (p) => encS(0x23, 2, rs1P(p), rdP(p), imm(p, 'lw')));
def('c.sd', 0xe000, 0xe003, 'x,ld(y)', always, (p) => encS(0x23, 3, rs1P(p), rdP(p), imm(p, 'ld')));

// Quadrant 1
def('c.addi', 0x0001, 0xe003, 'X,i6', always, (p) => encI(0x13, 0, rdFull(p), rdFull(p), imm(p, 'i6')));
// Assembler-only spelling of c.addi zero, 0; decoding finds c.addi first, as objdump does.
def('c.nop', 0x0001, 0xffff, '', always, () => encI(0x13, 0, 0, 0, 0));
def('c.addiw', 0x2001, 0xe003, 'X,i6', (p) => rdFull(p) !== 0,
  (p) => encI(0x1b, 0, rdFull(p), rdFull(p), imm(p, 'i6')));
def('c.li', 0x4001, 0xe003, 'X,i6', always, (p) => encI(0x13, 0, rdFull(p), 0, imm(p, 'i6')));
def('c.addi16sp', 0x6101, 0xef83, 'sp,a16', (p) => imm(p, 'a16') !== 0,
  (p) => encI(0x13, 0, 2, 2, imm(p, 'a16')), always);
def('c.lui', 0x6001, 0xe003, 'X,lui', (p) => rdFull(p) !== 2 && imm(p, 'lui') !== 0,
  (p) => encU(0x37, rdFull(p), imm(p, 'lui')));
def('c.srli64', 0x8001, 0xfc7f, 'y', always, (p) => encI(0x13, 5, rs1P(p), rs1P(p), 0));
def('c.srai64', 0x8401, 0xfc7f, 'y', always, (p) => encI(0x13, 5, rs1P(p), rs1P(p), 0x400));
def('c.srli', 0x8001, 0xec03, 'y,u6', always, (p) => encI(0x13, 5, rs1P(p), rs1P(p), imm(p, 'u6')));
def('c.srai', 0x8401, 0xec03, 'y,u6', always,
  (p) => encI(0x13, 5, rs1P(p), rs1P(p), 0x400 | imm(p, 'u6')));
def('c.andi', 0x8801, 0xec03, 'y,i6', always, (p) => encI(0x13, 7, rs1P(p), rs1P(p), imm(p, 'i6')));
const CA: [string, number, number, number, number][] = [
  // name, bit 12 + bits 6:5 selector, opcode, funct3, funct7
  ['c.sub', 0x8c01, 0x33, 0, 0x20], ['c.xor', 0x8c21, 0x33, 4, 0], ['c.or', 0x8c41, 0x33, 6, 0],
  ['c.and', 0x8c61, 0x33, 7, 0], ['c.subw', 0x9c01, 0x3b, 0, 0x20], ['c.addw', 0x9c21, 0x3b, 0, 0],
];
for (const [name, match, op, f3, f7] of CA) {
  def(name, match, 0xfc63, 'y,x', always, (p) => encR(op, f3, f7, rs1P(p), rs1P(p), rdP(p)));
}
def('c.j', 0xa001, 0xe003, 'cj', always, (p) => encJ(0, imm(p, 'cj')));
def('c.beqz', 0xc001, 0xe003, 'y,cb', always, (p) => encB(0, rs1P(p), 0, imm(p, 'cb')));
def('c.bnez', 0xe001, 0xe003, 'y,cb', always, (p) => encB(1, rs1P(p), 0, imm(p, 'cb')));

// Quadrant 2
def('c.slli64', 0x0002, 0xf07f, 'X', always, (p) => encI(0x13, 1, rdFull(p), rdFull(p), 0));
def('c.slli', 0x0002, 0xe003, 'X,u6', always, (p) => encI(0x13, 1, rdFull(p), rdFull(p), imm(p, 'u6')));
def('c.fldsp', 0x2002, 0xe003, 'F,ldsp(sp)', always, (p) => encI(0x07, 3, rdFull(p), 2, imm(p, 'ldsp')));
def('c.lwsp', 0x4002, 0xe003, 'X,lwsp(sp)', (p) => rdFull(p) !== 0,
  (p) => encI(0x03, 2, rdFull(p), 2, imm(p, 'lwsp')));
def('c.ldsp', 0x6002, 0xe003, 'X,ldsp(sp)', (p) => rdFull(p) !== 0,
  (p) => encI(0x03, 3, rdFull(p), 2, imm(p, 'ldsp')));
def('c.jr', 0x8002, 0xf07f, 'X', (p) => rdFull(p) !== 0, (p) => encI(0x67, 0, 0, rdFull(p), 0));
def('c.mv', 0x8002, 0xf003, 'X,Y', (p) => rs2Full(p) !== 0, (p) => encR(0x33, 0, 0, rdFull(p), 0, rs2Full(p)));
def('c.ebreak', 0x9002, 0xffff, '', always, () => 0x00100073);
def('c.jalr', 0x9002, 0xf07f, 'X', (p) => rdFull(p) !== 0, (p) => encI(0x67, 0, 1, rdFull(p), 0));
def('c.add', 0x9002, 0xf003, 'X,Y', (p) => rs2Full(p) !== 0,
  (p) => encR(0x33, 0, 0, rdFull(p), rdFull(p), rs2Full(p)));
def('c.fsdsp', 0xa002, 0xe003, 'G,sdsp(sp)', always, (p) => encS(0x27, 3, 2, rs2Full(p), imm(p, 'sdsp')));
def('c.swsp', 0xc002, 0xe003, 'Y,swsp(sp)', always, (p) => encS(0x23, 2, 2, rs2Full(p), imm(p, 'swsp')));
def('c.sdsp', 0xe002, 0xe003, 'Y,sdsp(sp)', always, (p) => encS(0x23, 3, 2, rs2Full(p), imm(p, 'sdsp')));

/** Table order matters: more specific encodings come before the general ones. */
export const C_OPCODES: readonly CDef[] = defs;

export const C_OPCODE_BY_NAME: ReadonlyMap<string, CDef> = new Map(defs.map((d) => [d.name, d]));

/** The entry objdump would print for a parcel (reserved ones included), if any. */
export function findCompressed(parcel: number): CDef | undefined {
  const p = parcel & 0xffff;
  for (const d of defs) {
    if ((p & d.mask) === d.match && (d.shown ?? d.legal)(p)) return d;
  }
  return undefined;
}

/**
 * Expands a 16-bit RVC parcel to its 32-bit equivalent, or returns 0 when the
 * parcel is illegal or reserved on RV64GC. Hints expand to harmless no-ops.
 */
export function expandCompressed(parcel: number): number {
  const p = parcel & 0xffff;
  if ((p & 3) === 3) return 0;
  for (const d of defs) {
    if ((p & d.mask) === d.match && d.legal(p)) return d.expand(p) | 0;
  }
  return 0;
}

/** expandCompressed for every 16-bit parcel, indexed by the parcel. */
export function buildRvcTable(): Int32Array {
  const table = new Int32Array(65536);
  for (let p = 0; p < 65536; p++) table[p] = expandCompressed(p);
  return table;
}
