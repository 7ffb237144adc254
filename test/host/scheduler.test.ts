// The daemon's CPU shares: max-min fair by weight, caps respected, nobody throttled while
// the host has room.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fairShares } from '../../src/host/daemon/scheduler.js';

const busy = (shares = 256, cap = 1) => ({ wanted: 1, cap, shares });
const near = (actual: number[], expected: number[]) =>
  assert.ok(actual.every((a, i) => Math.abs(a - expected[i]) < 1e-9), `${actual.join(', ')} is not ${expected.join(', ')}`);

test('room for everyone: only caps limit', () => {
  near(fairShares(2, [busy(), busy(256, 0.3)]), [1, 0.3]);
  near(fairShares(4, [busy(), busy(), busy()]), [1, 1, 1]);
});

test('overcommitted: shares by weight, and what one does not want goes to the others', () => {
  near(fairShares(1, [busy(512), busy(256)]), [2 / 3, 1 / 3]);
  // A capped VM takes its cap; the rest split 2:1.
  near(fairShares(1, [busy(512), busy(256), busy(256, 0.25)]), [0.5, 0.25, 0.25]);
  // An almost idle VM keeps what it wants (with headroom) and is not throttled.
  const shares = fairShares(1, [busy(), busy(), { wanted: 0.05, cap: 1, shares: 256 }]);
  assert.equal(shares[2], 1);
  near(shares.slice(0, 2), [0.425, 0.425]);
  // No VM is given more than a core, even alone on a big host share.
  near(fairShares(1.5, [busy(1000), busy(1)]), [1, 0.5]);
});
