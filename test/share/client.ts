// A test-side 9P2000.L client: encodes T-messages and decodes R-messages on its own
// (sharing no code with the server), so a wire bug in either shows up as a failure.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NinePServer } from '../../src/devices/ninep.js';
import { DirectoryShare } from '../../src/share/index.js';

export const Tt = {
  statfs: 8, lopen: 12, lcreate: 14, symlink: 16, mknod: 18, rename: 20, readlink: 22,
  getattr: 24, setattr: 26, xattrwalk: 30, xattrcreate: 32, readdir: 40, fsync: 50, lock: 52,
  getlock: 54, link: 70, mkdir: 72, renameat: 74, unlinkat: 76, version: 100, auth: 102,
  attach: 104, flush: 108, walk: 110, read: 116, write: 118, clunk: 120, remove: 122,
} as const;

export const E = {
  EPERM: 1, ENOENT: 2, ENXIO: 6, EBADF: 9, EACCES: 13, EBUSY: 16, EEXIST: 17, ENOTDIR: 20,
  EISDIR: 21, EINVAL: 22, EMFILE: 24, EROFS: 30, ERANGE: 34, ENOTEMPTY: 39, ELOOP: 40,
  ENODATA: 61, EOPNOTSUPP: 95, ESTALE: 116,
} as const;

export const O = { RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, DIRECTORY: 0o200000 };

/** Little-endian message body builder. */
export class Enc {
  bytes: number[] = [];
  u8(v: number) { this.bytes.push(v & 0xff); return this; }
  u16(v: number) { return this.u8(v).u8(v >>> 8); }
  u32(v: number) { return this.u16(v & 0xffff).u16(v >>> 16); }
  u64(v: bigint | number) { const b = BigInt.asUintN(64, BigInt(v)); return this.u32(Number(b & 0xffffffffn)).u32(Number(b >> 32n)); }
  str(s: string | Uint8Array) {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    this.u16(b.length);
    for (const x of b) this.u8(x);
    return this;
  }
  data(b: Uint8Array) { for (const x of b) this.u8(x); return this; }
}

export function message(type: number, tag: number, body: Enc): Uint8Array {
  const out = new Uint8Array(7 + body.bytes.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint8(4, type);
  v.setUint16(5, tag, true);
  out.set(body.bytes, 7);
  return out;
}

/** Bounds-checked reader of a reply; asserts rather than reading past the end. */
export class Dec {
  private v: DataView;
  constructor(readonly buf: Uint8Array, public pos = 0) { this.v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength); }
  private at(n: number) { assert.ok(this.pos + n <= this.buf.length, 'reply truncated'); const p = this.pos; this.pos += n; return p; }
  u8() { return this.v.getUint8(this.at(1)); }
  u16() { return this.v.getUint16(this.at(2), true); }
  u32() { return this.v.getUint32(this.at(4), true); }
  u64() { return this.v.getBigUint64(this.at(8), true); }
  raw() { const n = this.u16(); const p = this.at(n); return Buffer.from(this.buf.subarray(p, p + n)); }
  str() { return this.raw().toString(); }
  bytes(n: number) { const p = this.at(n); return this.buf.subarray(p, p + n); }
  qid() { return { type: this.u8(), version: this.u32(), path: this.u64() }; }
  get done() { return this.pos === this.buf.length; }
}

export type Qid = ReturnType<Dec['qid']>;

export class NineFail extends Error {
  constructor(readonly errno: number) { super(`Rlerror ${errno}`); }
}

export class Client {
  private nextTag = 1;
  constructor(readonly server: NinePServer, public maxReply = 1 << 20) {}

  /** Sends one request; checks the reply's framing and tag; throws NineFail on Rlerror. */
  rpc(type: number, body: Enc): Dec {
    const tag = this.nextTag++ & 0x7fff;
    const reply = this.server.handle(message(type, tag, body), this.maxReply);
    const d = new Dec(reply);
    assert.equal(d.u32(), reply.length, 'reply size field');
    const rtype = d.u8();
    assert.equal(d.u16(), tag, 'reply tag');
    if (rtype === 7) { const errno = d.u32(); assert.ok(d.done); throw new NineFail(errno); }
    assert.equal(rtype, type + 1, 'reply type');
    return d;
  }

  /** The errno of a request that must fail. */
  errno(type: number, body: Enc): number {
    try { this.rpc(type, body); } catch (e) { if (e instanceof NineFail) return e.errno; throw e; }
    assert.fail(`request ${type} succeeded, expected an Rlerror`);
  }

