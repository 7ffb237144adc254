// Runs generated programs under qemu-riscv64 (user mode) and under rvisor's user-mode
// harness, and compares the records sequence by sequence.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import type { Hart } from '../../src/cpu/hart.js';
import { runUserElf } from '../support/user-mode.js';
import { Rng, SCRATCH_SIZE, Sequence, generateSequence, renderBody } from './gen.js';
import {
  Difference, RECORD_SIZE, buildProgram, compareOutcomes, describeState, hex64, parseRecord, splitRecords,
} from './program.js';

export const QEMU = process.env.QEMU_RISCV64 ?? '/usr/bin/qemu-riscv64';
/** Debian's QEMU 7.2 enables Zba/Zbb/Zbs by default; spelled out so a newer default cannot drop them. */
const QEMU_ARGS = ['-cpu', 'rv64,zba=true,zbb=true,zbs=true'];
/** Blocks per sequence. */
export const SEQ_LENGTH = 24;

export function qemuAvailable(): boolean {
  return existsSync(QEMU);
}

export interface Batch {
  seed: number;
  /** Index of the first sequence in the seed's stream (for reports). */
  first: number;
  seqs: Sequence[];
  scratch: Uint8Array;
  source: string;
  elf: Uint8Array;
  scratchAddr: bigint;
}

export interface Divergence {
  seed: number;
  index: number;
  seq: Sequence;
  /** Scratch contents the sequence started from (QEMU's view). */
  scratchBefore: Uint8Array;
  differences: Difference[];
  /** Set when rvisor stopped early (a fault, or fewer records than QEMU). */
  note?: string;
}

/** Generates and assembles `count` sequences of a seed. Everything is a function of the seed. */
export function makeBatch(seed: number, count: number, length = SEQ_LENGTH): Batch {
  const r = new Rng(seed);
  const scratch = new Uint8Array(SCRATCH_SIZE);
  for (let i = 0; i < SCRATCH_SIZE; i += 4) new DataView(scratch.buffer).setUint32(i, r.u32(), true);
  const seqs: Sequence[] = [];
  for (let i = 0; i < count; i++) seqs.push(generateSequence(r, i, length));
  return fromSequences(seed, 0, seqs, scratch);
}

export function fromSequences(seed: number, first: number, seqs: Sequence[], scratch: Uint8Array): Batch {
  const source = buildProgram(seqs, scratch);
  const asm = assemble(source);
  const scratchAddr = asm.symbols.get('scratch');
  if (scratchAddr === undefined) throw new Error('the program has no scratch label');
  return { seed, first, seqs, scratch, source, elf: writeElf(asm), scratchAddr };
}

/** Runs an ELF under QEMU and returns its stdout; rejects unless it exits with status 0. */
export function runQemu(elf: Uint8Array): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-diff-'));
  const file = join(dir, 'prog.elf');
  writeFileSync(file, elf, { mode: 0o755 });
  return new Promise((resolve, reject) => {
    execFile(QEMU, [...QEMU_ARGS, file], { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err) reject(new Error(`qemu-riscv64 failed: ${err.message}\n${stderr.toString()}`));
      else resolve(new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.byteLength));
    });
  });
}

export interface RvisorRun {
  records: Uint8Array[];
  /** Why the run stopped early, if it did. */
  problem?: string;
}

/** How rvisor runs the hart: the interpreter (default) or the translator. */
export type Exec = (h: Hart, budget: number) => number;

/** Runs the batch under rvisor. When QEMU's records are given, the scratch area is reset
 *  to QEMU's after every sequence, so one memory divergence does not spill into the rest. */
