// The 9P session across a snapshot: a new server over the same directory (as in a new
// process) takes the saved fids, walks them again and reopens what was open, so the
// guest's mounts keep working; what vanished on the host becomes EBADF.

import assert from 'node:assert/strict';
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SnapshotError } from '../../src/devices/snapshot.js';
import { DirectoryShare } from '../../src/share/index.js';
import type { ShareState } from '../../src/share/snapshot.js';
import { Client, E, Enc, O, Tt, openShare } from './client.js';

test('fids are walked again and reopened by a new server', (t) => {
  const { dir, share, c } = openShare(t);
  c.walk(0, 1, ['hello.txt']);
  c.lopen(1, O.RDWR | O.TRUNC);
  c.write(1, 0, Buffer.from('kept'));
  c.walk(0, 2, ['sub']);
  c.lopen(2, O.RDONLY | O.DIRECTORY);
  c.walk(0, 3, ['sub', 'inner']);
  const saved = share.save();
  assert.deepEqual(saved.fids.map((f) => [f.id, f.open]), [[0, false], [1, true], [2, true], [3, false]]);

  const again = new DirectoryShare({ root: dir, tag: 'hostshare' });
  t.after(() => again.close());
  again.restore(saved);
  assert.deepEqual(again.save(), saved);
  const c2 = new Client(again);
  assert.equal(c2.read(1, 0, 100).toString(), 'kept', 'reopened without truncating again');
  assert.equal(c2.write(1, 4, Buffer.from('!')), 1);
  assert.equal(c2.getattr(3).size, 5n, 'fid 3 names sub/inner again');
  assert.equal(c2.errno(Tt.read, new Enc().u32(3).u64(0).u32(10)), E.EBADF, 'and is not open');
  c2.clunk(2);
});

test('a fid whose file vanished is dropped; symlinks are not followed', (t) => {
  const { dir, share, c } = openShare(t);
  c.walk(0, 1, ['hello.txt']);
  c.walk(0, 2, ['sub', 'inner']);
  const saved = share.save();
  rmSync(join(dir, 'hello.txt'));
  renameSync(join(dir, 'sub'), join(dir, 'real'));
  symlinkSync(join(dir, 'real'), join(dir, 'sub'));
  const again = new DirectoryShare({ root: dir, tag: 'hostshare' });
  t.after(() => again.close());
  again.restore(saved);
  assert.deepEqual(again.save().fids.map((f) => f.id), [0]);
  assert.equal(new Client(again).errno(Tt.clunk, new Enc().u32(1)), E.EBADF);
});

test('corrupt session states are refused and change nothing', (t) => {
  const { share, c } = openShare(t);
  c.walk(0, 1, ['hello.txt']);
  const saved = share.save();
  const bad = (change: (s: ShareState) => void) => {
    const s = structuredClone(saved);
    change(s);
    return s;
  };
  for (const s of [
    bad((s) => { s.msize = 10; }), bad((s) => { s.fids[1].path = [Buffer.from('..')]; }),
    bad((s) => { s.fids[1].path = [Buffer.from('a/b')]; }), bad((s) => { s.fids[1].id = 0; }),
    bad((s) => { s.fids[1].id = 0xffffffff; }), bad((s) => { (s.fids[1] as { open: unknown }).open = 1; }),
  ]) {
    assert.throws(() => share.restore(s), SnapshotError);
    assert.deepEqual(share.save(), saved);
  }
});
