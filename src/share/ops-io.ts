// Opening and file I/O: lopen, lcreate, read, write, fsync, readdir.

import {
  closeSync, constants, existsSync, fchmodSync, fdatasyncSync, fstatSync, fsyncSync, lstatSync,
  openSync, readSync, readdirSync, writeSync,
} from 'node:fs';
import { Errno, fail } from './errors.js';
import type { DirEntry, Fid } from './fids.js';
import { checkName } from './paths.js';
import { L, S_IFREG } from './protocol.js';
import { type Session, dtOf, hostFlags, qidOf, writesFile } from './session.js';
import type { Reader, Writer } from './wire.js';

/** 0 tells Linux to use msize minus the I/O header for each read and write. */
const IOUNIT = 0;
const MAX_OFFSET = (1n << 63n) - 1n;
/** Linux's /proc/self/fd/N reaches an open directory itself, whatever its path is now. */
const PROC_FD = existsSync('/proc/self/fd') ? '/proc/self/fd/' : null;

/** Tlopen fid[4] flags[4] → Rlopen qid[13] iounit[4]. Only regular files and
 *  directories open: a FIFO, socket or device node would let a guest block the VMM in a
 *  synchronous read or reach host devices. */
export function lopen(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  const flags = r.u32();
  if (writesFile(flags)) s.writable();
  if (f.fd !== null || f.xattr !== null) fail(Errno.EINVAL, 'fid already open');
  const st = s.root.verify(f);
  if (st.isSymbolicLink()) fail(Errno.ELOOP, 'open of a symlink');
  if (!st.isFile() && !st.isDirectory()) fail(Errno.ENXIO, 'special file');
  let host = hostFlags(flags);
  if (st.isDirectory()) host |= constants.O_DIRECTORY;
  f.fd = s.root.open(f, host);
  f.openFlags = flags;
  f.dirents = null;
  w.qid(qidOf(st)).u32(IOUNIT);
}

/** Tlcreate fid[4] name[s] flags[4] mode[4] gid[4] → Rlcreate qid[13] iounit[4]. The
 *  directory fid becomes the new, open file. */
export function lcreate(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  const name = checkName(r.str());
  const flags = r.u32();
  const mode = r.u32() & 0o7777;
  const gid = r.u32();
  s.writable();
  if (f.fd !== null || f.xattr !== null) fail(Errno.EINVAL, 'fid already open');
  s.root.verifyDir(f);
  const path = [...f.path, name];
  const host = s.root.host(path);
  const base = hostFlags(flags & ~L.DIRECTORY) | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  // O_EXCL first tells us whether we made the file: only then do mode and owner apply
  // (and the mode is set exactly, not narrowed by the VMM's umask).
  let fd: number;
  let created = true;
  try {
    fd = openSync(host, base | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (e) {
    if ((flags & L.EXCL) || (e as { code?: string }).code !== 'EEXIST') throw e;
    created = false;
    fd = openSync(host, base);
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) fail(Errno.ENXIO, 'not a regular file');
    s.root.insideRoot(f.path);
    if (created) {
      s.own(fd, f.uid, gid); // before the mode: chown clears setuid and setgid
      fchmodSync(fd, mode);
    }
    Object.assign(f, { path, dev: st.dev, ino: st.ino, fmt: S_IFREG, isDir: false, fd, openFlags: flags, dirents: null });
    w.qid(qidOf(st)).u32(IOUNIT);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Tread fid[4] offset[8] count[4] → Rread count[4] data. */
export function read(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  const offset = r.u64();
  const count = s.ioCount(r.u32());
  const countAt = w.reserve(4);
  if (f.xattr !== null) {
    const start = Number(offset < BigInt(f.xattr.length) ? offset : BigInt(f.xattr.length));
    const part = f.xattr.subarray(start, start + count);
    w.data(part);
    w.patchU32(countAt, part.length);
    return;
  }
  if (f.fd === null) fail(Errno.EBADF, 'fid not open');
  if (offset > MAX_OFFSET) fail(Errno.EINVAL, 'offset too large');
  const at = w.reserve(count);
  const n = readSync(f.fd as number, w.bytes, at, count, offset);
  w.unreserve(count - n);
  w.patchU32(countAt, n);
}

/** Twrite fid[4] offset[8] count[4] data[count] → Rwrite count[4]. A count larger than
 *  the data actually in the message is clamped to it. */
export function write(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  const offset = r.u64();
  const data = r.bytesUpTo(r.u32());
  s.writable();
  if (f.fd === null) fail(Errno.EBADF, 'fid not open');
  if (offset + BigInt(data.length) > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.EFBIG);
  let done = 0;
  while (done < data.length) {
    const n = writeSync(f.fd as number, data, done, data.length - done, Number(offset) + done);
    if (n <= 0) break;
    done += n;
  }
  w.u32(done);
}

/** Tfsync fid[4] datasync[4] → Rfsync (older clients send no datasync). */
export function fsync(s: Session, r: Reader): void {
  const f = s.fids.get(r.u32());
  const dataOnly = r.remaining >= 4 && r.u32() !== 0;
  if (f.fd === null) fail(Errno.EBADF, 'fid not open');
  if (dataOnly) fdatasyncSync(f.fd as number);
  else fsyncSync(f.fd as number);
}

/** Treaddir fid[4] offset[8] count[4] → Rreaddir count[4] (qid[13] offset[8] type[1]
 *  name[s])*. The listing is snapshotted when read from offset 0 (opendir, rewinddir)
 *  and entry i carries offset i + 1, so offsets are stable cookies for the open fid:
 *  resuming, telldir/seekdir, entries added or removed meanwhile all stay consistent. */
export function readdir(s: Session, r: Reader, w: Writer): void {
  const f = s.fids.get(r.u32());
  const offset = r.u64();
  const count = s.ioCount(r.u32());
  if (f.fd === null) fail(Errno.EBADF, 'directory not open');
  if (!f.isDir) fail(Errno.ENOTDIR);
  if (offset === 0n || f.dirents === null) f.dirents = snapshot(s, f);
  const countAt = w.reserve(4);
  let used = 0;
  for (let i = Number(offset); i < f.dirents.length; i++) {
    const e = f.dirents[i];
    const size = 13 + 8 + 1 + 2 + e.name.length;
    if (used + size > count) break;
    w.qid(e.qid).u64(i + 1).u8(e.type).str(e.name);
    used += size;
  }
  w.patchU32(countAt, used);
}

function snapshot(s: Session, f: Fid): DirEntry[] {
  const self = fstatSync(f.fd as number, { bigint: true });
  // Through /proc the listing comes from the opened directory even if its path has been
  // swapped since; elsewhere the path is re-checked first.
  let dir: Buffer;
  if (PROC_FD !== null) dir = Buffer.from(PROC_FD + String(f.fd));
  else { s.root.verifyDir(f); dir = s.root.host(f.path); }
  const parent = f.path.length > 0 ? s.root.lstat(f.path.slice(0, -1)) : self;
  const out: DirEntry[] = [
    { name: Buffer.from('.'), qid: qidOf(self), type: dtOf(self) },
    { name: Buffer.from('..'), qid: qidOf(parent), type: dtOf(parent) },
  ];
  const slash = Buffer.from('/');
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    let st;
    try {
      st = lstatSync(Buffer.concat([dir, slash, name]), { bigint: true });
    } catch {
      continue; // removed since the listing: leave it out
    }
    out.push({ name, qid: qidOf(st), type: dtOf(st) });
  }
  return out;
}