  version(msize = 65536, ver = '9P2000.L') { const d = this.rpc(Tt.version, new Enc().u32(msize).str(ver)); return { msize: d.u32(), version: d.str() }; }
  attach(fid: number, nUname = 0) { return this.rpc(Tt.attach, new Enc().u32(fid).u32(0xffffffff).str('root').str('').u32(nUname)).qid(); }
  walk(fid: number, newfid: number, names: (string | Uint8Array)[]): Qid[] {
    const e = new Enc().u32(fid).u32(newfid).u16(names.length);
    for (const n of names) e.str(n);
    const d = this.rpc(Tt.walk, e);
    const n = d.u16();
    return Array.from({ length: n }, () => d.qid());
  }
  lopen(fid: number, flags: number) { const d = this.rpc(Tt.lopen, new Enc().u32(fid).u32(flags)); return { qid: d.qid(), iounit: d.u32() }; }
  lcreate(fid: number, name: string, flags: number, mode: number) { return this.rpc(Tt.lcreate, new Enc().u32(fid).str(name).u32(flags).u32(mode).u32(0)).qid(); }
  read(fid: number, offset: number | bigint, count: number) { const d = this.rpc(Tt.read, new Enc().u32(fid).u64(offset).u32(count)); return Buffer.from(d.bytes(d.u32())); }
  write(fid: number, offset: number, data: Uint8Array) { return this.rpc(Tt.write, new Enc().u32(fid).u64(offset).u32(data.length).data(data)).u32(); }
  clunk(fid: number) { this.rpc(Tt.clunk, new Enc().u32(fid)); }
  getattr(fid: number) {
    const d = this.rpc(Tt.getattr, new Enc().u32(fid).u64(0x3fff));
    const valid = d.u64(); const qid = d.qid();
    const mode = d.u32(); const uid = d.u32(); const gid = d.u32();
    const [nlink, rdev, size, blksize, blocks] = [d.u64(), d.u64(), d.u64(), d.u64(), d.u64()];
    const t = Array.from({ length: 8 }, () => d.u64());
    d.u64(); d.u64();
    assert.ok(d.done, 'Rgetattr length');
    return { valid, qid, mode, uid, gid, nlink, rdev, size, blksize, blocks, atime: [t[0], t[1]], mtime: [t[2], t[3]], ctime: [t[4], t[5]] };
  }
  setattr(fid: number, a: { valid: number; mode?: number; size?: number; atime?: [number, number]; mtime?: [number, number] }) {
    this.rpc(Tt.setattr, new Enc().u32(fid).u32(a.valid).u32(a.mode ?? 0).u32(0).u32(0).u64(a.size ?? 0)
      .u64(a.atime?.[0] ?? 0).u64(a.atime?.[1] ?? 0).u64(a.mtime?.[0] ?? 0).u64(a.mtime?.[1] ?? 0));
  }
  readdir(fid: number, offset: bigint, count: number) {
    const d = this.rpc(Tt.readdir, new Enc().u32(fid).u64(offset).u32(count));
    const end = d.u32() + d.pos;
    const out: { qid: Qid; offset: bigint; type: number; name: string; raw: Buffer }[] = [];
    while (d.pos < end) {
      const [qid, offset, type, raw] = [d.qid(), d.u64(), d.u8(), d.raw()];
      out.push({ qid, offset, type, raw, name: raw.toString() });
    }
    assert.ok(d.done, 'Rreaddir length');
    return out;
  }
  mkdir(dfid: number, name: string, mode = 0o755) { return this.rpc(Tt.mkdir, new Enc().u32(dfid).str(name).u32(mode).u32(0)).qid(); }
  symlink(dfid: number, name: string, target: string) { return this.rpc(Tt.symlink, new Enc().u32(dfid).str(name).str(target).u32(0)).qid(); }
  readlink(fid: number) { return this.rpc(Tt.readlink, new Enc().u32(fid)).str(); }
  link(dfid: number, fid: number, name: string) { this.rpc(Tt.link, new Enc().u32(dfid).u32(fid).str(name)); }
  unlinkat(dfid: number, name: string, flags = 0) { this.rpc(Tt.unlinkat, new Enc().u32(dfid).str(name).u32(flags)); }
  renameat(od: number, oldName: string, nd: number, newName: string) { this.rpc(Tt.renameat, new Enc().u32(od).str(oldName).u32(nd).str(newName)); }
  rename(fid: number, dfid: number, name: string) { this.rpc(Tt.rename, new Enc().u32(fid).u32(dfid).str(name)); }
  remove(fid: number) { this.rpc(Tt.remove, new Enc().u32(fid)); }
  mknod(dfid: number, name: string, mode: number) { return this.rpc(Tt.mknod, new Enc().u32(dfid).str(name).u32(mode).u32(0).u32(0).u32(0)).qid(); }
  statfs(fid: number) {
    const d = this.rpc(Tt.statfs, new Enc().u32(fid));
    const r = { type: d.u32(), bsize: d.u32(), blocks: d.u64(), bfree: d.u64(), bavail: d.u64(), files: d.u64(), ffree: d.u64(), fsid: d.u64(), namelen: d.u32() };
    assert.ok(d.done);
    return r;
  }
}

/** A fresh temp directory removed after the test. */
export function tempDir(t: { after(fn: () => void): void }, prefix = 'rvisor-share-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A writable share over a temp directory holding hello.txt and sub/inner, attached
 *  as fid 0. */
export function openShare(t: { after(fn: () => void): void }) {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'hello.txt'), 'hello, world\n');
  writeFileSync(join(dir, 'sub', 'inner'), 'inner');
  const share = new DirectoryShare({ root: dir, tag: 'hostshare' });
  t.after(() => share.close());
  const c = new Client(share);
  c.version();
  c.attach(0);
  return { dir, share, c };
}
