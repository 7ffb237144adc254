// The NBD server session without sockets: the handshake and every command byte for byte
// as the protocol document gives them, errno replies that leave the session serving,
// hostile input (bad magics, oversized lengths, random bytes) that never throws, and a
// client that never reads its replies held back.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NbdServerSession } from '../../src/storage/nbd/server-session.js';
import {
  CMD_DISC, CMD_FLAG_FUA, CMD_FLUSH, CMD_READ, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES, EINVAL, EIO, ENOSPC, EPERM,
  encodeGo, encodeOption, encodeRequest, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, INFO_BLOCK_SIZE, MAX_REQUEST, OPT_EXPORT_NAME,
  OPT_GO, OPT_LIST, REP_ACK, REP_ERR_TOO_BIG, REP_ERR_UNKNOWN, REP_ERR_UNSUP, REP_INFO, REP_SERVER, SIMPLE_REPLY_MAGIC,
  TFLAG_READ_ONLY,
} from '../../src/storage/nbd/protocol.js';
import { MemDisk } from '../devices/virtio/fakes.js';

class Harness {
  out: Uint8Array[] = [];
  endedWhy: string | undefined;
  blocked = false;
  readonly session: NbdServerSession;
  constructor(readonly disk = new MemDisk(2048), readOnly = false) {
    this.session = new NbdServerSession({
      exports: [{ name: 'disk', backend: disk, readOnly }, { name: 'other', backend: new MemDisk(8), readOnly: true }],
      send: (b) => this.out.push(b.slice()),
      end: (why) => { this.endedWhy = why; },
      canSend: () => !this.blocked,
      log: () => {},
    });
    this.session.start();
  }
  /** Everything sent since the last call, as one array. */
  sent(): Uint8Array {
    const all = Buffer.concat(this.out);
    this.out = [];
    return new Uint8Array(all);
  }
  feed(...parts: Uint8Array[]): void {
    for (const p of parts) this.session.receive(p);
  }
  /** Through the greeting and NBD_OPT_GO to transmission. */
  go(name = 'disk'): void {
    this.sent();
    const flags = new Uint8Array(4);
    new DataView(flags.buffer).setUint32(0, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    this.feed(flags, encodeOption(OPT_GO, encodeGo(name, [INFO_BLOCK_SIZE])));
    const replies = optionReplies(this.sent());
    assert.equal(replies.at(-1)?.type, REP_ACK);
  }
  request(type: number, offset: number, length: number, flags = 0, payload?: Uint8Array, cookie = 7): void {
    const handle = new Uint8Array(8);
    handle[7] = cookie;
    this.feed(encodeRequest({ type, flags, offset, length, handle }), ...(payload ? [payload] : []));
  }
  /** The simple reply's errno and the data after it. */
  reply(): { errno: number; cookie: number; data: Uint8Array } {
    const b = this.sent();
    const v = new DataView(b.buffer);
    assert.equal(v.getUint32(0), SIMPLE_REPLY_MAGIC);
    return { errno: v.getUint32(4), cookie: b[15], data: b.subarray(16) };
  }
}

function optionReplies(b: Uint8Array): { option: number; type: number; data: Uint8Array }[] {
  const out = [];
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let at = 0; at < b.length;) {
    const length = v.getUint32(at + 16);
    out.push({ option: v.getUint32(at + 8), type: v.getUint32(at + 12), data: b.subarray(at + 20, at + 20 + length) });
    at += 20 + length;
  }
  return out;
}

test('the greeting is NBDMAGIC IHAVEOPT with fixed newstyle and no-zeroes', () => {
  const h = new Harness();
  assert.deepEqual(Buffer.from(h.sent()).toString('hex'), '4e42444d41474943' + '49484156454f5054' + '0003');
});

