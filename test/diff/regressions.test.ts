// Replays the divergences the differential test found, without QEMU: each fixture holds
// the whole program that was run, and the final state QEMU (or, where QEMU itself is
// wrong, the specification) says it must produce. Fixtures are written by
// `npm run fuzz:diff -- --seed S --count N --save test/fixtures/diff/regressions`.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import { runUserElf } from '../support/user-mode.js';
import { FNAMES, SCRATCH_SIZE, XNAMES } from './gen.js';
import { hex64, parseRecord, splitRecords } from './program.js';
import type { Fixture } from './shrink.js';

const DIR = new URL('../../../test/fixtures/diff/regressions/', import.meta.url);

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('regression fixtures exist', () => {
  assert.ok(files.length > 0, `no fixtures in ${DIR.pathname}`);
});

for (const file of files) {
  const fx = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Fixture;
  test(`regression ${fx.name}: ${fx.description}`, () => {
    const res = runUserElf(writeElf(assemble(fx.program)), { maxInstructions: 100_000 });
    assert.equal(res.fault, undefined, res.fault?.message);
    assert.equal(res.exitCode, 0);
    const recs = splitRecords(res.stdout);
    assert.equal(recs.length, 1, 'one sequence, one record');
    const got = parseRecord(recs[0]);

    // Collect every mismatch so one failure shows the whole picture.
    const bad: string[] = [];
    const check = (what: string, want: string, have: bigint) => {
      if (BigInt(want) !== have) bad.push(`${what}: expected ${hex64(BigInt(want))}, rvisor ${hex64(have)}`);
    };
    XNAMES.forEach((n, i) => { if (fx.expected.x[n] !== undefined) check(n, fx.expected.x[n], got.x[i]); });
    FNAMES.forEach((n, i) => { if (fx.expected.f[n] !== undefined) check(n, fx.expected.f[n], got.f[i]); });
    check('fcsr', fx.expected.fcsr, got.fcsr);
    const before = fx.expected.scratchBefore === undefined ? new Uint8Array(SCRATCH_SIZE) : new Uint8Array(Buffer.from(fx.expected.scratchBefore, 'base64'));
    const want = new DataView(before.buffer.slice(before.byteOffset, before.byteOffset + SCRATCH_SIZE));
    for (const [off, v] of Object.entries(fx.expected.memory)) want.setBigUint64(Number(off), BigInt(v), true);
    const have = new DataView(got.scratch.buffer, got.scratch.byteOffset, SCRATCH_SIZE);
    for (let o = 0; o < SCRATCH_SIZE; o += 8) {
      if (want.getBigUint64(o, true) !== have.getBigUint64(o, true)) {
        bad.push(`mem[scratch+0x${o.toString(16)}]: expected ${hex64(want.getBigUint64(o, true))}, rvisor ${hex64(have.getBigUint64(o, true))}`);
      }
    }
    assert.deepEqual(bad, [], `\n${fx.body.join('\n')}\n${bad.join('\n')}`);
  });
}
