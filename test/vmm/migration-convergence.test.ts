// Pre-copy's stopping rule and auto-converge, and the dry run's prediction built on them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Convergence, DEFAULT_CONVERGENCE, predictMigration } from '../../src/vmm/migration/convergence.js';

const MB = 1e6;

test('stop-and-copy once what is dirty fits in the downtime limit at the measured bandwidth', () => {
  const c = new Convergence();
  // 500 MB in 5 s is 100 MB/s; 50 MB dirty would take 500 ms: go on.
  const first = c.afterRound({ bytesSent: 500 * MB, seconds: 5, dirtyBytes: 50 * MB });
  assert.equal(first.action, 'continue');
  assert.equal(first.bandwidth, 100 * MB);
  assert.equal(Math.round(first.expectedDowntimeMs), 500);
  // 20 MB dirty: 200 ms, under the default 300 ms.
  const second = c.afterRound({ bytesSent: 50 * MB, seconds: 0.5, dirtyBytes: 20 * MB });
  assert.equal(second.action, 'stop-and-copy');
  assert.equal(Math.round(second.expectedDowntimeMs), 200);
  assert.equal(second.throttle, 0);
  assert.equal(c.afterRound({ bytesSent: 0, seconds: 0, dirtyBytes: 0 }).action, 'stop-and-copy', 'nothing left');
});

test('auto-converge throttles after two rounds that dirtied more than half of what they sent, 20 % then +10 %', () => {
  const c = new Convergence();
  const round = () => c.afterRound({ bytesSent: 100 * MB, seconds: 1, dirtyBytes: 80 * MB });
  assert.deepEqual([round(), round(), round(), round(), round(), round()].map((d) => d.throttle), [0, 0.2, 0.2, 0.3, 0.3, 0.4]);
  // A round under the threshold resets the count.
  c.afterRound({ bytesSent: 100 * MB, seconds: 1, dirtyBytes: 40 * MB });
  assert.equal(round().throttle, 0.4);
  const off = new Convergence({ ...DEFAULT_CONVERGENCE, autoConverge: false });
  for (let i = 0; i < 10; i++) assert.equal(off.afterRound({ bytesSent: 100 * MB, seconds: 1, dirtyBytes: 80 * MB }).throttle, 0);
});

test('the dry run: an idle guest converges in a round or two; a busy one needs a throttle; a limit of 0 never converges', () => {
  const idle = predictMigration({ memoryBytes: 512 * MB, dirtyRate: 0.5 * MB, workingSetBytes: 2 * MB, bandwidth: 800 * MB });
  assert.ok(idle.converges && idle.rounds <= 2 && idle.throttle === 0, JSON.stringify(idle));
  assert.ok(idle.expectedDowntimeMs < 5, JSON.stringify(idle));
  assert.ok(Math.abs(idle.totalMs - 640) < 20, JSON.stringify(idle));

  const busy = predictMigration({ memoryBytes: 512 * MB, dirtyRate: 200 * MB, workingSetBytes: 256 * MB, bandwidth: 100 * MB });
  assert.ok(busy.converges, JSON.stringify(busy));
  assert.ok(busy.throttle > 0.5, 'dirtying twice the link needs a heavy throttle');
  assert.ok(busy.expectedDowntimeMs <= 300 + 3, JSON.stringify(busy));

  const never = predictMigration({ memoryBytes: 512 * MB, dirtyRate: 200 * MB, workingSetBytes: 256 * MB, bandwidth: 100 * MB },
    { ...DEFAULT_CONVERGENCE, autoConverge: false });
  assert.equal(never.converges, false);
  assert.match(never.reason ?? '', /dirties 200\.0 MB\/s against a link of 100\.0 MB\/s \(auto-converge is off\)/);
});
