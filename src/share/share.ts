// DirectoryShare: a 9P2000.L server over one host directory, for virtio-9p. Requests are
// handled synchronously, one at a time; every failure becomes an Rlerror, so nothing a
// guest sends can throw out of handle().

import { statSync } from 'node:fs';
import type { NinePServer } from '../devices/ninep.js';
import { Errno, ShareError, errnoOf, fail } from './errors.js';
import * as attr from './ops-attr.js';
import * as io from './ops-io.js';
import * as ns from './ops-ns.js';
import * as sess from './ops-session.js';
import { ShareRoot } from './paths.js';
import { NOTAG, T } from './protocol.js';
import { Session } from './session.js';
import { restoreShare, saveShare, type ShareState } from './snapshot.js';
import { HEADER_SIZE, Reader, Writer, lerror } from './wire.js';

export interface DirectoryShareOptions {
  /** Host directory exported to the guest. */
  root: string;
  /** Mount tag (mount -t 9p TAG /mnt): 1..255 bytes, no NUL (the guest passes it as a
   *  C string). */
  tag: string;
  /** Refuse every request that would change the host directory (EROFS). */
  readOnly?: boolean;
  /** Bound on live fids (default 65536). */
  maxFids?: number;
}

type Handler = (s: Session, r: Reader, w: Writer) => void;

const HANDLERS = new Map<number, Handler>([
  [T.version, sess.version], [T.attach, sess.attach], [T.walk, sess.walk], [T.clunk, sess.clunk],
  [T.flush, sess.flush], [T.statfs, sess.statfs],
  [T.lopen, io.lopen], [T.lcreate, io.lcreate], [T.read, io.read], [T.write, io.write],
  [T.fsync, io.fsync], [T.readdir, io.readdir],
  [T.getattr, attr.getattr], [T.setattr, attr.setattr], [T.readlink, attr.readlink],
  [T.xattrwalk, attr.xattrwalk], [T.xattrcreate, attr.xattrcreate], [T.lock, attr.lock],
  [T.getlock, attr.getlock],
  [T.mkdir, ns.mkdir], [T.symlink, ns.symlink], [T.mknod, ns.mknod], [T.link, ns.link],
  [T.unlinkat, ns.unlinkat], [T.renameat, ns.renameat], [T.rename, ns.rename], [T.remove, ns.remove],
]);

export class DirectoryShare implements NinePServer {
  readonly tag: string;
  readonly readOnly: boolean;
  private readonly session: Session;

  constructor(options: DirectoryShareOptions) {
    const { root, tag, readOnly = false } = options;
    const tagBytes = Buffer.byteLength(tag);
    if (tagBytes === 0 || tagBytes > 255 || tag.includes('\0')) {
      throw new ShareError(`share tag must be 1 to 255 bytes without NUL, got ${JSON.stringify(tag)}`);
    }
    // The root itself may be a symlink (the host user's choice); everything below it is
    // reached without following any.
    let shareRoot: ShareRoot;
    try {
      if (!statSync(root).isDirectory()) throw new Error('not a directory');
      shareRoot = new ShareRoot(root);
    } catch (e) {
      throw new ShareError(`share root ${root}: ${(e as Error).message}`);
    }
    this.tag = tag;
    this.readOnly = readOnly;
    this.session = new Session(shareRoot, readOnly, options.maxFids);
  }

  /** The session's fids as paths (snapshot.ts); restore reopens them. */
  save(): ShareState {
    return saveShare(this.session);
  }

  restore(state: unknown): void {
    restoreShare(this.session, state);
  }

  handle(request: Uint8Array, maxReply: number): Uint8Array {
    const tag = request.length >= HEADER_SIZE ? request[5] | (request[6] << 8) : NOTAG;
    try {
      const r = new Reader(request);
      const size = r.u32();
      const type = r.u8();
      r.u16();
      if (size !== request.length) fail(Errno.EINVAL, `size field ${size}, message ${request.length}`);
      const handler = HANDLERS.get(type) ?? fail(Errno.EOPNOTSUPP, `message type ${type}`);
      const s = this.session;
      s.room = Number.isFinite(maxReply) ? Math.max(0, Math.min(s.msize, Math.floor(maxReply))) : 0;
      const w = new Writer(type + 1, tag);
      handler(s, r, w);
      const reply = w.finish();
      if (reply.length > s.room) fail(Errno.ERANGE, 'reply larger than the room given');
      return reply;
    } catch (e) {
      return lerror(tag, errnoOf(e));
    }
  }

  /** Live fids (for tests and diagnostics). */
  get openFids(): number { return this.session.fids.size; }

  /** Releases every fid and its host fd (the guest is gone or the device reset). */
  close(): void {
    this.session.fids.clear();
  }
}
