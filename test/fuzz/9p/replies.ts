// What a well-formed 9P2000.L reply is, decoded from the bytes alone with the test
// client's decoder (test/share/client.ts), so a framing mistake in the server cannot
// hide behind the same mistake here: the size field is the length, the tag is the
// request's, the type is T + 1 or Rlerror, and every R-message's fields use exactly
// its bytes, with counts that agree with the request.

import assert from 'node:assert/strict';
import { Dec, Tt } from '../../share/client.js';

const R_LERROR = 7;
const NOTAG = 0xffff;
const HEADER = 7;
/** Linux's errno values end at EHWPOISON (133). */
const MAX_ERRNO = 133;
const QID_TYPES = new Set([0x80, 0x02, 0x00]);

export interface Reply {
  type: number;
  /** The Rlerror errno, 0 for a success. */
  errno: number;
  /** Where the body starts, for callers that want to look further. */
  dec: Dec;
}

const le16 = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const le32 = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;

function qid(d: Dec): void {
  const q = d.qid();
  assert.ok(QID_TYPES.has(q.type), `qid type 0x${q.type.toString(16)}`);
}

/** Decodes each success reply's body; `req` is the request, for counts it bounds. */
const BODIES: Record<number, (d: Dec, req: Uint8Array) => void> = {
  [Tt.statfs]: (d) => { d.bytes(4 + 4 + 8 * 6 + 4); },
  [Tt.lopen]: (d) => { qid(d); d.u32(); },
  [Tt.lcreate]: (d) => { qid(d); d.u32(); },
  [Tt.symlink]: qid,
  [Tt.mknod]: qid,
  [Tt.mkdir]: qid,
  [Tt.attach]: qid,
  [Tt.readlink]: (d) => { assert.ok(d.raw().length > 0, 'empty symlink target'); },
  [Tt.getattr]: (d) => { d.u64(); qid(d); d.bytes(12 + 40 + 64 + 16); },
  [Tt.xattrwalk]: (d) => { d.u64(); },
  [Tt.lock]: (d) => { assert.ok(d.u8() <= 3, 'lock status'); },
  [Tt.getlock]: (d) => { d.u8(); d.u64(); d.u64(); d.u32(); d.raw(); },
  [Tt.version]: (d, req) => {
    const msize = d.u32();
    assert.ok(msize >= 512 && msize <= le32(req, HEADER), `Rversion msize ${msize}`);
    d.raw();
  },
  [Tt.walk]: (d, req) => {
    const n = d.u16();
    const asked = le16(req, HEADER + 8);
    // 9P: a walk that fails at the first name is an error, so nwqid is 0 only for nwname 0.
    assert.ok(n <= asked && (n > 0 || asked === 0), `Rwalk of ${n} qids for ${asked} names`);
    for (let i = 0; i < n; i++) qid(d);
  },
  [Tt.read]: (d, req) => {
    const n = d.u32();
    assert.ok(n <= le32(req, HEADER + 12), `Rread of ${n} bytes`);
    d.bytes(n);
  },
  [Tt.write]: (d, req) => {
    const n = d.u32();
    assert.ok(n <= le32(req, HEADER + 12) && n <= req.length - (HEADER + 16), `Rwrite of ${n} bytes`);
  },
  [Tt.readdir]: (d, req) => {
    const n = d.u32();
    assert.ok(n <= le32(req, HEADER + 12), `Rreaddir of ${n} bytes`);
    const end = d.pos + n;
    while (d.pos < end) {
      qid(d);
      d.u64();
      d.u8();
      const name = d.raw();
      assert.ok(name.length > 0 && !name.includes(0x2f), 'readdir entry name');
    }
    assert.equal(d.pos, end, 'readdir entries fill the count');
  },
};

/**
 * Asserts that `reply` is a well-formed answer to `req` given `maxReply` bytes of room,
 * and returns its type and errno. Requests too short to carry a tag are answered with
 * NOTAG; an Rlerror may exceed a room too small for any reply.
 */
export function checkReply(req: Uint8Array, reply: Uint8Array, maxReply: number): Reply {
  const d = new Dec(reply);
  assert.equal(d.u32(), reply.length, 'size field is the reply length');
  const type = d.u8();
  const tag = d.u16();
  assert.equal(tag, req.length >= HEADER ? le16(req, 5) : NOTAG, 'tag echoed');
  if (type === R_LERROR) {
    const errno = d.u32();
    assert.ok(errno > 0 && errno <= MAX_ERRNO, `errno ${errno}`);
    assert.ok(d.done, 'Rlerror is 11 bytes');
    return { type, errno, dec: d };
  }
  assert.equal(type, req[4] + 1, 'reply type is the request type + 1');
  assert.ok(reply.length <= maxReply, `reply of ${reply.length} bytes in ${maxReply} of room`);
  const body = BODIES[req[4]];
  const start = d.pos;
  body?.(d, req);
  assert.ok(d.done, `R-message ${type}: ${reply.length - start} body bytes, ${d.pos - start} decoded`);
  return { type, errno: 0, dec: new Dec(reply, start) };
}
