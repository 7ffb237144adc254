// Path safety. Guest paths are lists of components relative to the share root; a host
// path is only ever built here, from the root's realpath and components that passed
// checkName. The server never follows a symlink on the host:
//  - walks lstat each component and refuse to continue through anything not a directory;
//  - before a fid is used, lstat of its path must find the object it was walked to
//    (same st_dev, st_ino and file type), so a component replaced by a symlink since the
//    walk is caught, even when the new link reuses the old inode number;
//  - opens add O_NOFOLLOW, then fstat the fd against the same identity, then check that
//    the realpath of the parent directory is still inside the root.
// Remaining window (Node has no openat): a *host* process that swaps a parent directory
// for a symlink between these checks and the syscall that uses the path could redirect
// one operation. The guest itself cannot race: handle() is synchronous, so no guest
// request runs between our checks and our syscalls.

import { type BigIntStats, constants, fstatSync, lstatSync, openSync, closeSync, realpathSync } from 'node:fs';
import { Errno, fail } from './errors.js';
import type { Fid } from './fids.js';
import { S_IFMT } from './protocol.js';

const SLASH = 0x2f;

/** A name for a new or looked-up directory entry: one component, nothing special. */
export function checkName(name: Uint8Array): Buffer {
  if (name.length === 0 || name.includes(SLASH) || name.includes(0)) fail(Errno.EINVAL, 'bad name');
  if (name.length > 255) fail(Errno.ENAMETOOLONG);
  const b = Buffer.from(name);
  if (isDot(b) || isDotDot(b)) fail(Errno.EINVAL, 'name may not be . or ..');
  return b;
}

export const isDot = (b: Uint8Array) => b.length === 1 && b[0] === 0x2e;
export const isDotDot = (b: Uint8Array) => b.length === 2 && b[0] === 0x2e && b[1] === 0x2e;

export class ShareRoot {
  /** realpath of the root, so no symlink hides in the prefix of any host path we build. */
  readonly real: Buffer;
  private readonly prefix: Buffer;

  constructor(root: string) {
    this.real = realpathSync.native(root, { encoding: 'buffer' });
    this.prefix = this.real.length === 1 ? this.real : Buffer.concat([this.real, Buffer.from('/')]);
  }

  host(path: readonly Buffer[]): Buffer {
    if (path.length === 0) return this.real;
    const parts: Buffer[] = [this.prefix];
    path.forEach((c, i) => { if (i > 0) parts.push(Buffer.from('/')); parts.push(c); });
    return Buffer.concat(parts);
  }

  lstat(path: readonly Buffer[]): BigIntStats {
    return lstatSync(this.host(path), { bigint: true });
  }

  /** The object a fid names, provided it is still the one that was walked to. */
  verify(f: Fid): BigIntStats {
    if (f.xattr !== null) fail(Errno.EINVAL, 'xattr fid names no file');
    const st = this.lstat(f.path);
    if (!sameObject(st, f)) fail(Errno.ESTALE, 'object changed since walk');
    return st;
  }

  /** A fid naming a directory, checked as above, whose realpath is inside the root: the
   *  parent for creating, removing or renaming a single checked name inside it. */
  verifyDir(f: Fid): void {
    if (!this.verify(f).isDirectory()) fail(Errno.ENOTDIR);
    this.insideRoot(f.path);
  }

  /** realpath(path) must be the root or below it (not just any string prefix). */
  insideRoot(path: readonly Buffer[]): void {
    let real: Buffer;
    try {
      real = realpathSync.native(this.host(path), { encoding: 'buffer' });
    } catch {
      return fail(Errno.ENOENT, 'path vanished');
    }
    if (real.equals(this.real)) return;
    if (real.length > this.prefix.length && real.subarray(0, this.prefix.length).equals(this.prefix)) return;
    fail(Errno.EACCES, 'path resolves outside the share');
  }

  /** Opens what a fid names without following symlinks, and proves that the fd is the
   *  walked object inside the share. O_NONBLOCK keeps a FIFO swapped in by the host from
   *  blocking the VMM in open(); it changes nothing for regular files and directories. */
  open(f: Fid, flags: number, mode?: number): number {
    this.verify(f);
    const fd = openSync(this.host(f.path), flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!sameObject(st, f)) fail(Errno.ESTALE, 'object swapped during open');
      if (f.path.length > 0) this.insideRoot(f.path.slice(0, -1));
      return fd;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }
}

const sameObject = (st: BigIntStats, f: Fid) =>
  st.dev === f.dev && st.ino === f.ino && (Number(st.mode) & S_IFMT) === f.fmt;
