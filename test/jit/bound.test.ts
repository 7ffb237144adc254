// The translation cache's bound: once its modules reach maxCodeBytes, pages the runtime has
// not entered since the previous trim are dropped (their modules become garbage), the ones
// in use stay, and the program's results do not change.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execute } from '../../src/cpu/interp.js';
import { jitOf, runJit } from '../../src/jit/index.js';
import { load, reg } from '../support/run-asm.js';
import { both, runTo, sameState } from './machines.js';

/** Six phases, each a hot loop on a page of its own, run three times over. */
function phases(): string {
  let src = `
    li s3, 3
outer:`;
  for (let k = 0; k < 6; k++) {
    src += `
    li s2, 200
p${k}:
    addi a${k}, a${k}, ${k + 1}
    addi s2, s2, -1
    bnez s2, p${k}
    j q${k + 1}
    .align 12
q${k + 1}:`;
  }
  return `${src}
    addi s3, s3, -1
    beqz s3, done
    j outer
done: j done
mtrap: j mtrap`;
}

test('a bounded translation cache drops the pages out of use and keeps the results exact', () => {
  const [a, b] = both(() => load(phases()));
  const jit = jitOf(b.mem);
  jit.threshold = 5;
  // About two phases' modules: the cache must trim as the program moves from page to page.
  jit.maxCodeBytes = 1200;
  assert.equal(runTo(a, execute, ['done', 'mtrap'], 100), 'done');
  assert.equal(runTo(b, runJit, ['done', 'mtrap'], 100), 'done');
  sameState(a, b);
  for (let k = 0; k < 6; k++) assert.equal(reg(b.h, `a${k}`), BigInt(3 * 200 * (k + 1)));
  const s = jit.stats();
  assert.ok(jit.counters.evictions > 3, `${jit.counters.evictions} pages evicted`);
  assert.ok(s['code bytes held'] <= jit.maxCodeBytes * 2, `${s['code bytes held']} bytes of modules held`);
  assert.ok(s['pages held'] < 7, `${s['pages held']} pages held`);
});

test('under its bound the translation cache drops nothing', () => {
  const [, b] = both(() => load(phases()));
  const jit = jitOf(b.mem);
  jit.threshold = 5;
  assert.equal(runTo(b, runJit, ['done', 'mtrap'], 100), 'done');
  assert.equal(jit.counters.evictions, 0);
  assert.equal(jit.stats()['pages held'], 7);
});

test('pages not entered for a whole aging period are dropped; the one in use stays', () => {
  const [, b] = both(() => load(phases()));
  const jit = jitOf(b.mem);
  jit.threshold = 5;
  assert.equal(runTo(b, runJit, ['done', 'mtrap'], 100), 'done');
  const later = performance.now() + 2 * jit.ageMs;
  // The first period saw every page in use.
  jit.age(later);
  assert.equal(jit.counters.evictions, 0);
  // Only `done` runs during the second.
  runJit(b.h, 1000);
  jit.age(later + jit.ageMs);
  assert.equal(jit.counters.evictions, 6);
  assert.equal(jit.stats()['pages held'], 1);
  runJit(b.h, 1000);
  assert.equal(b.h.pc, b.sym('done'));
  for (let k = 0; k < 6; k++) assert.equal(reg(b.h, `a${k}`), BigInt(3 * 200 * (k + 1)));
});
