// Shrinking a divergence to a small reproducer, and turning it into a regression fixture
// that replays without QEMU (see regressions.test.ts for the format's consumer).

import { FNAMES, RESERVED, SCRATCH_SIZE, Sequence, XNAMES } from './gen.js';
import { Difference, compareOutcomes, hex64, parseRecord, splitRecords } from './program.js';
import { Divergence, bodyText, fromSequences, runQemu, runRvisor } from './runner.js';

/** Runs one sequence alone on both sides; the differences, or undefined if rvisor failed to finish. */
async function check(seed: number, index: number, seq: Sequence, scratch: Uint8Array): Promise<Difference[] | undefined> {
  const batch = fromSequences(seed, index - seq.index, [seq], scratch);
  const exp = splitRecords(await runQemu(batch.elf));
  const run = runRvisor(batch);
  if (run.records.length < 1) return undefined;
  return compareOutcomes(parseRecord(exp[0]), parseRecord(run.records[0]));
}

/** Greedily drops blocks and simplifies the initial state while the sequence still
 *  diverges in one of the fields it first diverged in (or still fails to finish). */
export async function minimize(d: Divergence): Promise<Divergence> {
  const fields = new Set(d.differences.map((x) => x.what));
  let seq: Sequence = { ...d.seq, init: { ...d.seq.init, x: [...d.seq.init.x], f: [...d.seq.init.f] } };
  let scratch = d.scratchBefore;
  let last: Difference[] | undefined = d.differences;
  const stillBad = async (s: Sequence, m: Uint8Array): Promise<boolean> => {
    const r = await check(d.seed, d.index, s, m);
    if (r === undefined) {
      if (d.note === undefined) return false;
      last = [];
      return true;
    }
    if (!r.some((x) => fields.has(x.what) || fields.size === 0)) return false;
    last = r;
    return true;
  };
  if (!(await stillBad(seq, scratch))) {
    // Alone it does not diverge (it depended on an earlier sequence): report it as found.
    return d;
  }
  for (let changed = true; changed;) {
    changed = false;
    for (let i = seq.blocks.length - 1; i >= 0; i--) {
      const blocks = seq.blocks.filter((_, k) => k !== i);
      const cand = { ...seq, blocks };
      if (await stillBad(cand, scratch)) { seq = cand; changed = true; }
    }
  }
  if (seq.init.fcsr !== 0 && (await stillBad({ ...seq, init: { ...seq.init, fcsr: 0 } }, scratch))) {
    seq = { ...seq, init: { ...seq.init, fcsr: 0 } };
  }
  const zero = new Uint8Array(SCRATCH_SIZE);
  if (await stillBad(seq, zero)) scratch = zero;
  for (let i = 1; i < 32; i++) {
    if (RESERVED.includes(i) || seq.init.x[i] === 0n) continue;
    const x = [...seq.init.x];
    x[i] = 0n;
    const cand = { ...seq, init: { ...seq.init, x } };
    if (await stillBad(cand, scratch)) seq = cand;
  }
  for (let i = 0; i < 32; i++) {
    if (seq.init.f[i] === 0n) continue;
    const f = [...seq.init.f];
    f[i] = 0n;
    const cand = { ...seq, init: { ...seq.init, f } };
    if (await stillBad(cand, scratch)) seq = cand;
  }
  // Run once more so the reported differences belong to the final candidate.
  await stillBad(seq, scratch);
  return { ...d, seq, scratchBefore: scratch, differences: last ?? [] };
}

/** A regression fixture: QEMU's results for the sequence run alone as a whole program. */
export interface Fixture {
  name: string;
  /** What the bug was, for humans. */
  description: string;
  /** The sequence body (also inside `program`). */
  body: string[];
  /** Initial registers (reserved ones are set by the prologue). */
  init: { x: Record<string, string>; f: Record<string, string>; fcsr: string };
  /** The complete program that was run (it embeds `init` and the scratch contents). */
  program: string;
  /** Where the expected values come from: 'qemu-riscv64 <version>' or 'spec' (hand-checked). */
  source: string;
  expected: {
    x: Record<string, string>;
    f: Record<string, string>;
    fcsr: string;
    /** Scratch dwords that differ from the initial contents, by offset (hex). */
    memory: Record<string, string>;
    /** Initial scratch contents, base64, or omitted when all zero. */
    scratchBefore?: string;
  };
  /** What rvisor produced when the fixture was recorded. */
  rvisorWas: Record<string, string>;
}

export async function toFixture(d: Divergence, name: string, description = ''): Promise<Fixture> {
  const batch = fromSequences(d.seed, d.index - d.seq.index, [d.seq], d.scratchBefore);
  const rec = parseRecord(splitRecords(await runQemu(batch.elf))[0]);
  const regs = (names: string[], vals: bigint[], skip: number[] = []): Record<string, string> =>
    Object.fromEntries(names.map((n, i) => [n, hex64(vals[i])]).filter((_, i) => !skip.includes(i) && (names !== XNAMES || i > 0)));
  const memory: Record<string, string> = {};
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let o = 0; o < SCRATCH_SIZE; o += 8) {
    const v = dv(rec.scratch).getBigUint64(o, true);
    if (v !== dv(d.scratchBefore).getBigUint64(o, true)) memory['0x' + o.toString(16)] = hex64(v);
  }
  const allZero = d.scratchBefore.every((b) => b === 0);
  if (description === '') description = `${d.differences.map((x) => x.what).join(', ') || 'the run'} differed from QEMU`;
  return {
    name,
    description,
    body: bodyText(d.seq),
    init: { x: regs(XNAMES, d.seq.init.x, RESERVED), f: regs(FNAMES, d.seq.init.f), fcsr: '0x' + d.seq.init.fcsr.toString(16) },
    program: batch.source,
    source: 'qemu-riscv64',
    expected: {
      x: regs(XNAMES, rec.x),
      f: regs(FNAMES, rec.f),
      fcsr: hex64(rec.fcsr),
      memory,
      ...(allZero ? {} : { scratchBefore: Buffer.from(d.scratchBefore).toString('base64') }),
    },
    rvisorWas: Object.fromEntries(d.differences.map((x) => [x.what, hex64(x.actual)])),
  };
}
