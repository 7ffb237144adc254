// The translator against the interpreter on the differential test's random sequences
// (RV64GC + Zba/Zbb/Zbs, loads and stores, branches): with translation on first sight,
// every sequence must leave the same registers, memory and instruction count. The
// regression fixtures (divergences once found against QEMU) replay through both too.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import type { Fixture } from '../diff/shrink.js';
import { execute } from '../../src/cpu/interp.js';
import { jitOf, runJit } from '../../src/jit/index.js';
import { features } from '../../src/jit/wasm.js';
import { makeBatch } from '../diff/runner.js';
import { loadUserElf, runUser } from '../support/user-mode.js';
import { compareOutcomes, formatOutcomeDiff } from './util.js';

for (const seed of [11, 12, 13]) {
  test(`translator matches the interpreter: seed ${seed}`, { timeout: 120_000 }, () => {
    const batch = makeBatch(seed, 250);
    const maxInstructions = 1_000_000;
    const ref = runUser(loadUserElf(batch.elf), { maxInstructions, exec: execute });
    const h = loadUserElf(batch.elf);
    const jit = jitOf(h.mem);
    jit.threshold = 1;
    const got = runUser(h, { maxInstructions, exec: runJit });
    assert.equal(ref.fault, undefined, ref.fault?.message);
    assert.equal(got.fault?.message, undefined);
    assert.equal(got.exitCode, ref.exitCode);
    assert.equal(got.instructions, ref.instructions);
    const bad = compareOutcomes(ref.stdout, got.stdout);
    assert.deepEqual(bad, [], formatOutcomeDiff(batch, bad));
    assert.ok(jit.counters.blocksTranslated > 500, `only ${jit.counters.blocksTranslated} blocks translated`);
  });
}

test('translator matches the interpreter where the engine has no tail calls (blocks chain through the page loop)', () => {
  const saved = features.tailCalls;
  features.tailCalls = false;
  try {
    const batch = makeBatch(15, 150);
    const ref = runUser(loadUserElf(batch.elf), { maxInstructions: 1_000_000, exec: execute });
    const h = loadUserElf(batch.elf);
    jitOf(h.mem).threshold = 1;
    const got = runUser(h, { maxInstructions: 1_000_000, exec: runJit });
    assert.equal(got.instructions, ref.instructions);
    assert.deepEqual(compareOutcomes(ref.stdout, got.stdout), []);
  } finally {
    features.tailCalls = saved;
  }
});

test('translator matches the interpreter with a cache that keeps flushing', () => {
  const batch = makeBatch(14, 150);
  const ref = runUser(loadUserElf(batch.elf), { maxInstructions: 1_000_000, exec: execute });
  const h = loadUserElf(batch.elf);
  const jit = jitOf(h.mem);
  jit.threshold = 1;
  // Flushed every few slices (as a snapshot restore does), and trimmed at every compile.
  jit.maxCodeBytes = 4096;
  let slices = 0;
  const got = runUser(h, { maxInstructions: 1_000_000, exec: (hart, budget) => {
    if (++slices % 5 === 0) jit.flush();
    return runJit(hart, budget);
  } });
  assert.equal(got.instructions, ref.instructions);
  assert.deepEqual(compareOutcomes(ref.stdout, got.stdout), []);
  assert.ok(jit.counters.flushes > 3, `${jit.counters.flushes} flushes`);
});

test('translator matches the interpreter on the differential regression fixtures', () => {
  const dir = new URL('../../../test/fixtures/diff/regressions/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  assert.ok(files.length > 0);
  for (const file of files) {
    const fx = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Fixture;
    const elf = writeElf(assemble(fx.program));
    const ref = runUser(loadUserElf(elf), { maxInstructions: 100_000, exec: execute });
    const h = loadUserElf(elf);
    jitOf(h.mem).threshold = 1;
    const got = runUser(h, { maxInstructions: 100_000, exec: runJit });
    assert.equal(got.instructions, ref.instructions, fx.name);
    assert.deepEqual(Buffer.compare(got.stdout, ref.stdout), 0, `${fx.name}: ${JSON.stringify(compareOutcomes(ref.stdout, got.stdout))}`);
  }
});
