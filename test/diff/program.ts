// The test program around the generated sequences, and the records it prints.
//
// Memory (.data, page aligned at P):
//   P + 0        2 KiB of padding, so that the scratch area straddles a page boundary
//   scratch      P + 2048, 4 KiB; s0 = scratch + 2048 = P + 4096 (the page boundary)
//   record       scratch + 4096, 512 bytes: x1..x31, f0..f31, fcsr (8 bytes each)
//   init_<i>     one 512-byte table per sequence, laid out like the record
//
// Each sequence: point t6 at its table and call load_state, which loads fcsr, f0..f31
// and every x register except ra and t6, and sets s0/sp; ra and t6 (the table pointer)
// are then loaded inline. After the body, s0 is moved to the record, ra is stored, and
// store_state stores the rest (the x8 slot therefore holds the record address) and calls
// write(1, scratch, 4096 + 512). The scratch area is not reset between sequences:
// sequence i starts from what i-1 left.

import { FNAMES, RESERVED, S0_OFFSET, SCRATCH_SIZE, SP_OFFSET, SeqState, Sequence, XNAMES, renderBody } from './gen.js';

export const REGS_SIZE = 512;
export const RECORD_SIZE = SCRATCH_SIZE + REGS_SIZE;
const FCSR_OFFSET = 504;

const xSlot = (i: number): number => 8 * (i - 1);
const fSlot = (i: number): number => 248 + 8 * i;

/** Assembly for a whole program: the sequences in order, then exit(0). */
export function buildProgram(seqs: Sequence[], scratch: Uint8Array): string {
  const text: string[] = ['.text', '.globl _start', '_start:'];
  const data: string[] = ['.data', '.align 12', '.zero 2048', 'scratch:'];
  if (scratch.every((b) => b === 0)) data.push(`.zero ${SCRATCH_SIZE}`);
  else for (let o = 0; o < SCRATCH_SIZE; o += 64) data.push(dwords(Array.from({ length: 8 }, (_, k) => dword(scratch, o + 8 * k))));
  data.push('record:', `.zero ${REGS_SIZE}`);
  for (const seq of seqs) {
    text.push(`# sequence ${seq.index}`, `  la t6, init_${seq.index}`, '  jal ra, load_state', '  ld ra, 0(t6)', `  ld t6, ${xSlot(31)}(t6)`);
    text.push(...renderBody(seq.blocks, `L${seq.index}`));
    text.push('  addi s0, s0, 2047', `  addi s0, s0, ${SCRATCH_SIZE - S0_OFFSET - 2047}`, '  sd ra, 0(s0)', '  jal ra, store_state');
    data.push(`init_${seq.index}:`, ...stateTable(seq.init));
  }
  text.push('  li a7, 93', '  li a0, 0', '  ecall', ...loadState(), ...storeState());
  return [...text, ...data, ''].join('\n');
}

function loadState(): string[] {
  const out = ['load_state:', `  ld t0, ${FCSR_OFFSET}(t6)`, '  fscsr t0'];
  for (let i = 0; i < 32; i++) out.push(`  fld ${FNAMES[i]}, ${fSlot(i)}(t6)`);
  for (let i = 3; i < 31; i++) if (!RESERVED.includes(i)) out.push(`  ld ${XNAMES[i]}, ${xSlot(i)}(t6)`);
  out.push(`  la s0, scratch + ${S0_OFFSET}`, `  addi sp, s0, ${SP_OFFSET - S0_OFFSET}`, '  ret');
  return out;
}

function storeState(): string[] {
  const out = ['store_state:'];
  for (let i = 2; i < 32; i++) out.push(`  sd ${XNAMES[i]}, ${xSlot(i)}(s0)`);
  for (let i = 0; i < 32; i++) out.push(`  fsd ${FNAMES[i]}, ${fSlot(i)}(s0)`);
  out.push('  frcsr t0', `  sd t0, ${FCSR_OFFSET}(s0)`);
  out.push('  li a7, 64', '  li a0, 1', '  la a1, scratch', `  li a2, ${RECORD_SIZE}`, '  ecall', '  ret');
  return out;
}

function dwords(ws: bigint[]): string {
  return '.dword ' + ws.map((w) => '0x' + BigInt.asUintN(64, w).toString(16)).join(', ');
}

