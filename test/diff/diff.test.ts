// Differential test: random RV64GC + Zba/Zbb/Zbs sequences must leave exactly the same
// registers, fcsr and memory under rvisor as under qemu-riscv64 (user mode), with the
// interpreter and with the translator.
// Needs Debian's qemu-user; CI installs it, elsewhere the test is skipped with a note.
// More seeds and counts: npm run fuzz:diff -- --seed S --count N

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jitOf, runJit } from '../../src/jit/index.js';
import { Exec, QEMU, formatDivergence, qemuAvailable, runSeed } from './runner.js';

/** 8 x 2,500 = 20,000 sequences; about 20 s on a 2-core machine. */
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const PER_SEED = 2500;
const REPORTS = 3;

const missing = !qemuAvailable();
if (missing && process.env.CI) {
  test('qemu-riscv64 is installed (required in CI)', () => {
    assert.fail(`${QEMU} not found: install qemu-user, or set QEMU_RISCV64`);
  });
}

/** The translator, translating every block on first sight. */
const translator: Exec = (h, budget) => {
  jitOf(h.mem).threshold = 1;
  return runJit(h, budget);
};

for (const [name, exec] of [['interpreter', undefined], ['translator', translator]] as const) for (const seed of SEEDS) {
  const skip = missing && !process.env.CI ? `${QEMU} not found; install qemu-user to run the differential test` : false;
  test(`rvisor (${name}) matches qemu-riscv64: seed ${seed}, ${PER_SEED} sequences`, { skip, timeout: 120_000 }, async () => {
    if (missing) return;
    const divergences = await runSeed(seed, PER_SEED, 500, undefined, undefined, exec);
    if (divergences.length > 0) {
      const shown = divergences.slice(0, REPORTS).map(formatDivergence).join('\n\n');
      const more = divergences.length > REPORTS ? `\n\n... and ${divergences.length - REPORTS} more` : '';
      assert.fail(`${divergences.length} of ${PER_SEED} sequences diverged (seed ${seed}); reproduce with ` +
        `npm run fuzz:diff -- --seed ${seed} --count ${PER_SEED} --minimize\n\n${shown}${more}`);
    }
  });
}
