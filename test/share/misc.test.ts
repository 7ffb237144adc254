// Requests a plain directory share has little to say to (statfs, mknod, xattrs, locks,
// unknown types) and the fid table's bounds.

import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryShare } from '../../src/share/index.js';
import { Client, E, Enc, O, Tt, openShare as setup, tempDir } from './client.js';

test('statfs, mknod, xattrs, locks, unknown messages', (t) => {
  const { c, dir } = setup(t);
  const s = c.statfs(0);
  assert.ok(s.bsize > 0 && s.blocks > 0n);
  assert.equal(s.namelen, 255);
  assert.equal(c.mknod(0, 'plain', 0o100640).type, 0);
  assert.ok(lstatSync(join(dir, 'plain')).isFile());
  assert.equal(lstatSync(join(dir, 'plain')).mode & 0o7777, 0o640);
  assert.equal(c.errno(Tt.mknod, new Enc().u32(0).str('dev').u32(0o20666).u32(1).u32(3).u32(0)), E.EPERM);
  assert.equal(c.errno(Tt.mknod, new Enc().u32(0).str('blk').u32(0o60666).u32(8).u32(0).u32(0)), E.EPERM);
  try {
    c.mknod(0, 'fifo', 0o10644);
    assert.ok(lstatSync(join(dir, 'fifo')).isFIFO());
    c.walk(0, 9, ['fifo']);
    assert.equal(c.errno(Tt.lopen, new Enc().u32(9).u32(O.RDONLY)), E.ENXIO, 'FIFOs never open on the host');
  } catch (e) {
    if (!(e instanceof Error && /Rlerror 95/.test(e.message))) throw e; // no mkfifo binary here
  }
  // xattrs: the list is empty, a named attribute does not exist, setting is refused
  const d = c.rpc(Tt.xattrwalk, new Enc().u32(0).u32(1).str(''));
  assert.equal(d.u64(), 0n);
  assert.equal(c.read(1, 0, 100).length, 0);
  c.clunk(1);
  assert.equal(c.errno(Tt.xattrwalk, new Enc().u32(0).u32(1).str('user.x')), E.ENODATA);
  assert.equal(c.errno(Tt.xattrcreate, new Enc().u32(0).str('user.x').u64(1).u32(0)), E.EOPNOTSUPP);
  // locks are granted; getlock reports unlocked with the same range
  c.walk(0, 2, ['hello.txt']);
  c.lopen(2, O.RDWR);
  assert.equal(c.rpc(Tt.lock, new Enc().u32(2).u8(1).u32(0).u64(0).u64(10).u32(42).str('guest')).u8(), 0);
  const g = c.rpc(Tt.getlock, new Enc().u32(2).u8(1).u64(5).u64(10).u32(42).str('guest'));
  assert.deepEqual([g.u8(), g.u64(), g.u64(), g.u32(), g.str()], [2, 5n, 10n, 42, 'guest']);
  c.rpc(Tt.flush, new Enc().u16(3));
  assert.equal(c.errno(Tt.auth, new Enc().u32(5).str('u').str('').u32(0)), E.EOPNOTSUPP);
  assert.equal(c.errno(112 /* Topen, legacy 9P2000 */, new Enc().u32(0).u8(0)), E.EOPNOTSUPP);
});

test('new objects keep setuid, setgid and sticky bits', (t) => {
  const { c, dir } = setup(t);
  const mode = (name: string) => lstatSync(join(dir, name)).mode & 0o7777;
  // Giving the new object its owner (as root) clears these bits: the mode goes on after.
  c.mknod(0, 'sgid-file', 0o100000 | 0o2755);
  assert.equal(mode('sgid-file'), 0o2755);
  c.walk(0, 1, []);
  c.lcreate(1, 'suid-file', O.RDWR, 0o4711);
  assert.equal(mode('suid-file'), 0o4711);
  // mkfifo -m refuses them outright: this mknod answered EIO.
  try {
    c.mknod(0, 'sgid-fifo', 0o10000 | 0o2755);
  } catch (e) {
    if (e instanceof Error && /Rlerror 95/.test(e.message)) return t.skip('no mkfifo binary here');
    throw e;
  }
  assert.ok(lstatSync(join(dir, 'sgid-fifo')).isFIFO());
  assert.equal(mode('sgid-fifo'), 0o2755);
  c.mknod(0, 'sticky-fifo', 0o10000 | 0o1640);
  assert.equal(mode('sticky-fifo'), 0o1640);
});

test('mknod of a FIFO where the guest may not write is EACCES (mkfifo failing was EIO)', (t) => {
  if (process.getuid?.() === 0) return t.skip('root writes anywhere');
  const { c, dir } = setup(t);
  c.walk(0, 1, ['sub']);
  c.setattr(1, { valid: 0x1, mode: 0o555 });
  try {
    assert.equal(c.errno(Tt.mknod, new Enc().u32(1).str('fifo').u32(0o10644).u32(0).u32(0).u32(0)), E.EACCES);
  } finally {
    chmodSync(join(dir, 'sub'), 0o755); // before the temp directory is removed
  }
});

test('fids are bounded and close() releases them', (t) => {
  const dir = tempDir(t);
  const share = new DirectoryShare({ root: dir, tag: 't', maxFids: 4 });
  const c = new Client(share);
  c.version();
  c.attach(0);
  for (let i = 1; i < 4; i++) c.walk(0, i, []);
  assert.equal(c.errno(Tt.walk, new Enc().u32(0).u32(10).u16(0)), E.EMFILE);
  assert.equal(c.errno(Tt.attach, new Enc().u32(50).u32(0xffffffff).str('').str('').u32(0)), E.EMFILE);
  assert.equal(c.errno(Tt.attach, new Enc().u32(0).u32(0xffffffff).str('').str('').u32(0)), E.EINVAL, 'fid reuse');
  share.close();
  assert.equal(share.openFids, 0);
  c.attach(0);
  c.walk(0, 1, []);
});

test('names are bytes: a name that is not UTF-8 lists, walks and opens exactly', (t) => {
  const { c, dir } = setup(t);
  const name = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff]); // "caf\xe9\xff": Latin-1, invalid UTF-8
  writeFileSync(Buffer.concat([Buffer.from(dir + '/'), name]), 'bytes');
  c.walk(0, 1, []);
  c.lopen(1, O.RDONLY | O.DIRECTORY);
  const listed = c.readdir(1, 0n, 8192).map((e) => e.raw);
  assert.ok(listed.some((b) => b.equals(name)), 'listed with its exact bytes');
  c.walk(0, 2, [name]);
  c.lopen(2, O.RDONLY);
  assert.equal(c.read(2, 0, 10).toString(), 'bytes');
  c.renameat(0, 'hello.txt', 0, 'caf\u00e9');
  assert.ok(readdirSync(dir).includes('caf\u00e9'));
});
