// A structure-aware 9P2000.L guest: every T-message laid out field by field with values
// near what a real client sends (live fids, names that exist, counts and offsets at
// their limits), plus the attacks a hostile guest tries: fids reused or never made,
// walks through '..' and through links out of the share, absolute and relative symlink
// targets, names with '/' or NUL or not UTF-8, huge counts, truncated and bit-flipped
// messages. It follows the replies to know which fids are live, so later requests reach
// the handlers instead of stopping at EBADF.

import { type Rng, mutateBytes } from '../harness.js';
import { Enc, O, Tt, message } from '../../share/client.js';
import { SHARE_NAMES } from './sandbox.js';

const NOFID = 0xffffffff;
const HEADER = 7;
const R_LERROR = 7;
const S_IFREG = 0o100000, S_IFIFO = 0o010000, S_IFCHR = 0o020000, S_IFSOCK = 0o140000, S_IFDIR = 0o040000;
const AT_REMOVEDIR = 0x200;

const text = (s: string) => Buffer.from(s);
const NAMES: Uint8Array[] = [
  ...SHARE_NAMES.map(text), ...['.', '..', '', 'new', 'n2', 'a/b', '/', 'x\0y', '../outside', 'f '].map(text),
  text('A'.repeat(255)), text('A'.repeat(256)), Uint8Array.of(0xff, 0xfe),
];

type Body = (g: RequestGen) => Enc;

