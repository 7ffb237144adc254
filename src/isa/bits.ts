// Bit-field helpers shared by the encoder, decoder and RVC expander.
// Instruction words are handled as uint32 numbers (>>> 0) throughout.

export function sext(value: number, bits: number): number {
  const shift = 32 - bits;
  return (value << shift) >> shift;
}

export function field(word: number, lo: number, width: number): number {
  return (word >>> lo) & ((1 << width) - 1);
}

/**
 * An immediate scattered over instruction bits: each chunk is
 * [instruction high bit, instruction low bit, value low bit].
 */
export type Chunk = readonly [number, number, number];

export function gather(word: number, chunks: readonly Chunk[]): number {
  let v = 0;
  for (const [hi, lo, vlo] of chunks) v |= field(word, lo, hi - lo + 1) << vlo;
  return v;
}

export function scatter(value: number, chunks: readonly Chunk[]): number {
  let w = 0;
  for (const [hi, lo, vlo] of chunks) {
    const width = hi - lo + 1;
    w |= ((value >>> vlo) & ((1 << width) - 1)) << lo;
  }
  return w >>> 0;
}

// Immediate layouts of the base 32-bit formats.
export const IMM_I: readonly Chunk[] = [[31, 20, 0]];
export const IMM_S: readonly Chunk[] = [[31, 25, 5], [11, 7, 0]];
export const IMM_B: readonly Chunk[] = [[31, 31, 12], [30, 25, 5], [11, 8, 1], [7, 7, 11]];
export const IMM_J: readonly Chunk[] = [[31, 31, 20], [30, 21, 1], [20, 20, 11], [19, 12, 12]];

export const immI = (w: number): number => sext(gather(w, IMM_I), 12);
export const immS = (w: number): number => sext(gather(w, IMM_S), 12);
export const immB = (w: number): number => sext(gather(w, IMM_B), 13);
export const immJ = (w: number): number => sext(gather(w, IMM_J), 21);

export function encR(op: number, f3: number, f7: number, rd: number, rs1: number, rs2: number): number {
  return ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}

export function encI(op: number, f3: number, rd: number, rs1: number, imm: number): number {
  return (scatter(imm, IMM_I) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}

export function encS(op: number, f3: number, rs1: number, rs2: number, imm: number): number {
  return (scatter(imm, IMM_S) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | op) >>> 0;
}

export function encB(f3: number, rs1: number, rs2: number, off: number): number {
  return (scatter(off, IMM_B) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | 0x63) >>> 0;
}

export function encU(op: number, rd: number, imm20: number): number {
  return (((imm20 & 0xfffff) << 12) | (rd << 7) | op) >>> 0;
}

export function encJ(rd: number, off: number): number {
  return (scatter(off, IMM_J) | (rd << 7) | 0x6f) >>> 0;
}
