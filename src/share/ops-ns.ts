// Namespace changes: mkdir, symlink, mknod, link, unlinkat, renameat, rename, remove.
// Each one works on a directory fid checked with verifyDir plus one name that passed
// checkName, and uses calls that never follow a symlink in the final component.

import { spawnSync } from 'node:child_process';
import {
  accessSync, closeSync, constants, fchmodSync, linkSync, lstatSync, mkdirSync, openSync, renameSync, rmdirSync,
  symlinkSync, unlinkSync,
} from 'node:fs';
import { Errno, fail } from './errors.js';
import type { Fid } from './fids.js';
import { checkName } from './paths.js';
import { AT_REMOVEDIR, S_IFIFO, S_IFMT, S_IFREG } from './protocol.js';
import { type Session, qidOf } from './session.js';
import type { Reader, Writer } from './wire.js';

/** Tmkdir dfid[4] name[s] mode[4] gid[4] → Rmkdir qid. */
export function mkdir(s: Session, r: Reader, w: Writer): void {
  const d = s.fids.get(r.u32());
  const name = checkName(r.str());
  const mode = r.u32() & 0o7777;
  const gid = r.u32();
  s.writable();
  s.root.verifyDir(d);
  const path = [...d.path, name];
  mkdirSync(s.root.host(path), mode);
  applyMode(s, d, path, mode, gid, constants.O_DIRECTORY);
  w.qid(qidOf(s.root.lstat(path)));
}

/** Tsymlink fid[4] name[s] symtgt[s] gid[4] → Rsymlink qid. The target is stored as
 *  given: it is data for the guest, which resolves it in its own view; the host never
 *  follows it. */
export function symlink(s: Session, r: Reader, w: Writer): void {
  const d = s.fids.get(r.u32());
  const name = checkName(r.str());
  const target = Buffer.from(r.str());
  const gid = r.u32();
  s.writable();
  if (target.length === 0) fail(Errno.ENOENT, 'empty symlink target');
  if (target.includes(0)) fail(Errno.EINVAL, 'NUL in symlink target');
  if (target.length >= 4096) fail(Errno.ENAMETOOLONG);
  s.root.verifyDir(d);
  const path = [...d.path, name];
  const host = s.root.host(path);
  symlinkSync(target, host);
  s.own(host, d.uid, gid);
  w.qid(qidOf(s.root.lstat(path)));
}

/** Tmknod dfid[4] name[s] mode[4] major[4] minor[4] gid[4] → Rmknod qid. Regular files
 *  and FIFOs only: device nodes would hand the guest host devices (EPERM), sockets
 *  cannot be made without binding one (EOPNOTSUPP). Node has no mkfifo, so FIFOs come
 *  from the mkfifo command, given the checked absolute path. */
export function mknod(s: Session, r: Reader, w: Writer): void {
  const d = s.fids.get(r.u32());
  const name = checkName(r.str());
  const mode = r.u32();
  r.u32();
  r.u32();
  const gid = r.u32();
  s.writable();
  const type = mode & S_IFMT;
  const perm = mode & 0o7777;
  if (type !== 0 && type !== S_IFREG && type !== S_IFIFO) {
    fail(type === 0o140000 ? Errno.EOPNOTSUPP : Errno.EPERM, 'device nodes are not allowed');
  }
  s.root.verifyDir(d);
  const path = [...d.path, name];
  const host = s.root.host(path);
  if (type === S_IFIFO) {
    if (exists(host)) fail(Errno.EEXIST);
    // mkfifo(1) only says that it failed: ask first what open(2) would say to a new
    // entry here (EACCES in a directory the guest made read-only, EROFS).
    accessSync(s.root.host(d.path), constants.W_OK | constants.X_OK);
    const text = host.toString();
    if (!Buffer.from(text).equals(host)) fail(Errno.EINVAL, 'FIFO name is not UTF-8');
    // mkfifo(1) refuses setuid, setgid and sticky bits in -m: they are set afterwards
    // through an fd, like every other new object's mode.
    const run = spawnSync('mkfifo', ['-m', (perm & 0o777).toString(8), '--', text], { stdio: 'ignore' });
    if (run.status !== 0) fail(run.error ? Errno.EOPNOTSUPP : Errno.EIO, 'mkfifo failed');
    applyMode(s, d, path, perm, gid, 0);
  } else {
    closeSync(openSync(host, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, perm));
    applyMode(s, d, path, perm, gid, 0);
  }
  w.qid(qidOf(s.root.lstat(path)));
}

