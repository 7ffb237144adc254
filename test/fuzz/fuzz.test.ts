// CI's bounded run of every fuzz target; `npm run fuzz` runs them for as long as asked
// (docs/security.md gives the million-input command and its last figures).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFuzz } from './harness.js';
import { loadTarget, targetNames } from './targets.js';

/** Inputs per target in CI: enough to reach every branch of the generators many times. */
const COUNT: Record<string, number> = { default: 3000 };

for (const name of targetNames()) {
  test(`fuzz ${name}: every input gets a clear error or the right result, and the host stays up`, async () => {
    const target = await loadTarget(name);
    const count = COUNT[name] ?? COUNT.default;
    const report = await runFuzz(target, { seed: 20261201, count });
    assert.deepEqual(report.failures, [], report.failures.map((f) => `input ${f.index}: ${f.error}`).join('\n\n'));
    assert.equal(report.inputs, count);
  });
}
