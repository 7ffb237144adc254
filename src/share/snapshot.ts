// The 9P session in a snapshot: msize and every fid as a path inside the share, with the
// flags it was opened with. Host fds cannot cross into another process, so restore walks
// each path again, with a live Twalk's checks (every component a real directory, never a
// symlink, the object inside the share) and reopens what was open (without O_TRUNC: the
// truncation happened before the snapshot). A fid whose object is gone from the host is
// dropped: the guest gets EBADF for it, as it would for any unknown fid. Xattr fids (a
// value being read or written) are not carried over either.

import { constants, type BigIntStats } from 'node:fs';
import { StateReader } from '../devices/snapshot.js';
import type { Fid } from './fids.js';
import { isDot, isDotDot } from './paths.js';
import { L, NOFID } from './protocol.js';
import { type Session, fidFor, hostFlags, MAX_MSIZE, MIN_MSIZE } from './session.js';

export interface ShareFidState {
  id: number;
  /** Components from the share root. */
  path: Uint8Array[];
  uid: number;
  open: boolean;
  /** Guest open flags when open, else 0. */
  flags: number;
}

export interface ShareState {
  msize: number;
  fids: ShareFidState[];
}

export function saveShare(s: Session): ShareState {
  const fids: ShareFidState[] = [];
  for (const [id, f] of s.fids.entries()) {
    if (f.xattr !== null) continue;
    fids.push({ id, path: f.path.map((c) => Uint8Array.from(c)), uid: f.uid, open: f.fd !== null, flags: f.openFlags ?? 0 });
  }
  return { msize: s.msize, fids };
}

/** The object at `path`, reached as Twalk reaches it. */
function rewalk(s: Session, path: Buffer[]): BigIntStats {
  let st = s.root.lstat([]);
  for (let i = 1; i <= path.length; i++) {
    if (!st.isDirectory()) throw new Error('walk through a non-directory');
    st = s.root.lstat(path.slice(0, i));
  }
  s.root.insideRoot(path.length > 0 && !st.isDirectory() ? path.slice(0, -1) : path);
  return st;
}

export function restoreShare(s: Session, state: unknown): void {
  const r = StateReader.of(state, '9p');
  const msize = r.int('msize', MIN_MSIZE, MAX_MSIZE);
  const seen = new Set<number>();
  const fids = r.objects('fids', { max: s.fids.limit }).map((f: StateReader) => {
    const id = f.int('id', 0, NOFID - 1);
    if (seen.has(id)) f.fail('id', `fid ${id} appears twice`);
    seen.add(id);
    const path = f.list('path', { max: 4096 }).map((c, i) => {
      if (!(c instanceof Uint8Array) || c.length === 0 || c.length > 255 || c.includes(0x2f) || c.includes(0) || isDot(c) || isDotDot(c)) {
        f.fail(`path[${i}]`, 'not a file name');
      }
      return Buffer.from(c);
    });
    return { id, path, uid: f.int('uid', -1, 0xffff_ffff), open: f.bool('open'), flags: f.int('flags', 0, 0xffff_ffff) };
  });
  s.fids.clear();
  s.msize = msize;
  for (const saved of fids) {
    let fid: Fid;
    try {
      const st = rewalk(s, saved.path);
      fid = fidFor(saved.path, st, saved.uid);
      if (saved.open) {
        if (!st.isFile() && !st.isDirectory()) continue;
        fid.fd = s.root.open(fid, hostFlags(saved.flags & ~L.TRUNC) | (st.isDirectory() ? constants.O_DIRECTORY : 0));
        fid.openFlags = saved.flags;
      }
    } catch {
      continue;
    }
    s.fids.add(saved.id, fid);
  }
}
