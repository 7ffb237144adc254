// Guest time: monotonic, frozen while paused, settable for a restored snapshot.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HostClock } from '../../src/machine/clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('guest time stands still while paused and continues from there', async () => {
  const c = new HostClock(1_000_000);
  await sleep(20);
  c.pause();
  const frozen = c.mtime();
  assert.ok(frozen >= 15_000, `${frozen}`);
  await sleep(30);
  assert.equal(c.mtime(), frozen);
  c.resume();
  await sleep(10);
  const after = c.mtime();
  assert.ok(after >= frozen + 5_000 && after < frozen + 25_000, `${frozen} -> ${after}`);
});

test('set() moves guest time to a snapshot\'s value, paused or running', async () => {
  const c = new HostClock(1_000_000);
  c.set(5_000_000);
  assert.ok(c.mtime() >= 5_000_000 && c.mtime() < 5_010_000);
  c.pause();
  c.set(7_000_000);
  await sleep(10);
  assert.equal(c.mtime(), 7_000_000);
  c.resume();
  assert.ok(c.mtime() >= 7_000_000 && c.mtime() < 7_010_000);
});

test('set() to the instant a paused clock stopped at keeps it paused', async () => {
  const c = new HostClock(1_000_000);
  c.pause();
  const frozen = c.mtime();
  c.set(frozen);
  assert.equal(c.paused, true);
  await sleep(10);
  assert.equal(c.mtime(), frozen);
});

test('a shared clock: a second HostClock over its cells (another thread\'s) reads the same time, paused and set alike', async () => {
  const a = HostClock.shared(1_000_000);
  const b = new HostClock(1_000_000, a.state);
  assert.ok(a.state.buffer instanceof SharedArrayBuffer);
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(Math.abs(a.mtime() - b.mtime()) < 1000, 'within a millisecond');
  a.pause();
  assert.equal(b.paused, true);
  assert.equal(b.mtime(), a.mtime());
  a.set(42_000_000);
  assert.equal(b.mtime(), 42_000_000);
  a.resume();
  assert.equal(b.paused, false);
  assert.ok(b.mtime() >= 42_000_000 && b.mtime() < 42_100_000);
});
