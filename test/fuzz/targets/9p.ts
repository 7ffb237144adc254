// The 9P2000.L share server as a hostile guest's virtio-9p client sees it. Each input is
// one session on a fresh server over a share rebuilt to the same tree: Tversion,
// Tattach, then up to two dozen structure-aware requests (requests.ts). Checked for
// every reply: handle() returned (never threw), the reply is well-formed with the
// request's tag (replies.ts), it is not the EIO that stands for an unexpected exception
// inside a handler, and it carries nothing from outside the share; after each input,
// nothing in the base directory or the sibling outside/ changed, not even an atime.

import assert from 'node:assert/strict';
import { DirectoryShare } from '../../../src/share/index.js';
import { Client, O } from '../../share/client.js';
import type { FuzzTarget } from '../harness.js';
import { checkReply } from '../9p/replies.js';
import { MUTATING, RequestGen } from '../9p/requests.js';
import { Sandbox } from '../9p/sandbox.js';

const EIO = 5;
const hex = (b: Uint8Array) => Buffer.from(b.subarray(0, 96)).toString('hex') + (b.length > 96 ? '...' : '');
const MAX_REQUESTS = 24;

export const target: FuzzTarget = {
  name: '9p',
  surface: 'the 9P2000.L share server (src/share) over a temp directory with links out of it',
  open() {
    const box = new Sandbox();
    let dirty = false;
    const fresh = () => {
      if (dirty) box.rebuild();
      dirty = false;
      return new DirectoryShare({ root: box.share, tag: 'fuzz' });
    };
    return {
      one(rng) {
        const share = fresh();
        const gen = new RequestGen(rng, box.outside);
        try {
          const requests = gen.opening();
          const count = rng.int(MAX_REQUESTS);
          for (let i = 0; i < requests.length || i < count; i++) {
            const req = requests[i] ?? gen.next();
            if (MUTATING.has(req.bytes[4])) dirty = true;
            const reply = share.handle(req.bytes, req.maxReply);
            try {
              const { errno } = checkReply(req.bytes, reply, req.maxReply);
              assert.notEqual(errno, EIO, 'EIO: a handler threw something it did not expect');
              box.checkNoLeak(reply);
              gen.observe(req.bytes, reply);
            } catch (e) {
              throw new Error(`${(e as Error).message}\n  request ${i} ${hex(req.bytes)} (room ${req.maxReply})\n  reply ${hex(reply)}`, { cause: e });
            }
          }
        } finally {
          share.close();
        }
        box.checkOutside();
      },
      alive() {
        const share = fresh();
        try {
          const c = new Client(share);
          c.version();
          c.attach(0);
          c.walk(0, 1, ['f']);
          c.lopen(1, O.RDONLY);
          assert.equal(c.read(1, 0, 100).toString(), 'file');
        } finally {
          share.close();
        }
      },
      close() {
        box.remove();
      },
    };
  },
};
