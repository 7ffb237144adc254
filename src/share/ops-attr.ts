// Attributes and the requests Linux sends but a plain directory share has little to say
// to: getattr, setattr, readlink, xattrs, locks.

import {
  type BigIntStats, chmodSync, closeSync, constants, fchmodSync, fchownSync, fstatSync, ftruncateSync,
  futimesSync, lchownSync, lutimesSync, readlinkSync,
} from 'node:fs';
import { Errno, errnoOf, fail } from './errors.js';
import type { Fid } from './fids.js';
import { GETATTR_BASIC, LOCK_SUCCESS, LOCK_TYPE_UNLCK, SETATTR as A } from './protocol.js';
import { type Session, fidFor, qidOf, splitNs } from './session.js';
import type { Reader, Writer } from './wire.js';

/** The current attributes of what a fid names: fstat when it is open (exact even if the
 *  file was unlinked or renamed), else lstat of its checked path. */
function statOf(s: Session, f: Fid): BigIntStats {
  if (f.xattr !== null) fail(Errno.EINVAL, 'xattr fid');
  return f.fd !== null ? fstatSync(f.fd, { bigint: true }) : s.root.verify(f);
}

/** Tgetattr fid[4] request_mask[8] → Rgetattr valid[8] qid[13] mode[4] uid[4] gid[4]
 *  nlink[8] rdev[8] size[8] blksize[8] blocks[8] atime mtime ctime btime (sec[8] nsec[8]
 *  each) gen[8] data_version[8]. Everything basic is always answered. */
export function getattr(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  r.u64();
  const st = statOf(s, f);
  w.u64(GETATTR_BASIC).qid(qidOf(st))
    .u32(Number(st.mode)).u32(Number(st.uid)).u32(Number(st.gid))
    .u64(st.nlink).u64(st.rdev).u64(st.size).u64(st.blksize).u64(st.blocks);
  for (const ns of [st.atimeNs, st.mtimeNs, st.ctimeNs, st.birthtimeNs]) {
    const [sec, nsec] = splitNs(ns);
    w.u64(sec).u64(nsec);
  }
  w.u64(0).u64(0);
}

/** Tsetattr fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8] atime_nsec[8]
 *  mtime_sec[8] mtime_nsec[8] → Rsetattr. Mode and size go through an fd opened with
 *  O_NOFOLLOW (chmod/truncate by path would follow a swapped-in symlink); owner and
 *  times use the l* calls, which never follow. Times pass through a JS number of
 *  seconds, so they keep about microsecond precision. */
export function setattr(s: Session, r: Reader): void {
  const f = s.fids.get(r.u32());
  const valid = r.u32();
  const mode = r.u32() & 0o7777;
  const uid = r.u32();
  const gid = r.u32();
  const size = r.u64();
  const atime = toSeconds(r.u64(), r.u64());
  const mtime = toSeconds(r.u64(), r.u64());
  s.writable();
  const st = statOf(s, f);
  // Owner and times go by path when the fid is not open: its parent must still be ours.
  if (f.fd === null && f.path.length > 0) s.root.insideRoot(f.path.slice(0, -1));
  const host = s.root.host(f.path);
  if (valid & A.MODE) {
    if (st.isSymbolicLink()) fail(Errno.EINVAL, 'chmod of a symlink');
    withFd(s, f, constants.O_RDONLY, (fd) => fchmodSync(fd, mode), () => chmodSync(host, mode));
  }
  if (valid & (A.UID | A.GID)) {
    const u = valid & A.UID ? uid : -1;
    const g = valid & A.GID ? gid : -1;
    if (f.fd !== null) fchownSync(f.fd, u, g);
    else lchownSync(host, u, g);
  }
  if (valid & A.SIZE) {
    if (st.isDirectory()) fail(Errno.EISDIR);
    if (!st.isFile()) fail(Errno.EINVAL, 'truncate of a special file');
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.EFBIG);
    withFd(s, f, constants.O_WRONLY, (fd) => ftruncateSync(fd, Number(size)));
  }
  if (valid & (A.ATIME | A.MTIME)) {
    const now = Date.now() / 1000;
    const a = !(valid & A.ATIME) ? Number(st.atimeNs) / 1e9 : valid & A.ATIME_SET ? atime : now;
    const m = !(valid & A.MTIME) ? Number(st.mtimeNs) / 1e9 : valid & A.MTIME_SET ? mtime : now;
    if (f.fd !== null) futimesSync(f.fd, a, m);
    else lutimesSync(host, a, m);
  }
}

const toSeconds = (sec: bigint, nsec: bigint) => Number(BigInt.asIntN(64, sec)) + Number(nsec % 1_000_000_000n) / 1e9;

/** Runs `use` on a fresh fd of the fid's object (checked like Tlopen), or when the host
 *  refuses such an open for permissions, `fallback` on the already-checked path. */
function withFd(s: Session, f: Fid, flags: number, use: (fd: number) => void, fallback?: () => void): void {
  if (f.fd !== null) {
    try {
      return use(f.fd);
    } catch (e) {
      // The guest's fd may be open read-only (ftruncate refuses it): try a fresh one.
      if (errnoOf(e) !== Errno.EBADF && errnoOf(e) !== Errno.EINVAL) throw e;
    }
  }
  let fd: number;
  try {
    fd = s.root.open(f, flags);
  } catch (e) {
    const errno = errnoOf(e);
    if (fallback && (errno === Errno.EACCES || errno === Errno.ENXIO)) return fallback();
    throw e;
  }
  try { use(fd); } finally { closeSync(fd); }
}

/** Treadlink fid[4] → Rreadlink target[s]. */
export function readlink(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  if (!statOf(s, f).isSymbolicLink()) fail(Errno.EINVAL, 'not a symlink');
  w.str(readlinkSync(s.root.host(f.path), { encoding: 'buffer' }));
}

/** Txattrwalk fid[4] newfid[4] name[s] → Rxattrwalk size[8]. Host xattrs are not
 *  exported: the list (empty name) is empty, any named attribute does not exist. */
export function xattrwalk(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  const newId = r.u32();
  const name = r.str();
  const st = statOf(s, f);
  if (name.length > 0) fail(Errno.ENODATA);
  s.fids.add(newId, { ...fidFor(f.path.slice(), st, f.uid), xattr: new Uint8Array(0) });
  w.u64(0);
}

/** Txattrcreate fid[4] name[s] attr_size[8] flags[4]: setting xattrs is not supported. */
export function xattrcreate(s: Session, r: Reader): void {
  s.fids.get(r.u32());
  r.str();
  r.u64();
  r.u32();
  s.writable();
  fail(Errno.EOPNOTSUPP, 'xattrs are not supported');
}

/** Tlock fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s] →
 *  Rlock status[1]. The guest is the share's only client and its kernel arbitrates
 *  between its own processes, so every lock is granted. */
export function lock(s: Session, r: Reader, w: Writer): void {
  s.fids.get(r.u32());
  r.u8(); r.u32(); r.u64(); r.u64(); r.u32(); r.str();
  w.u8(LOCK_SUCCESS);
}

/** Tgetlock fid[4] type[1] start[8] length[8] proc_id[4] client_id[s] → Rgetlock with
 *  the same fields: always "unlocked" (see lock). */
export function getlock(s: Session, r: Reader, w: Writer): void {
  s.fids.get(r.u32());
  r.u8();
  const start = r.u64();
  const length = r.u64();
  const proc = r.u32();
  const client = r.str();
  w.u8(LOCK_TYPE_UNLCK).u64(start).u64(length).u32(proc).str(client);
}
