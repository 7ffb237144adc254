// A qcow2 image open in two processes, as on shared storage during a migration: the
// destination opened the image before the source's last writes, and after invalidate()
// reads what the source wrote (new clusters, new L2 tables, grown refcounts) and writes
// on without breaking the image. A disk that changed its size under it is refused.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDisk, openDisk, type Qcow2Image } from '../../src/storage/index.js';
import { needsQemu, qemuCheck, scratch } from './support.js';

const path = scratch('invalidate');
const MiB = 1 << 20;

const filled = (n: number, v: number) => new Uint8Array(n).fill(v);

test('after invalidate() an image reads what another opener wrote since, and writes on cleanly', needsQemu, () => {
  const file = path('shared.qcow2');
  createDisk({ file, format: 'qcow2', size: 64 * MiB });
  const source = openDisk({ file }) as Qcow2Image;
  source.write(0, filled(64 * 1024, 1));
  const destination = openDisk({ file }) as Qcow2Image;
  // The source runs on: new clusters in a fresh L2 table, far from the first.
  source.write(40 * MiB, filled(128 * 1024, 2));
  source.write(0, filled(4096, 3));
  source.flush();
  source.close();
  // Before invalidate() the destination's refcounts and file length predate those
  // writes: its next allocation would take the clusters the source just used.
  destination.invalidate();
  const stale = new Uint8Array(4096);
  const got = new Uint8Array(128 * 1024);
  destination.read(40 * MiB, got);
  assert.ok(got.every((b) => b === 2));
  destination.read(0, stale);
  assert.ok(stale.every((b) => b === 3));
  // Allocating after the refresh must not reuse the source's clusters.
  destination.write(20 * MiB, filled(256 * 1024, 4));
  destination.read(40 * MiB, got);
  assert.ok(got.every((b) => b === 2), 'the source\'s data survives the destination\'s writes');
  destination.close();
  const check = qemuCheck(file);
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('an image whose size changed under it is refused by invalidate() and turns read-only', () => {
  const file = path('resized.qcow2');
  createDisk({ file, format: 'qcow2', size: 8 * MiB });
  const opened = openDisk({ file }) as Qcow2Image;
  createDisk({ file, format: 'qcow2', size: 16 * MiB });
  assert.throws(() => opened.invalidate(), /changed its size or cluster size/);
  assert.equal(opened.readOnly, true);
  assert.throws(() => opened.write(0, filled(512, 1)), /read-only/);
  opened.close();
});