export function runRvisor(batch: Batch, expected?: Uint8Array[], exec?: Exec): RvisorRun {
  const scratchAddr = Number(batch.scratchAddr);
  let k = 0;
  const res = runUserElf(batch.elf, {
    exec,
    maxInstructions: batch.seqs.reduce((n, s) => n + 400 + 40 * s.blocks.length, 10_000),
    onWrite: (_bytes, h) => {
      const e = expected?.[k++];
      if (e) h.mem.write(scratchAddr, e.subarray(0, SCRATCH_SIZE));
    },
  });
  const records = splitRecords(res.stdout);
  let problem: string | undefined;
  if (res.fault) problem = `rvisor trapped: ${res.fault.message}`;
  else if (res.limitReached) problem = 'rvisor hit the instruction limit';
  else if (res.exitCode !== 0) problem = `rvisor exited with ${res.exitCode}`;
  else if (res.stdout.length !== records.length * RECORD_SIZE) problem = 'rvisor printed a partial record';
  return { records, problem };
}

/** Compares QEMU's output with rvisor's for one batch. */
export function compareBatch(batch: Batch, qemuOut: Uint8Array, exec?: Exec): Divergence[] {
  const exp = splitRecords(qemuOut);
  if (exp.length !== batch.seqs.length) throw new Error(`QEMU printed ${exp.length} records for ${batch.seqs.length} sequences`);
  const run = runRvisor(batch, exp, exec);
  const out: Divergence[] = [];
  for (let i = 0; i < exp.length; i++) {
    const seq = batch.seqs[i];
    const scratchBefore = i === 0 ? batch.scratch : exp[i - 1].subarray(0, SCRATCH_SIZE);
    const index = batch.first + seq.index;
    if (i >= run.records.length) {
      out.push({ seed: batch.seed, index, seq, scratchBefore, differences: [], note: run.problem ?? 'rvisor stopped early' });
      break;
    }
    if (Buffer.compare(exp[i], run.records[i]) === 0) continue;
    const differences = compareOutcomes(parseRecord(exp[i]), parseRecord(run.records[i]));
    if (differences.length > 0) out.push({ seed: batch.seed, index, seq, scratchBefore, differences });
  }
  return out;
}

/** Runs `count` sequences of `seed` in batches, overlapping QEMU with rvisor. */
export async function runSeed(seed: number, count: number, batchSize = 500,
  onBatch?: (done: number) => void, length = SEQ_LENGTH, exec?: Exec): Promise<Divergence[]> {
  const sizes: number[] = [];
  for (let left = count; left > 0; left -= batchSize) sizes.push(Math.min(batchSize, left));
  // Each batch has its own generator seed derived from (seed, batch number).
  const batchSeed = (k: number): number => (k === 0 ? seed : (Math.imul(seed, 0x9e3779b1) + k * 0x7f4a7c15) >>> 0);
  const prepare = (k: number) => {
    const batch = makeBatch(batchSeed(k), sizes[k], length);
    return { batch, qemu: runQemu(batch.elf) };
  };
  const all: Divergence[] = [];
  let next = sizes.length > 0 ? prepare(0) : undefined;
  for (let k = 0; next; k++) {
    const cur = next;
    next = k + 1 < sizes.length ? prepare(k + 1) : undefined;
    all.push(...compareBatch(cur.batch, await cur.qemu, exec));
    onBatch?.(sizes[k]);
  }
  return all;
}

/** A report a human can act on: the sequence, where it started, and what differed. */
export function formatDivergence(d: Divergence): string {
  const lines = [`=== divergence: seed ${d.seed}, sequence ${d.index} ===`];
  if (d.note) lines.push(`note: ${d.note}`);
  lines.push('--- sequence ---', ...bodyText(d.seq));
  lines.push('--- initial state ---', describeState(d.seq.init));
  if (d.differences.length > 0) {
    lines.push('--- differences (QEMU vs rvisor) ---');
    for (const x of d.differences) lines.push(`${x.what.padEnd(22)} qemu ${hex64(x.expected)}  rvisor ${hex64(x.actual)}`);
  }
  return lines.join('\n');
}

export function bodyText(seq: Sequence): string[] {
  return renderBody(seq.blocks, `L${seq.index}`);
}