/** Message bodies by type, with a weight each (how often a guest would send one). */
const BODIES: [type: number, weight: number, body: Body][] = [
  [Tt.walk, 20, (g) => {
    const names = g.path();
    const e = new Enc().u32(g.fid('dir')).u32(g.newFid()).u16(names.length);
    for (const n of names) e.str(n);
    return e;
  }],
  [Tt.lopen, 10, (g) => {
    const fid = g.fid('closed');
    return new Enc().u32(fid).u32(g.openFlags(g.isDir(fid)));
  }],
  [Tt.read, 10, (g) => new Enc().u32(g.fid('open')).u64(g.offset()).u32(g.count())],
  [Tt.write, 8, (g) => {
    const data = g.rng.bytes(g.rng.chance(0.9) ? g.rng.int(64) : g.rng.int(20_000));
    const count = g.rng.chance(0.8) ? data.length : g.rng.interesting(32);
    return new Enc().u32(g.fid('open')).u64(g.offset()).u32(count).data(data);
  }],
  [Tt.readdir, 6, (g) => new Enc().u32(g.fid('open')).u64(g.rng.chance(0.6) ? 0 : g.offset()).u32(g.count())],
  [Tt.getattr, 6, (g) => new Enc().u32(g.fid()).u64(g.rng.chance(0.8) ? 0x3fff : g.rng.u32())],
  [Tt.setattr, 4, (g) => new Enc().u32(g.fid()).u32(g.rng.int(0x200)).u32(g.rng.int(0o10000)).u32(g.rng.interesting(32))
    .u32(g.rng.interesting(32)).u64(g.offset()).u64(g.rng.u32()).u64(g.rng.interesting(32)).u64(g.rng.u32()).u64(g.rng.interesting(32))],
  [Tt.lcreate, 5, (g) => new Enc().u32(g.fid('dir')).str(g.name()).u32(g.openFlags()).u32(g.rng.int(0o10000)).u32(g.rng.interesting(32))],
  [Tt.mkdir, 4, (g) => new Enc().u32(g.fid('dir')).str(g.name()).u32(g.rng.int(0o10000)).u32(0)],
  [Tt.symlink, 4, (g) => new Enc().u32(g.fid('dir')).str(g.name()).str(g.target()).u32(0)],
  [Tt.readlink, 3, (g) => new Enc().u32(g.fid('link'))],
  [Tt.mknod, 2, (g) => new Enc().u32(g.fid('dir')).str(g.name()).u32(g.nodeMode()).u32(g.rng.int(256)).u32(g.rng.int(256)).u32(0)],
  [Tt.link, 3, (g) => new Enc().u32(g.fid('dir')).u32(g.fid('file')).str(g.name())],
  [Tt.unlinkat, 4, (g) => new Enc().u32(g.fid('dir')).str(g.name()).u32(g.rng.pick([0, 0, AT_REMOVEDIR, g.rng.u32()]))],
  [Tt.renameat, 4, (g) => new Enc().u32(g.fid('dir')).str(g.name()).u32(g.fid('dir')).str(g.name())],
  [Tt.rename, 3, (g) => new Enc().u32(g.fid('file')).u32(g.fid('dir')).str(g.name())],
  [Tt.remove, 3, (g) => new Enc().u32(g.fid(g.rng.chance(0.5) ? 'file' : 'spare'))],
  [Tt.clunk, 6, (g) => new Enc().u32(g.fid('spare'))],
  [Tt.statfs, 1, (g) => new Enc().u32(g.fid())],
  [Tt.xattrwalk, 2, (g) => new Enc().u32(g.fid()).u32(g.newFid()).str(g.rng.chance(0.5) ? '' : 'user.x')],
  [Tt.xattrcreate, 1, (g) => new Enc().u32(g.fid()).str('user.x').u64(g.offset()).u32(g.rng.int(4))],
  [Tt.lock, 1, (g) => new Enc().u32(g.fid('open')).u8(g.rng.int(4)).u32(g.rng.int(4)).u64(g.offset()).u64(g.offset()).u32(g.rng.u32()).str(g.name())],
  [Tt.getlock, 1, (g) => new Enc().u32(g.fid('open')).u8(g.rng.int(4)).u64(g.offset()).u64(g.offset()).u32(g.rng.u32()).str(g.name())],
  // fsync is cheap on tmpfs, but a guest has no reason to send many.
  [Tt.fsync, 1, (g) => (g.rng.chance(0.5) ? new Enc().u32(g.fid('open')) : new Enc().u32(g.fid('open')).u32(g.rng.int(2)))],
  [Tt.flush, 1, (g) => new Enc().u16(g.rng.interesting(16))],
  [Tt.version, 1, (g) => g.version()],
  [Tt.attach, 2, (g) => g.attach(g.newFid())],
  [Tt.auth, 1, (g) => new Enc().u32(g.newFid()).str('root').str('').u32(0)],
  // An unknown or R-message type, with whatever body.
  [-1, 2, (g) => new Enc().data(g.rng.bytes(g.rng.int(32)))],
];
const TOTAL = BODIES.reduce((n, [, w]) => n + w, 0);
const ATTACH = BODIES.find(([t]) => t === Tt.attach) as (typeof BODIES)[number];
const IO = BODIES.filter(([t]) => t === Tt.read || t === Tt.write || t === Tt.readdir);

/** Types whose request may change the share, even when it fails half-way. */
export const MUTATING = new Set<number>([
  Tt.lopen, Tt.lcreate, Tt.write, Tt.setattr, Tt.mkdir, Tt.symlink, Tt.mknod, Tt.link, Tt.unlinkat,
  Tt.renameat, Tt.rename, Tt.remove, Tt.xattrcreate,
]);

export interface Request {
  bytes: Uint8Array;
  maxReply: number;
}

/** What the generator knows of a live fid: the qid type it names and whether it is open. */
interface Known { qtype: number; open: boolean; root?: boolean }
export type FidKind = 'any' | 'dir' | 'file' | 'link' | 'open' | 'closed' | 'spare';
const QT_DIR = 0x80, QT_SYMLINK = 0x02;

const MATCHES: Record<FidKind, (k: Known) => boolean> = {
  any: () => true,
  dir: (k) => k.qtype === QT_DIR,
  file: (k) => k.qtype === 0,
  link: (k) => k.qtype === QT_SYMLINK,
  open: (k) => k.open,
  closed: (k) => !k.open,
  // Anything but the attach fid: clunking that ends the session's reach.
  spare: (k) => !k.root,
};

