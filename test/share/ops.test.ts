// The share as Linux's 9p client drives it: every operation against a temp directory,
// results compared with what node:fs sees on the host side.

import assert from 'node:assert/strict';
import {
  existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryShare, ShareError } from '../../src/share/index.js';
import { E, Enc, O, Tt, openShare as setup, tempDir } from './client.js';

test('the constructor validates root and tag', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), '');
  assert.throws(() => new DirectoryShare({ root: join(dir, 'missing'), tag: 'x' }), ShareError);
  assert.throws(() => new DirectoryShare({ root: join(dir, 'file'), tag: 'x' }), /not a directory/);
  assert.throws(() => new DirectoryShare({ root: dir, tag: '' }), ShareError);
  assert.throws(() => new DirectoryShare({ root: dir, tag: 'x'.repeat(256) }), ShareError);
  assert.throws(() => new DirectoryShare({ root: dir, tag: 'a\0b' }), ShareError);
  assert.equal(new DirectoryShare({ root: dir, tag: 'ok' }).tag, 'ok');
});

test('version negotiates msize and dialect', (t) => {
  const { c } = setup(t);
  assert.deepEqual(c.version(8192), { msize: 8192, version: '9P2000.L' });
  assert.deepEqual(c.version(1 << 30), { msize: 512 * 1024, version: '9P2000.L' });
  assert.equal(c.version(8192, '9P2000.u').version, 'unknown');
  assert.equal(c.version(8192, '9P2000').version, 'unknown');
  assert.equal(c.errno(Tt.version, new Enc().u32(100).str('9P2000.L')), E.EINVAL);
});

test('version starts a new session: old fids are gone', (t) => {
  const { c, share } = setup(t);
  c.walk(0, 1, ['hello.txt']);
  assert.equal(share.openFids, 2);
  c.version();
  assert.equal(share.openFids, 0);
  assert.equal(c.errno(Tt.clunk, new Enc().u32(1)), E.EBADF);
});

test('attach, walk and getattr report the host metadata', (t) => {
  const { c, dir } = setup(t);
  const root = c.getattr(0);
  assert.equal(root.qid.type, 0x80);
  assert.equal(root.qid.path, statSync(dir, { bigint: true }).ino);
  const qids = c.walk(0, 1, ['sub', 'inner']);
  assert.equal(qids.length, 2);
  assert.equal(qids[0].type, 0x80);
  assert.equal(qids[1].type, 0);
  const a = c.getattr(1);
  const st = lstatSync(join(dir, 'sub', 'inner'), { bigint: true });
  assert.equal(a.qid.path, st.ino);
  assert.equal(a.size, 5n);
  assert.equal(a.mode, Number(st.mode));
  assert.equal(a.uid, Number(st.uid));
  assert.equal(a.gid, Number(st.gid));
  assert.equal(a.nlink, st.nlink);
  assert.equal(a.blksize, st.blksize);
  assert.equal(a.blocks, st.blocks);
  assert.deepEqual(a.mtime, [st.mtimeNs / 1_000_000_000n, st.mtimeNs % 1_000_000_000n]);
  assert.deepEqual(a.ctime, [st.ctimeNs / 1_000_000_000n, st.ctimeNs % 1_000_000_000n]);
  assert.equal(a.valid & 0x7ffn, 0x7ffn);
});

test('walk: zero names clones, partial walks answer the prefix, errors', (t) => {
  const { c, share } = setup(t);
  assert.deepEqual(c.walk(0, 1, []), []);
  assert.equal(c.getattr(1).qid.type, 0x80);
  assert.equal(c.walk(0, 2, ['sub', 'missing', 'x']).length, 1);
  assert.equal(c.errno(Tt.clunk, new Enc().u32(2)), E.EBADF, 'a partial walk creates no fid');
  assert.equal(c.errno(Tt.walk, new Enc().u32(0).u32(3).u16(1).str('missing')), E.ENOENT);
  assert.equal(c.errno(Tt.walk, new Enc().u32(0).u32(1).u16(0)), E.EINVAL, 'newfid in use');
  assert.equal(c.errno(Tt.walk, new Enc().u32(99).u32(3).u16(0)), E.EBADF, 'unknown fid');
  assert.equal(c.walk(0, 3, ['hello.txt', 'x']).length, 1, 'never through a file');
  c.walk(0, 3, ['hello.txt']);
  assert.equal(c.errno(Tt.walk, new Enc().u32(3).u32(4).u16(1).str('x')), E.ENOTDIR);
  assert.equal(c.errno(Tt.walk, new Enc().u32(0).u32(0xffffffff).u16(0)), E.EBADF, 'NOFID');
  // newfid == fid walks in place
  c.walk(1, 1, ['sub']);
  c.walk(1, 1, ['inner']);
  assert.equal(c.getattr(1).size, 5n);
  assert.equal(share.openFids, 3);
});

