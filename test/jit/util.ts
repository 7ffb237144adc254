// Helpers for the translator tests.

import { Batch, bodyText } from '../diff/runner.js';
import { compareOutcomes as cmp, hex64, parseRecord, splitRecords } from '../diff/program.js';

export interface RecordDiff {
  index: number;
  lines: string[];
}

/** Differences between two runs' record streams, sequence by sequence. */
export function compareOutcomes(want: Uint8Array, have: Uint8Array): RecordDiff[] {
  const a = splitRecords(want), b = splitRecords(have);
  const out: RecordDiff[] = [];
  if (a.length !== b.length) out.push({ index: -1, lines: [`${a.length} records from the interpreter, ${b.length} from the translator`] });
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = cmp(parseRecord(a[i]), parseRecord(b[i]));
    if (d.length > 0) out.push({ index: i, lines: d.map((x) => `${x.what}: interp ${hex64(x.expected)} jit ${hex64(x.actual)}`) });
  }
  return out;
}

export function formatOutcomeDiff(batch: Batch, diffs: RecordDiff[]): string {
  return diffs.slice(0, 3).map((d) => [
    `--- sequence ${d.index} ---`, ...(d.index >= 0 ? bodyText(batch.seqs[d.index]) : []), ...d.lines,
  ].join('\n')).join('\n\n');
}