test('NBD_OPT_GO answers the export size, its flags and the block sizes, then ACK', () => {
  const h = new Harness(new MemDisk(2048), true);
  h.sent();
  h.feed(Uint8Array.of(0, 0, 0, 3), encodeOption(OPT_GO, encodeGo('disk', [])));
  const r = optionReplies(h.sent());
  assert.deepEqual(r.map((x) => x.type), [REP_INFO, REP_INFO, REP_ACK]);
  const info = new DataView(r[0].data.buffer, r[0].data.byteOffset);
  assert.equal(info.getUint16(0), 0);
  assert.equal(Number(info.getBigUint64(2)), 2048 * 512);
  assert.ok(info.getUint16(10) & TFLAG_READ_ONLY);
  const bs = new DataView(r[1].data.buffer, r[1].data.byteOffset);
  assert.deepEqual([bs.getUint16(0), bs.getUint32(2), bs.getUint32(6), bs.getUint32(10)], [3, 1, 4096, MAX_REQUEST]);
});

test('options: LIST names the exports, unknown names and options are refused, oversized ones skipped', () => {
  const h = new Harness();
  h.sent();
  h.feed(Uint8Array.of(0, 0, 0, 3), encodeOption(OPT_LIST, new Uint8Array(0)));
  const list = optionReplies(h.sent());
  assert.deepEqual(list.map((x) => x.type), [REP_SERVER, REP_SERVER, REP_ACK]);
  assert.equal(Buffer.from(list[1].data.subarray(4)).toString(), 'other');
  h.feed(encodeOption(OPT_GO, encodeGo('nope', [])));
  assert.deepEqual(optionReplies(h.sent()).map((x) => x.type), [REP_ERR_UNKNOWN]);
  h.feed(encodeOption(8 /* STRUCTURED_REPLY */, new Uint8Array(0)));
  assert.deepEqual(optionReplies(h.sent()).map((x) => x.type), [REP_ERR_UNSUP]);
  // A 1 MiB option is thrown away as it arrives, answered TOO_BIG, and the session goes on.
  const big = encodeOption(OPT_GO, new Uint8Array(1 << 20));
  for (let at = 0; at < big.length; at += 1000) h.feed(big.subarray(at, at + 1000));
  assert.deepEqual(optionReplies(h.sent()).map((x) => x.type), [REP_ERR_TOO_BIG]);
  h.feed(encodeOption(OPT_EXPORT_NAME, new TextEncoder().encode('disk')));
  const b = h.sent();
  assert.equal(b.length, 10, 'no-zeroes: size and flags only');
  assert.equal(Number(new DataView(b.buffer).getBigUint64(0)), 2048 * 512);
  assert.equal(h.endedWhy, undefined);
});

test('an unknown export name with NBD_OPT_EXPORT_NAME ends the session', () => {
  const h = new Harness();
  h.feed(Uint8Array.of(0, 0, 0, 1), encodeOption(OPT_EXPORT_NAME, new TextEncoder().encode('nope')));
  assert.equal(h.endedWhy, 'no such export');
});

test('read, write with FUA, flush, trim and write-zeroes reach the backend; the cookie comes back', () => {
  const h = new Harness();
  h.go();
  h.request(CMD_READ, 512, 1024, 0, undefined, 42);
  const r = h.reply();
  assert.equal(r.errno, 0);
  assert.equal(r.cookie, 42);
  assert.deepEqual(r.data, h.disk.data.subarray(512, 1536));
  const payload = new Uint8Array(4096).fill(0xee);
  // Split across arrivals in odd places: header and payload need not come together.
  const req = Buffer.concat([encodeRequest({ type: CMD_WRITE, flags: CMD_FLAG_FUA, offset: 8192, length: 4096, handle: new Uint8Array(8) }), payload]);
  const cuts = [0, 3, 27, 100, req.length];
  for (let i = 0; i + 1 < cuts.length; i++) h.feed(new Uint8Array(req.subarray(cuts[i], cuts[i + 1])));
  assert.equal(h.reply().errno, 0);
  assert.ok(h.disk.data.subarray(8192, 12288).every((x) => x === 0xee));
  assert.equal(h.disk.flushes, 1, 'FUA flushed');
  h.request(CMD_FLUSH, 0, 0);
  assert.equal(h.reply().errno, 0);
  assert.equal(h.disk.flushes, 2);
  h.request(CMD_TRIM, 0, 4096);
  h.request(CMD_WRITE_ZEROES, 4096, 4096, 2 /* NO_HOLE */);
  assert.equal(h.sent().length, 32);
  assert.deepEqual(h.disk.discards, [[0, 4096]]);
  assert.deepEqual(h.disk.zeroes, [[4096, 4096, false]]);
  h.request(CMD_DISC, 0, 0);
  assert.equal(h.endedWhy, 'client disconnected');
});

