// A read-only share refuses every mutating request with EROFS and leaves the host
// directory exactly as it was, while reads keep working.

import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryShare } from '../../src/share/index.js';
import { Client, E, Enc, O, Tt, tempDir } from './client.js';

/** Everything observable about a tree: names, types, modes, sizes, times, contents. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    const p = join(dir, rel);
    const st = lstatSync(p);
    const what = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `link:${readlinkSync(p)}` : `file:${readFileSync(p, 'hex')}`;
    out.push(`${rel} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.nlink} ${what}`);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) visit(join(rel, n));
  };
  visit('.');
  return out;
}

test('every mutating request is refused with EROFS', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'f'), 'data');
  writeFileSync(join(dir, 'sub', 'g'), 'more');
  symlinkSync('f', join(dir, 'ln'));
  const before = snapshot(dir);
  const share = new DirectoryShare({ root: dir, tag: 'ro', readOnly: true });
  t.after(() => share.close());
  const c = new Client(share);
  c.version();
  c.attach(0);
  c.walk(0, 1, ['f']);
  c.walk(0, 2, ['sub']);
  c.walk(0, 3, ['f']);
  c.lopen(3, O.RDONLY);
  const zeros = (e: Enc) => e.u32(0).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0);
  const refused: [string, number, Enc][] = [
    ['lopen WRONLY', Tt.lopen, new Enc().u32(1).u32(O.WRONLY)],
    ['lopen RDWR', Tt.lopen, new Enc().u32(1).u32(O.RDWR)],
    ['lopen TRUNC', Tt.lopen, new Enc().u32(1).u32(O.RDONLY | O.TRUNC)],
    ['lcreate', Tt.lcreate, new Enc().u32(2).str('new').u32(O.RDWR | O.CREAT).u32(0o644).u32(0)],
    ['lcreate existing', Tt.lcreate, new Enc().u32(2).str('g').u32(O.RDONLY | O.CREAT).u32(0o644).u32(0)],
    ['write', Tt.write, new Enc().u32(3).u64(0).u32(2).u8(0x41).u8(0x42)],
    ['setattr mode', Tt.setattr, zeros(new Enc().u32(1).u32(0x1))],
    ['setattr size', Tt.setattr, zeros(new Enc().u32(1).u32(0x8))],
    ['setattr times', Tt.setattr, zeros(new Enc().u32(1).u32(0x30))],
    ['setattr owner', Tt.setattr, zeros(new Enc().u32(1).u32(0x6))],
    ['mkdir', Tt.mkdir, new Enc().u32(0).str('d').u32(0o755).u32(0)],
    ['symlink', Tt.symlink, new Enc().u32(0).str('s').str('f').u32(0)],
    ['mknod', Tt.mknod, new Enc().u32(0).str('n').u32(0o100644).u32(0).u32(0).u32(0)],
    ['link', Tt.link, new Enc().u32(0).u32(1).str('h')],
    ['unlinkat', Tt.unlinkat, new Enc().u32(0).str('f').u32(0)],
    ['rmdir', Tt.unlinkat, new Enc().u32(2).str('..').u32(0x200)],
    ['renameat', Tt.renameat, new Enc().u32(0).str('f').u32(0).str('f2')],
    ['rename', Tt.rename, new Enc().u32(1).u32(2).str('moved')],
    ['xattrcreate', Tt.xattrcreate, new Enc().u32(1).str('user.a').u64(1).u32(0)],
    ['remove', Tt.remove, new Enc().u32(1)],
  ];
  for (const [what, type, body] of refused) {
    const errno = c.errno(type, body);
    // a bad name is refused before EROFS is considered; both leave the host untouched
    assert.ok(errno === E.EROFS || (what === 'rmdir' && errno === E.EINVAL), `${what}: errno ${errno}`);
  }
  assert.equal(c.errno(Tt.clunk, new Enc().u32(1)), E.EBADF, 'Tremove clunked the fid anyway');
  assert.deepEqual(snapshot(dir), before);
  // reading still works
  assert.equal(c.read(3, 0, 10).toString(), 'data');
  c.walk(0, 4, ['sub']);
  c.lopen(4, O.RDONLY | O.DIRECTORY);
  assert.deepEqual(c.readdir(4, 0n, 4096).map((e) => e.name).sort(), ['.', '..', 'g']);
  c.walk(0, 5, ['ln']);
  assert.equal(c.readlink(5), 'f');
  c.rpc(Tt.fsync, new Enc().u32(3).u32(0));
  assert.ok(c.statfs(0).bsize > 0);
  assert.deepEqual(snapshot(dir), before);
});
