// A guest path never reaches outside the shared directory: "..", symlinks placed by the
// host or the guest, bad names, and objects swapped between walk and use.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryShare } from '../../src/share/index.js';
import { Client, E, Enc, O, Tt, tempDir } from './client.js';

/** outside/ holds a secret; share/ is exported and holds a directory and links out. */
function setup(t: { after(fn: () => void): void }) {
  const base = tempDir(t, 'rvisor-escape-');
  const outside = join(base, 'outside');
  const root = join(base, 'share');
  mkdirSync(outside);
  mkdirSync(join(root, 'd'), { recursive: true });
  writeFileSync(join(outside, 'secret'), 'SECRET');
  writeFileSync(join(root, 'd', 'secret'), 'inside');
  symlinkSync('/etc', join(root, 'etc-link'));
  symlinkSync(join(outside, 'secret'), join(root, 'file-link'));
  symlinkSync('..', join(root, 'up'));
  const share = new DirectoryShare({ root, tag: 't' });
  t.after(() => share.close());
  const c = new Client(share);
  c.version();
  const rootQid = c.attach(0);
  return { base, outside, root, share, c, rootQid };
}

test('".." never climbs above the share root', (t) => {
  const { c, rootQid } = setup(t);
  for (const names of [['..'], ['..', '..'], ['d', '..', '..', '..'], ['.', '..', '.']]) {
    const qids = c.walk(0, 1, names);
    assert.equal(qids.length, names.length);
    assert.deepEqual(qids[qids.length - 1], rootQid, names.join('/'));
    c.lopen(1, O.RDONLY | O.DIRECTORY);
    const listing = c.readdir(1, 0n, 8192).map((e) => e.name).sort();
    assert.deepEqual(listing, ['.', '..', 'd', 'etc-link', 'file-link', 'up'], 'still the share root');
    c.clunk(1);
  }
  // and from inside, ".." goes to the parent
  assert.deepEqual(c.walk(0, 2, ['d', '..']).at(-1), rootQid);
});

test('walks never pass through a symlink, wherever it points', (t) => {
  const { c } = setup(t);
  for (const [link, next] of [['etc-link', 'passwd'], ['up', 'outside'], ['up', 'share'], ['file-link', 'x']]) {
    const qids = c.walk(0, 1, [link, next]);
    assert.equal(qids.length, 1, `${link}/${next} stops at the link`);
    assert.equal(qids[0].type, 0x02, 'the link itself is a symlink qid');
    assert.equal(c.errno(Tt.clunk, new Enc().u32(1)), E.EBADF, 'no fid made');
  }
});

test('a symlink itself can be inspected but never opened', (t) => {
  const { c } = setup(t);
  c.walk(0, 1, ['etc-link']);
  assert.equal(c.getattr(1).qid.type, 0x02);
  assert.equal((c.getattr(1).mode & 0o170000), 0o120000);
  assert.equal(c.readlink(1), '/etc');
  assert.equal(c.errno(Tt.lopen, new Enc().u32(1).u32(O.RDONLY)), E.ELOOP);
  assert.equal(c.errno(Tt.lopen, new Enc().u32(1).u32(O.RDONLY | O.DIRECTORY)), E.ELOOP);
  c.walk(0, 2, ['file-link']);
  assert.equal(c.errno(Tt.lopen, new Enc().u32(2).u32(O.RDONLY)), E.ELOOP);
  assert.equal(c.errno(Tt.readdir, new Enc().u32(1).u64(0).u32(4096)), E.EBADF);
  // setattr on a link must not reach its target
  assert.equal(c.errno(Tt.setattr, new Enc().u32(2).u32(0x8).u32(0).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0)), E.EINVAL);
  assert.equal(c.errno(Tt.setattr, new Enc().u32(2).u32(0x1).u32(0o777).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0)), E.EINVAL);
});

test('creating through a symlink name does not follow it', (t) => {
  const { c, outside } = setup(t);
  assert.equal(c.errno(Tt.lcreate, new Enc().u32(0).str('file-link').u32(O.RDWR | O.CREAT | O.TRUNC).u32(0o644).u32(0)), E.ELOOP);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET');
  assert.equal(c.errno(Tt.mkdir, new Enc().u32(0).str('etc-link').u32(0o755).u32(0)), E.EEXIST);
  // removing or renaming the link touches the link, not its target
  c.unlinkat(0, 'file-link');
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET');
});

test('names with "/" or NUL, empty names and too many names are refused', (t) => {
  const { c } = setup(t);
  for (const name of ['d/secret', '../outside', '/etc', '', 'a\0b']) {
    assert.equal(c.errno(Tt.walk, new Enc().u32(0).u32(1).u16(1).str(name)), E.EINVAL, JSON.stringify(name));
    assert.equal(c.errno(Tt.mkdir, new Enc().u32(0).str(name).u32(0o755).u32(0)), E.EINVAL, JSON.stringify(name));
    assert.equal(c.errno(Tt.symlink, new Enc().u32(0).str(name).str('x').u32(0)), E.EINVAL);
    assert.equal(c.errno(Tt.unlinkat, new Enc().u32(0).str(name).u32(0)), E.EINVAL);
    assert.equal(c.errno(Tt.renameat, new Enc().u32(0).str('d').u32(0).str(name)), E.EINVAL);
  }
  for (const name of ['.', '..']) {
    assert.equal(c.errno(Tt.unlinkat, new Enc().u32(0).str(name).u32(0x200)), E.EINVAL);
    assert.equal(c.errno(Tt.renameat, new Enc().u32(0).str('d').u32(0).str(name)), E.EINVAL);
  }
  const e = new Enc().u32(0).u32(1).u16(17);
  for (let i = 0; i < 17; i++) e.str('.');
  assert.equal(c.errno(Tt.walk, e), E.EINVAL);
});