test('open, read and write a file', (t) => {
  const { c, dir } = setup(t);
  c.walk(0, 1, ['hello.txt']);
  const { qid } = c.lopen(1, O.RDWR);
  assert.equal(qid.type, 0);
  assert.equal(c.read(1, 0, 5).toString(), 'hello');
  assert.equal(c.read(1, 7, 100).toString(), 'world\n');
  assert.equal(c.read(1, 1000, 10).length, 0);
  assert.equal(c.write(1, 7, Buffer.from('WORLD')), 5);
  assert.equal(readFileSync(join(dir, 'hello.txt'), 'utf8'), 'hello, WORLD\n');
  c.rpc(Tt.fsync, new Enc().u32(1).u32(0));
  c.clunk(1);
  assert.equal(c.errno(Tt.read, new Enc().u32(1).u64(0).u32(5)), E.EBADF);
  // read on a walked but unopened fid
  c.walk(0, 2, ['hello.txt']);
  assert.equal(c.errno(Tt.read, new Enc().u32(2).u64(0).u32(5)), E.EBADF);
  assert.equal(c.errno(Tt.lopen, new Enc().u32(2).u32(3)), E.EINVAL, 'O_ACCMODE 3');
});

test('reads are capped by msize and by the room the transport gives', (t) => {
  const { c, dir } = setup(t);
  writeFileSync(join(dir, 'big'), Buffer.alloc(100_000, 0x61));
  c.version(8192);
  c.attach(0);
  c.walk(0, 1, ['big']);
  c.lopen(1, O.RDONLY);
  assert.equal(c.read(1, 0, 1_000_000).length, 8192 - 11);
  c.maxReply = 1000;
  assert.equal(c.read(1, 0, 1_000_000).length, 1000 - 11);
});

test('lcreate makes and opens a file with the exact mode; O_EXCL', (t) => {
  const { c, dir } = setup(t);
  c.walk(0, 1, ['sub']);
  const q = c.lcreate(1, 'new.txt', O.RDWR | O.CREAT, 0o666);
  assert.equal(q.type, 0);
  assert.equal(c.write(1, 0, Buffer.from('abc')), 3);
  assert.equal(c.read(1, 1, 10).toString(), 'bc');
  assert.equal(readFileSync(join(dir, 'sub', 'new.txt'), 'utf8'), 'abc');
  assert.equal(statSync(join(dir, 'sub', 'new.txt')).mode & 0o7777, 0o666, 'umask does not narrow the mode');
  c.walk(0, 2, ['sub']);
  assert.equal(c.errno(Tt.lcreate, new Enc().u32(2).str('new.txt').u32(O.RDWR | O.CREAT | O.EXCL).u32(0o644).u32(0)), E.EEXIST);
  assert.equal(c.errno(Tt.lcreate, new Enc().u32(2).str('a/b').u32(O.CREAT).u32(0o644).u32(0)), E.EINVAL);
  assert.equal(c.errno(Tt.lcreate, new Enc().u32(2).str('..').u32(O.CREAT).u32(0o644).u32(0)), E.EINVAL);
});

test('mkdir, readdir listing matches the host, offsets resume', (t) => {
  const { c, dir } = setup(t);
  c.mkdir(0, 'many', 0o750);
  assert.equal(statSync(join(dir, 'many')).mode & 0o7777, 0o750);
  const names = Array.from({ length: 60 }, (_, i) => `entry-${i}-${'x'.repeat(i)}`);
  for (const n of names) writeFileSync(join(dir, 'many', n), n);
  c.walk(0, 1, ['many']);
  c.lopen(1, O.RDONLY | O.DIRECTORY);
  const all: string[] = [];
  let offset = 0n;
  let calls = 0;
  for (;;) {
    const part = c.readdir(1, offset, 500);
    if (part.length === 0) break;
    calls++;
    for (const e of part) {
      all.push(e.name);
      if (e.name !== '.' && e.name !== '..') {
        assert.equal(e.qid.path, lstatSync(join(dir, 'many', e.name), { bigint: true }).ino);
        assert.equal(e.type, 8);
      }
    }
    offset = part[part.length - 1].offset;
  }
  assert.ok(calls > 3, 'small counts need several calls');
  assert.deepEqual(all.filter((n) => n !== '.' && n !== '..').sort(), readdirSync(join(dir, 'many')).sort());
  assert.equal(new Set(all).size, all.length, 'no entry twice');
  assert.ok(all.includes('.') && all.includes('..'));
  // an offset from the middle is a stable cookie: resuming there gives the same tail
  const first = c.readdir(1, 0n, 100_000);
  const mid = first[20].offset;
  assert.deepEqual(c.readdir(1, mid, 100_000).map((e) => e.name), first.slice(21).map((e) => e.name));
  assert.equal(c.errno(Tt.readdir, new Enc().u32(0).u64(0).u32(1000)), E.EBADF, 'unopened directory');
});