export class RequestGen {
  /** Fids the replies so far say are live, in the order they appeared. */
  private readonly live = new Map<number, Known>();

  constructor(readonly rng: Rng, private readonly outsidePath: string) {}

  /** Tversion then Tattach of fid 0, as every session starts. */
  opening(): Request[] {
    return [
      { bytes: message(Tt.version, 0xffff, new Enc().u32(1 << 16).str('9P2000.L')), maxReply: 1 << 16 },
      { bytes: message(Tt.attach, 1, this.attach(0)), maxReply: 1 << 16 },
    ];
  }

  next(): Request {
    const rng = this.rng;
    let pick = rng.int(TOTAL);
    let i = 0;
    while (pick >= BODIES[i][1]) pick -= BODIES[i++][1];
    // A session that lost its attach fid attaches again, as a client would remount; one
    // with an open fid mostly uses it, as a client reads what it opened.
    const [t, , body] = this.live.size === 0 && rng.chance(0.5) ? ATTACH : this.hasOpen() && rng.chance(0.35) ? rng.pick(IO) : BODIES[i];
    const type = t >= 0 ? t : rng.chance(0.5) ? rng.int(256) : rng.pick([0, 6, 7, 101, 111, 255]);
    let bytes = message(type, rng.chance(0.95) ? rng.int(0x8000) : 0xffff, body(this));
    if (rng.chance(0.12)) {
      bytes = mutateBytes(rng, bytes);
      // Half the time keep the size field right, so the damage reaches the body parser.
      if (bytes.length >= 4 && rng.chance(0.5)) new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, bytes.length, true);
    }
    const maxReply = rng.chance(0.9) ? 1 << 16 : rng.chance(0.5) ? rng.int(64) : rng.interesting(32);
    return { bytes, maxReply };
  }

  /** Learns from a well-formed reply which fids are live now and what they name (the
   *  request's own bytes say which fids, since a mutation may have changed them). */
  observe(req: Uint8Array, reply: Uint8Array): void {
    if (req.length < HEADER + 4) return;
    const ok = reply[4] !== R_LERROR;
    const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
    const fid = u32(req, HEADER);
    switch (req[4]) {
      case Tt.version: if (ok) this.live.clear(); break;
      case Tt.attach: if (ok) this.live.set(fid, { qtype: reply[HEADER], open: false, root: true }); break;
      case Tt.walk: {
        const n = ok ? reply[HEADER] | (reply[HEADER + 1] << 8) : 0;
        const asked = req.length >= HEADER + 10 ? req[HEADER + 8] | (req[HEADER + 9] << 8) : -1;
        const from = this.live.get(fid);
        // A walk of no names clones the fid; otherwise the new fid names the last qid.
        if (ok && n === asked && from) this.live.set(u32(req, HEADER + 4), { qtype: n === 0 ? from.qtype : reply[HEADER + 2 + 13 * (n - 1)], open: false });
        break;
      }
      case Tt.xattrwalk: if (ok) this.live.set(u32(req, HEADER + 4), { qtype: 0, open: true }); break;
      case Tt.lopen: case Tt.lcreate: if (ok) this.live.set(fid, { qtype: reply[HEADER], open: true }); break;
      case Tt.clunk: case Tt.remove: this.live.delete(fid); break;
    }
  }

  /** A fid for a request that wants one of `kind`: mostly a live one that fits, the most
   *  recent more often (walk, then open, then read), sometimes any other number. */
  fid(kind: FidKind = 'any'): number {
    const rng = this.rng;
    if (this.live.size > 0 && rng.chance(0.9)) {
      const fits = [...this.live].filter(([, k]) => MATCHES[kind](k)).map(([id]) => id);
      const pool = fits.length > 0 && rng.chance(0.9) ? fits : [...this.live.keys()];
      return rng.chance(0.5) ? pool[pool.length - 1] : rng.pick(pool);
    }
    return rng.chance(0.7) ? rng.int(8) : rng.chance(0.5) ? NOFID : rng.u32();
  }

  newFid(): number {
    const rng = this.rng;
    if (this.live.size > 0 && rng.chance(0.1)) return rng.pick([...this.live.keys()]); // reuse a live fid
    return rng.chance(0.95) ? rng.int(16) : rng.chance(0.5) ? NOFID : rng.u32();
  }

  /** Mostly a name the share holds (so walks get somewhere), else a hostile one. */
  name(): Uint8Array {
    const rng = this.rng;
    if (rng.chance(0.4)) return text(rng.pick(SHARE_NAMES));
    if (rng.chance(0.9)) return rng.pick(NAMES);
    return rng.bytes(1 + rng.int(8));
  }

  path(): Uint8Array[] {
    const rng = this.rng;
    const n = rng.chance(0.95) ? 1 + rng.int(3) : rng.pick([0, 16, 17, rng.int(40)]);
    return Array.from({ length: n }, () => (rng.chance(0.2) ? text('..') : this.name()));
  }

  target(): Uint8Array {
    const rng = this.rng;
    return rng.pick([
      text('../outside'), text('../outside/keep'), text('/'), text('/etc/passwd'), text(this.outsidePath),
      text(`${this.outsidePath}/keep`), text('f'), text(''), text('../../..'), text('x'.repeat(5000)), text('a\0b'),
      text('d/inner'), this.name(),
    ]);
  }

  isDir(fid: number): boolean {
    return this.live.get(fid)?.qtype === QT_DIR;
  }

  hasOpen(): boolean {
    for (const k of this.live.values()) if (k.open) return true;
    return false;
  }

  /** Flags a client would open with (read-only for a directory, mostly), or any. */
  openFlags(dir = false): number {
    const rng = this.rng;
    if (rng.chance(0.1)) return rng.u32();
    if (dir && rng.chance(0.8)) return O.RDONLY | (rng.chance(0.5) ? O.DIRECTORY : 0);
    return rng.pick([O.RDONLY, O.WRONLY, O.RDWR]) | (rng.chance(0.2) ? O.TRUNC : 0) | (rng.chance(0.2) ? O.DIRECTORY : 0) |
      (rng.chance(0.1) ? O.CREAT | O.EXCL : 0) | (rng.chance(0.1) ? 0o2000 /* APPEND */ : 0);
  }

  nodeMode(): number {
    const rng = this.rng;
    // mknod of a FIFO runs mkfifo(1): a real guest makes few, and each costs a process.
    const type = rng.chance(0.02) ? S_IFIFO : rng.pick([0, S_IFREG, S_IFREG, S_IFCHR, S_IFSOCK, S_IFDIR, rng.u32() & 0o170000]);
    return type | rng.int(0o10000);
  }

  offset(): bigint {
    const rng = this.rng;
    switch (rng.int(5)) {
      case 0: return 0n;
      case 1: return BigInt(rng.int(64));
      case 2: return 1n << BigInt(rng.int(64));
      case 3: return (1n << 64n) - 1n - BigInt(rng.int(2));
      default: return BigInt(rng.u32());
    }
  }

  count(): number {
    return this.rng.chance(0.5) ? this.rng.int(256) : this.rng.interesting(32);
  }

  version(): Enc {
    const rng = this.rng;
    const msize = rng.chance(0.7) ? rng.pick([8192, 1 << 16, 512 * 1024]) : rng.interesting(32);
    return new Enc().u32(msize).str(rng.pick(['9P2000.L', '9P2000.L', '9P2000', '9P2000.u', '', '9P2000.Lx']));
  }

  attach(fid: number): Enc {
    const e = new Enc().u32(fid).u32(NOFID).str('root').str(this.rng.chance(0.9) ? '' : this.name());
    return this.rng.chance(0.8) ? e.u32(this.rng.chance(0.8) ? 0 : this.rng.u32()) : e; // n_uname is optional
  }
}
