// Per-connection state shared by the handlers, and the small conversions they all use
// (host stat → qid, guest open flags → host open flags, fids for walked objects).

import { type BigIntStats, constants, fchownSync, lchownSync } from 'node:fs';
import { Errno, fail } from './errors.js';
import { type Fid, FidTable } from './fids.js';
import type { ShareRoot } from './paths.js';
import { DT, L, QT_DIR, QT_FILE, QT_SYMLINK, S_IFMT } from './protocol.js';
import type { Qid } from './wire.js';

/** Linux's client starts at 8192 before Tversion; we grant at most MAX_MSIZE. */
export const DEFAULT_MSIZE = 8192;
export const MAX_MSIZE = 512 * 1024;
/** Below this an Rgetattr plus one longest readdir entry would not fit. */
export const MIN_MSIZE = 512;
/** size[4] type[1] tag[2] count[4]: the header of Rread and Rreaddir. */
export const IO_HEADER = 11;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export class Session {
  msize = DEFAULT_MSIZE;
  /** Room for the reply being built: min(msize, what the transport gave). */
  room = DEFAULT_MSIZE;
  readonly fids: FidTable;

  constructor(readonly root: ShareRoot, readonly readOnly: boolean, maxFids?: number) {
    this.fids = new FidTable(maxFids);
  }

  /** Every mutating request calls this before touching anything. */
  writable(): void {
    if (this.readOnly) fail(Errno.EROFS, 'read-only share');
  }

  /** Payload room in an Rread/Rreaddir for a guest-requested count. */
  ioCount(requested: number): number {
    return Math.max(0, Math.min(requested, this.room - IO_HEADER));
  }

  /** Gives a new object the guest's owner when the VMM runs as root (like QEMU's
   *  passthrough model); as an ordinary user the host cannot, and files stay ours. */
  own(target: number | Buffer, uid: number, gid: number): void {
    if (!isRoot) return;
    const g = gid === 0xffffffff ? -1 : gid;
    try {
      if (typeof target === 'number') fchownSync(target, uid, g);
      else lchownSync(target, uid, g);
    } catch { /* best effort: ownership is advisory for the guest */ }
  }
}

export function qidOf(st: BigIntStats): Qid {
  const type = st.isDirectory() ? QT_DIR : st.isSymbolicLink() ? QT_SYMLINK : QT_FILE;
  // The version only has to change when the content does: microseconds of mtime.
  return { type, version: Number(BigInt.asUintN(32, st.mtimeNs / 1000n)), path: st.ino };
}

export function dtOf(st: BigIntStats): number {
  if (st.isDirectory()) return DT.DIR;
  if (st.isFile()) return DT.REG;
  if (st.isSymbolicLink()) return DT.LNK;
  if (st.isFIFO()) return DT.FIFO;
  if (st.isCharacterDevice()) return DT.CHR;
  if (st.isBlockDevice()) return DT.BLK;
  return DT.SOCK;
}

export function fidFor(path: Buffer[], st: BigIntStats, uid: number): Fid {
  return {
    path, dev: st.dev, ino: st.ino, fmt: Number(st.mode) & S_IFMT, isDir: st.isDirectory(),
    fd: null, openFlags: null, dirents: null, xattr: null, uid,
  };
}

/** Guest (Linux generic) open flags → this host's. Only flags with a meaning for a file
 *  server pass; O_CREAT/O_EXCL are added by Tlcreate itself, O_NOFOLLOW always. */
export function hostFlags(l: number): number {
  const c = constants;
  let h: number;
  switch (l & L.ACCMODE) {
    case 0: h = c.O_RDONLY; break;
    case L.WRONLY: h = c.O_WRONLY; break;
    case L.RDWR: h = c.O_RDWR; break;
    default: return fail(Errno.EINVAL, 'bad access mode');
  }
  if (l & L.TRUNC) h |= c.O_TRUNC;
  if (l & L.APPEND) h |= c.O_APPEND;
  if ((l & L.SYNC) === L.SYNC) h |= c.O_SYNC;
  else if (l & L.DSYNC) h |= c.O_DSYNC;
  if (l & L.DIRECTORY) h |= c.O_DIRECTORY;
  return h;
}

/** Whether guest open flags ask to change the file (refused on a read-only share). */
export const writesFile = (l: number) => (l & L.ACCMODE) !== 0 || (l & L.TRUNC) !== 0;

/** Splits nanoseconds since the epoch into (sec, nsec) with 0 <= nsec < 1e9. */
export function splitNs(ns: bigint): [bigint, bigint] {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) { sec -= 1n; nsec += 1_000_000_000n; }
  return [sec, nsec];
}