test('rename, renameat, unlink, rmdir, remove', (t) => {
  const { c, dir } = setup(t);
  c.walk(0, 1, ['sub']);
  c.renameat(0, 'hello.txt', 1, 'moved.txt');
  assert.ok(!existsSync(join(dir, 'hello.txt')));
  assert.equal(readFileSync(join(dir, 'sub', 'moved.txt'), 'utf8'), 'hello, world\n');
  // fids below a renamed directory follow it
  c.walk(0, 2, ['sub', 'inner']);
  c.renameat(0, 'sub', 0, 'sub2');
  assert.equal(c.getattr(2).size, 5n);
  c.rename(2, 0, 'inner-top');
  assert.equal(readFileSync(join(dir, 'inner-top'), 'utf8'), 'inner');
  c.unlinkat(0, 'inner-top');
  assert.ok(!existsSync(join(dir, 'inner-top')));
  assert.equal(c.errno(Tt.unlinkat, new Enc().u32(0).str('sub2').u32(0x200)), E.ENOTEMPTY);
  assert.equal(c.errno(Tt.unlinkat, new Enc().u32(0).str('nope').u32(0)), E.ENOENT);
  c.unlinkat(1, 'moved.txt');
  c.unlinkat(0, 'sub2', 0x200);
  assert.ok(!existsSync(join(dir, 'sub2')));
  c.mkdir(0, 'gone');
  c.walk(0, 4, ['gone']);
  c.remove(4);
  assert.ok(!existsSync(join(dir, 'gone')));
  assert.equal(c.errno(Tt.clunk, new Enc().u32(4)), E.EBADF, 'remove clunks');
  c.walk(0, 5, []);
  assert.equal(c.errno(Tt.remove, new Enc().u32(5)), E.EBUSY);
});

test('symlink, readlink and link', (t) => {
  const { c, dir } = setup(t);
  const q = c.symlink(0, 'ln', '../../anywhere/at/all');
  assert.equal(q.type, 0x02);
  assert.equal(readlinkSync(join(dir, 'ln')), '../../anywhere/at/all');
  c.walk(0, 1, ['ln']);
  assert.equal(c.readlink(1), '../../anywhere/at/all');
  c.walk(0, 2, ['hello.txt']);
  assert.equal(c.errno(Tt.readlink, new Enc().u32(2)), E.EINVAL);
  c.link(0, 2, 'hard');
  assert.equal(statSync(join(dir, 'hard')).ino, statSync(join(dir, 'hello.txt')).ino);
  assert.equal(c.getattr(2).nlink, 2n);
  c.walk(0, 3, ['sub']);
  assert.equal(c.errno(Tt.link, new Enc().u32(0).u32(3).str('dirlink')), E.EPERM);
});

test('setattr: truncate, mode, times', (t) => {
  const { c, dir } = setup(t);
  const file = join(dir, 'hello.txt');
  c.walk(0, 1, ['hello.txt']);
  c.setattr(1, { valid: 0x8, size: 5 });
  assert.equal(readFileSync(file, 'utf8'), 'hello');
  c.setattr(1, { valid: 0x8, size: 0 });
  assert.equal(statSync(file).size, 0);
  c.setattr(1, { valid: 0x1, mode: 0o600 });
  assert.equal(statSync(file).mode & 0o7777, 0o600);
  c.setattr(1, { valid: 0x10 | 0x20 | 0x80 | 0x100, atime: [1_000_000, 0], mtime: [2_000_000, 500_000_000] });
  const st = statSync(file);
  assert.equal(st.atimeMs, 1_000_000_000);
  assert.equal(st.mtimeMs, 2_000_000_500);
  // MTIME without MTIME_SET means now; atime untouched
  c.setattr(1, { valid: 0x20 });
  const st2 = statSync(file);
  assert.ok(Math.abs(st2.mtimeMs - Date.now()) < 60_000);
  assert.equal(st2.atimeMs, 1_000_000_000);
  // truncate through an open read-only fid still works (a fresh fd is used)
  writeFileSync(file, '0123456789');
  c.lopen(1, O.RDONLY);
  c.setattr(1, { valid: 0x8, size: 3 });
  assert.equal(readFileSync(file, 'utf8'), '012');
  c.walk(0, 2, ['sub']);
  assert.equal(c.errno(Tt.setattr, new Enc().u32(2).u32(0x8).u32(0).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0)), E.EISDIR);
});
