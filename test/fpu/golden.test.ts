// Replays the golden vectors recorded from qemu-riscv64 (scripts/gen-fpu-fixtures.sh):
// every record must reproduce the exact result bits and fflags, through both the static
// and the dynamic rounding-mode encodings, and through the reference path as well.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { executeFp, executeFpReference } from '../../src/cpu/fpu/index.js';
import { type Executor, run } from './encode.js';

interface Golden {
  op: string;
  rm: number;
  flags: number;
  operands: bigint[];
  result: bigint;
}

function load(): Golden[] {
  const raw = gunzipSync(readFileSync(new URL('../../../test/fixtures/fpu/golden.bin.gz', import.meta.url)));
  const nl1 = raw.indexOf(10);
  const nl2 = raw.indexOf(10, nl1 + 1);
  assert.equal(raw.subarray(0, nl1).toString(), 'RVFPU1');
  const names = raw.subarray(nl1 + 1, nl2).toString().split(',');
  const out: Golden[] = [];
  for (let o = nl2 + 1; o < raw.length; o += 35) {
    out.push({
      op: names[raw[o]],
      rm: raw[o + 1],
      flags: raw[o + 2],
      operands: [raw.readBigUInt64LE(o + 3), raw.readBigUInt64LE(o + 11), raw.readBigUInt64LE(o + 19)],
      result: raw.readBigUInt64LE(o + 27),
    });
  }
  return out;
}

const hex = (v: bigint) => '0x' + v.toString(16).padStart(16, '0');

function check(exec: Executor, records: Golden[]): void {
  const failures: string[] = [];
  records.forEach((g, i) => {
    const r = run(exec, g.op, g.rm, g.operands, i % 2 === 1);
    if (!r.ok || r.value !== g.result || r.flags !== g.flags) {
      failures.push(
        `${g.op} rm=${g.rm} ${g.operands.map(hex).join(' ')}: got ${r.ok ? hex(r.value) : 'illegal'}/${r.flags.toString(2)}, want ${hex(g.result)}/${g.flags.toString(2)}`,
      );
    }
  });
  assert.equal(failures.length, 0, `${failures.length} mismatches, first ones:\n${failures.slice(0, 20).join('\n')}`);
}

const records = load();

test('golden fixture covers every op and rounding mode', () => {
  assert.ok(records.length > 40000);
  const ops = new Set(records.map((g) => g.op));
  assert.equal(ops.size, 58);
  for (const rm of [0, 1, 2, 3, 4]) assert.ok(records.some((g) => g.op === 'fmadd.d' && g.rm === rm));
});

test('executeFp matches qemu on every golden record', () => check(executeFp, records));

test('the reference path matches qemu on every golden record', () => check(executeFpReference, records));
