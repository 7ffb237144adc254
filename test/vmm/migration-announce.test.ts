// After an incoming migration the guest's cards announce their MACs on QEMU's schedule.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { announceDelays, scheduleAnnounce } from '../../src/vmm/migration/announce.js';

test('announce rounds follow QEMU\'s defaults: 5, after 50 ms, each gap 100 ms longer; stopping ends them', async () => {
  assert.deepEqual(announceDelays(), [50, 150, 250, 350, 450]);
  assert.deepEqual(announceDelays({ initialMs: 100, maxMs: 250, rounds: 4, stepMs: 100 }), [100, 200, 250, 250]);
  const at: number[] = [];
  const t0 = performance.now();
  scheduleAnnounce(() => at.push(performance.now() - t0), { initialMs: 10, maxMs: 100, rounds: 3, stepMs: 10 });
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(at.length, 3);
  assert.ok(at[0] >= 9 && at[1] - at[0] >= 19 && at[2] - at[1] >= 29, `rounds at ${at.map((x) => x.toFixed(0))}`);
  let more = 0;
  const stop = scheduleAnnounce(() => more++, { initialMs: 10, maxMs: 100, rounds: 5, stepMs: 10 });
  await new Promise((r) => setTimeout(r, 15));
  stop();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(more, 1, 'nothing after stop()');
});
