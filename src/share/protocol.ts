// 9P2000.L constants as Linux's client (net/9p, fs/9p) uses them. Only numbers here;
// message layouts are documented next to the handler that parses each one.

/** T-message types; the R-message is always T + 1. */
export const T = {
  lerror: 6, statfs: 8, lopen: 12, lcreate: 14, symlink: 16, mknod: 18, rename: 20,
  readlink: 22, getattr: 24, setattr: 26, xattrwalk: 30, xattrcreate: 32, readdir: 40,
  fsync: 50, lock: 52, getlock: 54, link: 70, mkdir: 72, renameat: 74, unlinkat: 76,
  version: 100, auth: 102, attach: 104, flush: 108, walk: 110, read: 116, write: 118,
  clunk: 120, remove: 122,
} as const;

export const R_LERROR = 7;
export const NOTAG = 0xffff;
export const NOFID = 0xffffffff;
/** Twalk may carry at most this many names (MAXWELEM). */
export const MAX_WALK = 16;

/** Qid types. */
export const QT_DIR = 0x80;
export const QT_SYMLINK = 0x02;
export const QT_FILE = 0;

/** Open flags on the wire (Linux's generic O_* values, whatever the host's are). */
export const L = {
  ACCMODE: 3, WRONLY: 1, RDWR: 2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, APPEND: 0o2000,
  DSYNC: 0o10000, DIRECTORY: 0o200000, SYNC: 0o4010000,
} as const;

/** Tsetattr valid bits. */
export const SETATTR = {
  MODE: 0x1, UID: 0x2, GID: 0x4, SIZE: 0x8, ATIME: 0x10, MTIME: 0x20, CTIME: 0x40,
  ATIME_SET: 0x80, MTIME_SET: 0x100,
} as const;

/** Rgetattr valid mask: everything up to and including blocks (P9_GETATTR_BASIC). */
export const GETATTR_BASIC = 0x7ffn;

export const AT_REMOVEDIR = 0x200;

/** S_IFMT and friends, Linux values (the same on every host Node runs on). */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;

/** Readdir entry types (DT_*). */
export const DT = { FIFO: 1, CHR: 2, DIR: 4, BLK: 6, REG: 8, LNK: 10, SOCK: 12 } as const;

/** Tlock status / Tgetlock type. */
export const LOCK_SUCCESS = 0;
export const LOCK_TYPE_UNLCK = 2;