/** Tlink dfid[4] fid[4] name[s] → Rlink. link(2) does not follow a symlink source. */
export function link(s: Session, r: Reader): void {
  const d = s.fids.get(r.u32());
  const f = s.fids.get(r.u32());
  const name = checkName(r.str());
  s.writable();
  s.root.verifyDir(d);
  if (s.root.verify(f).isDirectory()) fail(Errno.EPERM, 'hard link to a directory');
  s.root.insideRoot(f.path.slice(0, -1));
  linkSync(s.root.host(f.path), s.root.host([...d.path, name]));
}

/** Tunlinkat dirfd[4] name[s] flags[4] → Runlinkat. */
export function unlinkat(s: Session, r: Reader): void {
  const d = s.fids.get(r.u32());
  const name = checkName(r.str());
  const flags = r.u32();
  s.writable();
  s.root.verifyDir(d);
  const host = s.root.host([...d.path, name]);
  if (flags & AT_REMOVEDIR) rmdirSync(host);
  else unlinkSync(host);
}

/** Trenameat olddirfid[4] oldname[s] newdirfid[4] newname[s] → Rrenameat. */
export function renameat(s: Session, r: Reader): void {
  const od = s.fids.get(r.u32());
  const oldName = checkName(r.str());
  const nd = s.fids.get(r.u32());
  const newName = checkName(r.str());
  s.writable();
  s.root.verifyDir(od);
  s.root.verifyDir(nd);
  moveFids(s, [...od.path, oldName], [...nd.path, newName]);
}

/** Trename fid[4] dfid[4] name[s] → Rrename. */
export function rename(s: Session, r: Reader): void {
  const f = s.fids.get(r.u32());
  const d = s.fids.get(r.u32());
  const name = checkName(r.str());
  s.writable();
  if (f.path.length === 0) fail(Errno.EBUSY, 'cannot rename the share root');
  s.root.verify(f);
  s.root.insideRoot(f.path.slice(0, -1));
  s.root.verifyDir(d);
  moveFids(s, f.path, [...d.path, name]);
}

function moveFids(s: Session, from: Buffer[], to: Buffer[]): void {
  renameSync(s.root.host(from), s.root.host(to));
  s.fids.renamed(from, to);
}

/** Tremove fid[4] → Rremove. The fid is clunked whatever the outcome, as 9P says. */
export function remove(s: Session, r: Reader): void {
  const id = r.u32();
  const f = s.fids.get(id);
  try {
    s.writable();
    if (f.path.length === 0) fail(Errno.EBUSY, 'cannot remove the share root');
    const st = s.root.verify(f);
    s.root.insideRoot(f.path.slice(0, -1));
    const host = s.root.host(f.path);
    if (st.isDirectory()) rmdirSync(host);
    else unlinkSync(host);
  } finally {
    s.fids.clunk(id);
  }
}

/** Sets a new object's mode exactly (mkdir and open apply the VMM's umask) and its
 *  owner, through an O_NOFOLLOW fd. If the host will not open it (no read permission
 *  for an unprivileged VMM), the umask-narrowed mode stays. */
function applyMode(s: Session, d: Fid, path: Buffer[], mode: number, gid: number, extra: number): void {
  let fd: number;
  try {
    fd = openSync(s.root.host(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | extra);
  } catch {
    return;
  }
  try {
    // Owner first: chown clears setuid and setgid, so the mode must come after it.
    s.own(fd, d.uid, gid);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

function exists(host: Buffer): boolean {
  try { lstatSync(host); return true; } catch { return false; }
}