test('bad requests get errno replies and the session keeps serving', () => {
  const h = new Harness();
  h.go();
  const size = h.disk.size;
  h.request(CMD_READ, size - 512, 1024);
  assert.equal(h.reply().errno, EINVAL, 'read past the end');
  h.request(CMD_READ, 2 ** 60, 512);
  assert.equal(h.reply().errno, EINVAL, 'offset beyond 2^53');
  h.request(CMD_READ, 0, MAX_REQUEST + 1);
  assert.equal(h.reply().errno, EINVAL, 'read larger than the maximum');
  h.request(CMD_WRITE, size, 512, 0, new Uint8Array(512));
  assert.equal(h.reply().errno, ENOSPC, 'write past the end');
  h.request(CMD_READ, 0, 512, 0x100);
  assert.equal(h.reply().errno, EINVAL, 'unknown command flag');
  h.request(99, 0, 512);
  assert.equal(h.reply().errno, EINVAL, 'unknown command');
  // A write longer than the maximum: its payload is read and dropped, then EINVAL.
  const big = new Uint8Array(MAX_REQUEST + 4096);
  h.request(CMD_WRITE, 0, big.length);
  for (let at = 0; at < big.length; at += 1 << 20) h.feed(big.subarray(at, at + (1 << 20)));
  assert.equal(h.reply().errno, EINVAL);
  assert.equal(h.disk.transfers, 0, 'none of these reached the disk');
  h.disk.failing = true;
  h.request(CMD_READ, 0, 512);
  assert.equal(h.reply().errno, EIO, 'a failing backend');
  h.disk.failing = false;
  h.request(CMD_READ, 0, 512);
  const ok = h.reply();
  assert.equal(ok.errno, 0);
  assert.equal(ok.data.length, 512);
  assert.equal(h.endedWhy, undefined);
});

test('a read-only export refuses writes, trims and zeroes with EPERM', () => {
  const h = new Harness(new MemDisk(64), true);
  h.go();
  for (const t of [CMD_WRITE, CMD_TRIM, CMD_WRITE_ZEROES]) {
    h.request(t, 0, 512, 0, t === CMD_WRITE ? new Uint8Array(512) : undefined);
    assert.equal(h.reply().errno, EPERM);
  }
  assert.equal(h.disk.transfers, 0);
});

test('a bad request magic ends the session (the stream cannot be resynchronised)', () => {
  const h = new Harness();
  h.go();
  const req = encodeRequest({ type: CMD_READ, flags: 0, offset: 0, length: 512, handle: new Uint8Array(8) });
  req[0] ^= 1;
  h.feed(req);
  assert.match(h.endedWhy ?? '', /bad request magic/);
});

test('a client that never reads its replies is held back until the transport drains', () => {
  const h = new Harness();
  h.go();
  h.blocked = true;
  for (let i = 0; i < 100; i++) h.request(CMD_READ, 0, 4096, 0, undefined, i);
  assert.equal(h.sent().length, 0, 'nothing answered while the send buffer is full');
  h.blocked = false;
  h.session.resume();
  assert.equal(h.sent().length, 100 * (16 + 4096));
});

test('random bytes at every phase never throw and never answer past the first bad magic', () => {
  let seed = Number(process.env.RVISOR_FUZZ_SEED ?? 12345);
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  for (let round = 0; round < 300; round++) {
    const h = new Harness(new MemDisk(64));
    if (round % 2) h.go();
    const bytes = new Uint8Array(Math.floor(rand() * 2000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = rand() * 256;
    // Valid headers with random fields now and then, so range checks are reached too.
    if (round % 3 === 0 && round % 2) {
      const v = new DataView(bytes.buffer);
      if (bytes.length >= 28) v.setUint32(0, 0x25609513);
    }
    for (let at = 0; at < bytes.length;) {
      const n = 1 + Math.floor(rand() * 300);
      h.feed(bytes.subarray(at, at + n));
      at += n;
    }
    assert.equal(h.session.ended, h.endedWhy !== undefined, "the session ends exactly when it says why");
  }
});
