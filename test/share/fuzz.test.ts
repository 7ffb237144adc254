// Malformed requests get the right Rlerror, and every truncation of a valid one a
// well-formed reply. Random sessions are the 9p fuzz target's (test/fuzz/targets/9p.ts),
// which CI runs too.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryShare } from '../../src/share/index.js';
import { checkReply } from '../fuzz/9p/replies.js';
import { Client, Dec, E, Enc, O, Tt, message, tempDir } from './client.js';

function setup(t: { after(fn: () => void): void }) {
  const base = tempDir(t, 'rvisor-fuzz-');
  const root = join(base, 'share');
  mkdirSync(join(root, 'd'), { recursive: true });
  writeFileSync(join(root, 'f'), 'file');
  const share = new DirectoryShare({ root, tag: 'fz' });
  t.after(() => share.close());
  return { root, share };
}

test('specific malformed requests get the right Rlerror', (t) => {
  const { share, root } = setup(t);
  const c = new Client(share);
  c.version();
  c.attach(0);
  const send = (bytes: Uint8Array) => new Dec(share.handle(bytes, 8192));
  // shorter than a header: Rlerror with NOTAG
  for (const bytes of [new Uint8Array(0), new Uint8Array([3, 0, 0]), new Uint8Array(6)]) {
    const d = send(bytes);
    d.u32();
    assert.deepEqual([d.u8(), d.u16(), d.u32()], [7, 0xffff, E.EINVAL]);
  }
  // size field larger and smaller than the message
  const good = message(Tt.clunk, 9, new Enc().u32(0));
  for (const size of [good.length + 1, good.length - 1, 0, 0xffffffff]) {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(0, size, true);
    const d = send(bad);
    d.u32();
    assert.deepEqual([d.u8(), d.u16(), d.u32()], [7, 9, E.EINVAL], `size ${size}`);
  }
  // a string length past the end of the message
  const walk = message(Tt.walk, 3, new Enc().u32(0).u32(1).u16(1).u16(500).u8(0x61));
  const d = send(walk);
  d.u32();
  assert.deepEqual([d.u8(), d.u16(), d.u32()], [7, 3, E.EINVAL]);
  assert.equal(share.openFids, 1, 'the bad walk made no fid');
  // huge counts are capped; a Twrite count beyond the data is clamped to the data
  c.walk(0, 1, ['f']);
  c.lopen(1, O.RDWR);
  assert.equal(c.read(1, 0, 0xffffffff).toString(), 'file');
  assert.equal(c.errno(Tt.read, new Enc().u32(1).u64(0xffffffffffffffffn).u32(10)), E.EINVAL);
  const w = new Dec(share.handle(message(Tt.write, 4, new Enc().u32(1).u64(0).u32(0xffffffff).u8(0x46)), 8192));
  w.u32();
  assert.deepEqual([w.u8(), w.u16(), w.u32()], [Tt.write + 1, 4, 1]);
  assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'File');
  // unknown message types, including R-messages and Tlerror
  for (const type of [0, 6, 7, 101, 107, 113, 200, 255]) {
    const r = new Dec(share.handle(message(type, 5, new Enc().u32(0)), 8192));
    r.u32();
    assert.deepEqual([r.u8(), r.u16(), r.u32()], [7, 5, E.EOPNOTSUPP], `type ${type}`);
  }
});

test('truncations of valid requests never throw', (t) => {
  const { share } = setup(t);
  const c = new Client(share);
  c.version();
  c.attach(0);
  c.walk(0, 1, ['f']);
  c.lopen(1, O.RDONLY);
  const bodies: [number, Enc][] = [
    [Tt.version, new Enc().u32(8192).str('9P2000.L')],
    [Tt.attach, new Enc().u32(7).u32(0xffffffff).str('u').str('a').u32(0)],
    [Tt.walk, new Enc().u32(0).u32(8).u16(2).str('d').str('..')],
    [Tt.read, new Enc().u32(1).u64(0).u32(100)],
    [Tt.getattr, new Enc().u32(0).u64(0x7ff)],
    [Tt.setattr, new Enc().u32(1).u32(0).u32(0).u32(0).u32(0).u64(0).u64(0).u64(0).u64(0).u64(0)],
    [Tt.lcreate, new Enc().u32(0).str('x').u32(0).u32(0o644).u32(0)],
    [Tt.renameat, new Enc().u32(0).str('a').u32(0).str('b')],
    [Tt.lock, new Enc().u32(1).u8(0).u32(0).u64(0).u64(0).u32(0).str('c')],
  ];
  for (const [type, body] of bodies) {
    const full = message(type, 11, body);
    for (let len = 0; len < full.length; len++) {
      const cut = full.slice(0, len);
      if (len >= 4) new DataView(cut.buffer).setUint32(0, len, true); // consistent size: the body is short
      const reply = share.handle(cut, 8192);
      checkReply(cut, reply, 8192);
      const optionalTail = type === Tt.attach && len === full.length - 4; // n_uname is optional
      if (len >= 7 && !optionalTail) assert.equal(reply[4], 7, `type ${type} cut at ${len} must fail`);
    }
  }
});
