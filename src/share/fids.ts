// The fid table: what each guest fid names (a path inside the share, as components, plus
// the identity of the object seen when it was walked) and, once opened, its host fd.
// Bounded, so a guest cannot grow it without limit.

import { closeSync } from 'node:fs';
import { Errno, fail } from './errors.js';
import { NOFID } from './protocol.js';
import type { Qid } from './wire.js';

export interface DirEntry { name: Buffer; qid: Qid; type: number }

export interface Fid {
  /** Components relative to the share root; [] is the root. Never contains '.', '..'. */
  path: Buffer[];
  /** st_dev/st_ino when walked (or created): a later lstat or fstat must find the same
   *  object, otherwise something was swapped under the guest. */
  dev: bigint;
  ino: bigint;
  /** st_mode & S_IFMT at walk time: a reused inode number of another type still fails. */
  fmt: number;
  isDir: boolean;
  fd: number | null;
  /** The guest's Tlopen/Tlcreate flags while open, so a restored snapshot can reopen it. */
  openFlags: number | null;
  /** Listing snapshot of an open directory: readdir offsets index into it. */
  dirents: DirEntry[] | null;
  /** Set on fids made by Txattrwalk: the attribute value read through the fid. */
  xattr: Uint8Array | null;
  /** The guest user of the attach (n_uname), -1 if none: owner of what the fid creates. */
  uid: number;
}

export const DEFAULT_MAX_FIDS = 65536;

export class FidTable {
  private readonly fids = new Map<number, Fid>();

  constructor(readonly limit = DEFAULT_MAX_FIDS) {}

  get size(): number { return this.fids.size; }

  /** Live fids by id (snapshots). */
  entries(): IterableIterator<[number, Fid]> { return this.fids.entries(); }

  get(id: number): Fid {
    return this.fids.get(id) ?? fail(Errno.EBADF, `unknown fid ${id}`);
  }

  /** Fails unless `id` could be added now (9P forbids reusing a live fid). */
  checkFree(id: number): void {
    if (id === NOFID) fail(Errno.EBADF, 'NOFID cannot be used');
    if (this.fids.has(id)) fail(Errno.EINVAL, `fid ${id} already in use`);
    if (this.fids.size >= this.limit) fail(Errno.EMFILE, 'fid table full');
  }

  add(id: number, fid: Fid): void {
    this.checkFree(id);
    this.fids.set(id, fid);
  }

  /** Puts `fid` in place of the live fid `id` (Twalk with newfid == fid). */
  replace(id: number, fid: Fid): void {
    const old = this.get(id);
    if (old !== fid) release(old);
    this.fids.set(id, fid);
  }

  clunk(id: number): void {
    release(this.get(id));
    this.fids.delete(id);
  }

  /** After a rename in the share, fids at or below `from` now live below `to` (the
   *  guest keeps using them: its cwd, open directories). */
  renamed(from: Buffer[], to: Buffer[]): void {
    for (const f of this.fids.values()) {
      if (f.path.length >= from.length && from.every((c, i) => c.equals(f.path[i]))) {
        f.path = [...to, ...f.path.slice(from.length)];
      }
    }
  }

  clear(): void {
    for (const f of this.fids.values()) release(f);
    this.fids.clear();
  }
}

function release(f: Fid): void {
  if (f.fd !== null) {
    try { closeSync(f.fd); } catch { /* already gone; nothing to report to anyone */ }
    f.fd = null;
  }
  f.openFlags = null;
  f.dirents = null;
}
