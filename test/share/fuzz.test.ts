// Malformed and random requests: handle() never throws, always answers a well-formed
// reply with the request's tag, and nothing outside the share changes.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryShare } from '../../src/share/index.js';
import { Client, Dec, E, Enc, O, Tt, message, tempDir } from './client.js';

/** Deterministic PRNG (mulberry32) so a failure replays. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function checkReply(req: Uint8Array, reply: Uint8Array, maxReply: number) {
  const d = new Dec(reply);
  assert.equal(d.u32(), reply.length, 'size field');
  const type = d.u8();
  const tag = d.u16();
  if (req.length >= 7) assert.equal(tag, req[5] | (req[6] << 8), 'tag echoed');
  if (type === 7) {
    const errno = d.u32();
    assert.ok(errno > 0 && errno < 134, `errno ${errno}`);
    assert.ok(d.done);
  } else {
    assert.equal(type, req[4] + 1, 'reply type');
    assert.ok(reply.length <= maxReply, 'fits the room given');
  }
}

function setup(t: { after(fn: () => void): void }) {
  const base = tempDir(t, 'rvisor-fuzz-');
  const root = join(base, 'share');
  mkdirSync(join(root, 'd'), { recursive: true });
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(base, 'outside', 'keep'), 'keep');
  writeFileSync(join(root, 'f'), 'file');
  const share = new DirectoryShare({ root, tag: 'fz' });
  t.after(() => share.close());
  return { base, root, share };
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

test('random requests never throw and never touch anything outside', (t) => {
  const { share, base } = setup(t);
  const rand = rng(0x9e3779b9);
  const c = new Client(share);
  c.version();
  c.attach(0);
  const types = Object.values(Tt);
  const names = ['d', 'f', '.', '..', '', 'x', 'a/b', 'new', '../outside'];
  let ok = 0;
  for (let i = 0; i < 20_000; i++) {
    const e = new Enc();
    const mode = rand();
    // mostly plausible fields (small fids, known names) so requests get past parsing
    const n = Math.floor(rand() * 12);
    for (let k = 0; k < n; k++) {
      const r = rand();
      if (r < 0.35) e.u32(Math.floor(rand() * 6));
      else if (r < 0.55) e.str(names[Math.floor(rand() * names.length)]);
      else if (r < 0.7) e.u64(BigInt(Math.floor(rand() * 2 ** 32)) << BigInt(Math.floor(rand() * 33)));
      else if (r < 0.8) e.u16(Math.floor(rand() * 20));
      else e.u8(Math.floor(rand() * 256));
    }
    const type = mode < 0.95 ? types[Math.floor(rand() * types.length)] : Math.floor(rand() * 256);
    let req = message(type, i & 0xffff, e);
    if (rand() < 0.05) req = req.slice(0, Math.floor(rand() * req.length));
    if (type === Tt.version && rand() < 0.9) continue; // keep the session mostly alive
    const maxReply = rand() < 0.1 ? Math.floor(rand() * 64) : 8192;
    let reply: Uint8Array;
    assert.doesNotThrow(() => { reply = share.handle(req, maxReply); }, `request ${i}`);
    checkReply(req, reply!, Math.max(maxReply, 11));
    if (reply![4] !== 7) ok++;
    if (i % 2000 === 0) { c.version(); c.attach(0); }
  }
  assert.ok(ok > 500, `enough requests succeeded to reach the handlers (${ok})`);
  assert.deepEqual(readdirSync(base).sort(), ['outside', 'share']);
  assert.deepEqual(readdirSync(join(base, 'outside')), ['keep']);
  assert.equal(readFileSync(join(base, 'outside', 'keep'), 'utf8'), 'keep');
});