function stateTable(s: SeqState): string[] {
  const words = new Array<bigint>(64).fill(0n);
  for (let i = 1; i < 32; i++) words[xSlot(i) / 8] = s.x[i];
  for (let i = 0; i < 32; i++) words[fSlot(i) / 8] = s.f[i];
  words[FCSR_OFFSET / 8] = BigInt(s.fcsr);
  const out: string[] = [];
  for (let i = 0; i < 64; i += 8) out.push(dwords(words.slice(i, i + 8)));
  return out;
}

function dword(b: Uint8Array, o: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(o, true);
}

/** What one sequence left behind. */
export interface Outcome {
  scratch: Uint8Array;
  x: bigint[];
  f: bigint[];
  fcsr: bigint;
}

export function parseRecord(rec: Uint8Array): Outcome {
  if (rec.length !== RECORD_SIZE) throw new Error(`record of ${rec.length} bytes, expected ${RECORD_SIZE}`);
  const regs = rec.subarray(SCRATCH_SIZE);
  const x = [0n];
  for (let i = 1; i < 32; i++) x.push(dword(regs, xSlot(i)));
  const f: bigint[] = [];
  for (let i = 0; i < 32; i++) f.push(dword(regs, fSlot(i)));
  return { scratch: rec.subarray(0, SCRATCH_SIZE), x, f, fcsr: dword(regs, FCSR_OFFSET) };
}

/** Splits a program's output into records. */
export function splitRecords(out: Uint8Array): Uint8Array[] {
  const recs: Uint8Array[] = [];
  for (let o = 0; o + RECORD_SIZE <= out.length; o += RECORD_SIZE) recs.push(out.subarray(o, o + RECORD_SIZE));
  return recs;
}

export interface Difference {
  /** `x5 (t0)`, `f3 (ft3)`, `fcsr` or `mem[scratch+0x123]` */
  what: string;
  expected: bigint;
  actual: bigint;
}

/** Every field in which `actual` differs from `expected` (QEMU's). */
export function compareOutcomes(expected: Outcome, actual: Outcome): Difference[] {
  const d: Difference[] = [];
  for (let i = 1; i < 32; i++) {
    if (expected.x[i] !== actual.x[i]) d.push({ what: `x${i} (${XNAMES[i]})`, expected: expected.x[i], actual: actual.x[i] });
  }
  for (let i = 0; i < 32; i++) {
    if (expected.f[i] !== actual.f[i]) d.push({ what: `f${i} (${FNAMES[i]})`, expected: expected.f[i], actual: actual.f[i] });
  }
  if (expected.fcsr !== actual.fcsr) d.push({ what: 'fcsr', expected: expected.fcsr, actual: actual.fcsr });
  // Memory is compared in aligned dwords so a report shows whole values.
  for (let o = 0; o < SCRATCH_SIZE; o += 8) {
    const e = dword(expected.scratch, o), a = dword(actual.scratch, o);
    if (e !== a) d.push({ what: `mem[scratch+0x${o.toString(16)}]`, expected: e, actual: a });
  }
  return d;
}

export const hex64 = (v: bigint): string => '0x' + BigInt.asUintN(64, v).toString(16).padStart(16, '0');

/** Human-readable initial register state (the reserved registers are set by the
 *  prologue); zero registers are summarised, which keeps minimized reports short. */
export function describeState(s: SeqState): string {
  const items: string[] = [];
  let zeros = 0;
  XNAMES.forEach((n, i) => {
    if (i === 0 || RESERVED.includes(i)) return;
    if (s.x[i] === 0n) zeros++;
    else items.push(`${n.padStart(4)}=${hex64(s.x[i])}`);
  });
  FNAMES.forEach((n, i) => {
    if (s.f[i] === 0n) zeros++;
    else items.push(`${n.padStart(4)}=${hex64(s.f[i])}`);
  });
  const lines: string[] = [];
  for (let i = 0; i < items.length; i += 4) lines.push(items.slice(i, i + 4).join(' '));
  lines.push(`fcsr=0x${s.fcsr.toString(16)} (frm ${s.fcsr >> 5})${zeros > 0 ? `; the other ${zeros} registers are 0` : ''}`);
  return lines.join('\n');
}