test('guest-made symlinks are data: the host never follows them', (t) => {
  const { c, outside } = setup(t);
  c.symlink(0, 'mine', join(outside, 'secret'));
  c.walk(0, 1, ['mine']);
  assert.equal(c.readlink(1), join(outside, 'secret'));
  assert.equal(c.errno(Tt.lopen, new Enc().u32(1).u32(O.RDONLY)), E.ELOOP);
  assert.equal(c.walk(0, 2, ['mine', 'x']).length, 1);
});

test('a directory swapped for a symlink after the walk is detected', (t) => {
  const { c, root, outside } = setup(t);
  // host-side swap of the walked object itself
  c.walk(0, 1, ['d']);
  renameSync(join(root, 'd'), join(root, 'd.old'));
  symlinkSync(outside, join(root, 'd'));
  assert.equal(c.errno(Tt.lopen, new Enc().u32(1).u32(O.RDONLY | O.DIRECTORY)), E.ESTALE);
  assert.equal(c.errno(Tt.walk, new Enc().u32(1).u32(2).u16(1).str('secret')), E.ESTALE);
  assert.equal(c.errno(Tt.getattr, new Enc().u32(1).u64(0x7ff)), E.ESTALE);
  assert.equal(c.errno(Tt.lcreate, new Enc().u32(1).str('planted').u32(O.RDWR | O.CREAT).u32(0o644).u32(0)), E.ESTALE);
  assert.equal(c.errno(Tt.mkdir, new Enc().u32(1).str('planted').u32(0o755).u32(0)), E.ESTALE);
  assert.equal(c.errno(Tt.unlinkat, new Enc().u32(1).str('secret').u32(0)), E.ESTALE);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET');
});

test('a parent directory swapped for a symlink after the walk is detected', (t) => {
  const { c, root, outside } = setup(t);
  c.walk(0, 1, ['d', 'secret']);
  renameSync(join(root, 'd'), join(root, 'd.old'));
  symlinkSync(outside, join(root, 'd'));
  // root/d/secret now resolves to outside/secret: a different file
  assert.equal(c.errno(Tt.lopen, new Enc().u32(1).u32(O.RDONLY)), E.ESTALE);
  assert.equal(c.errno(Tt.setattr, new Enc().u32(1).u32(0x8).u32(0).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0)), E.ESTALE);
  assert.equal(c.errno(Tt.remove, new Enc().u32(1)), E.ESTALE);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET');
});

test('the walked directory moved out of the share and linked back is refused', (t) => {
  const { c, root, base } = setup(t);
  // Same inode as at walk time, but now outside the root: only the realpath check sees it.
  mkdirSync(join(root, 'd', 'inner'));
  c.walk(0, 1, ['d', 'secret']);
  c.walk(0, 2, ['d', 'inner']);
  renameSync(join(root, 'd'), join(base, 'moved-out'));
  symlinkSync(join(base, 'moved-out'), join(root, 'd'));
  assert.equal(c.errno(Tt.lopen, new Enc().u32(1).u32(O.RDONLY)), E.EACCES);
  assert.equal(c.errno(Tt.mkdir, new Enc().u32(2).str('planted').u32(0o755).u32(0)), E.EACCES);
  assert.equal(c.errno(Tt.lcreate, new Enc().u32(2).str('planted').u32(O.RDWR | O.CREAT).u32(0o644).u32(0)), E.EACCES);
  writeFileSync(join(base, 'moved-out', 'inner', 'victim'), 'v');
  assert.equal(c.errno(Tt.unlinkat, new Enc().u32(2).str('victim').u32(0)), E.EACCES);
  assert.equal(readFileSync(join(base, 'moved-out', 'secret'), 'utf8'), 'inside');
  assert.deepEqual(readdirSync(join(base, 'moved-out', 'inner')), ['victim']);
});

test('a guest that renames and replaces a directory cannot redirect old fids', (t) => {
  const { c, outside } = setup(t);
  // fid 1 names d; the guest removes d's contents and d itself, then puts a symlink
  // named d pointing outside: fid 1 must not now mean the outside directory.
  c.walk(0, 1, ['d']);
  c.unlinkat(1, 'secret');
  c.unlinkat(0, 'd', 0x200);
  c.symlink(0, 'd', outside);
  assert.equal(c.errno(Tt.walk, new Enc().u32(1).u32(2).u16(1).str('secret')), E.ESTALE);
  assert.equal(c.errno(Tt.lcreate, new Enc().u32(1).str('secret').u32(O.RDWR | O.CREAT | O.TRUNC).u32(0o644).u32(0)), E.ESTALE);
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'SECRET');
});
