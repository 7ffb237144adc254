// Session-level requests: version, attach, walk, clunk, flush, statfs.

import { statfsSync } from 'node:fs';
import { Errno, fail } from './errors.js';
import { isDot, isDotDot } from './paths.js';
import { MAX_WALK, NOFID } from './protocol.js';
import { type Session, MAX_MSIZE, MIN_MSIZE, fidFor, qidOf } from './session.js';
import type { Qid, Reader, Writer } from './wire.js';

const VERSION = Buffer.from('9P2000.L');

/** Tversion msize[4] version[s] → Rversion msize[4] version[s]. Starts a new session:
 *  every fid of the previous one is released. */
export function version(s: Session, r: Reader, w: Writer): void {
  const msize = r.u32();
  const ver = Buffer.from(r.str());
  if (msize < MIN_MSIZE) fail(Errno.EINVAL, `msize ${msize} too small`);
  s.fids.clear();
  s.msize = Math.min(msize, MAX_MSIZE);
  const ok = ver.length >= VERSION.length && ver.subarray(0, VERSION.length).equals(VERSION);
  w.u32(s.msize).str(ok ? VERSION : Buffer.from('unknown'));
}

/** Tattach fid[4] afid[4] uname[s] aname[s] n_uname[4] → Rattach qid. uname and aname
 *  are ignored: the share is one directory, with no authentication. */
export function attach(s: Session, r: Reader, w: Writer): void {
  const id = r.u32();
  r.u32();
  r.str();
  r.str();
  const nUname = r.remaining >= 4 ? r.u32() : NOFID;
  const st = s.root.lstat([]);
  if (!st.isDirectory()) fail(Errno.ENOTDIR, 'share root is no longer a directory');
  s.fids.add(id, fidFor([], st, nUname === NOFID ? -1 : nUname));
  w.qid(qidOf(st));
}

/** Twalk fid[4] newfid[4] nwname[2] wname[s]*nwname → Rwalk nwqid[2] qid*nwqid.
 *  Names are single components; ".." never climbs above the root; nothing but a real
 *  directory (lstat: never a symlink) is walked through. A walk that fails after the
 *  first name answers with the qids so far and creates no fid, as 9P specifies. */
export function walk(s: Session, r: Reader, w: Writer): void {
  const id = r.u32();
  const newId = r.u32();
  const n = r.u16();
  if (n > MAX_WALK) fail(Errno.EINVAL, `walk of ${n} names`);
  const names: Uint8Array[] = [];
  for (let i = 0; i < n; i++) names.push(r.str());
  const from = s.fids.get(id);
  if (from.xattr !== null) fail(Errno.EINVAL, 'walk from an xattr fid');
  if (newId !== id) s.fids.checkFree(newId);
  let st = s.root.verify(from);
  const path = from.path.slice();
  const qids: Qid[] = [];
  for (const name of names) {
    try {
      if (name.length === 0 || name.includes(0x2f) || name.includes(0)) fail(Errno.EINVAL, 'bad name');
      if (!st.isDirectory()) fail(Errno.ENOTDIR, 'walk through a non-directory');
      if (isDotDot(name)) path.pop();
      else if (!isDot(name)) path.push(Buffer.from(name));
      st = s.root.lstat(path);
    } catch (e) {
      if (qids.length === 0) throw e;
      break;
    }
    qids.push(qidOf(st));
  }
  if (qids.length === n) {
    const f = fidFor(path, st, from.uid);
    if (newId === id) s.fids.replace(id, f);
    else s.fids.add(newId, f);
  }
  w.u16(qids.length);
  for (const q of qids) w.qid(q);
}

/** Tclunk fid[4] → Rclunk. */
export function clunk(s: Session, r: Reader): void {
  s.fids.clunk(r.u32());
}

/** Tflush oldtag[2] → Rflush. Requests are answered synchronously, so nothing is ever
 *  in flight to cancel. */
export function flush(_s: Session, r: Reader): void {
  r.u16();
}

/** Tstatfs fid[4] → Rstatfs type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8]
 *  ffree[8] fsid[8] namelen[4], of the file system holding the share. */
export function statfs(s: Session, r: Reader, w: Writer): void {
  s.root.verify(s.fids.get(r.u32()));
  const st = statfsSync(s.root.real, { bigint: true });
  w.u32(Number(BigInt.asUintN(32, st.type))).u32(Number(st.bsize))
    .u64(st.blocks).u64(st.bfree).u64(st.bavail).u64(st.files).u64(st.ffree)
    .u64(0).u32(255);
}
