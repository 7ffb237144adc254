// 9P wire format: little-endian integers, strings as len[2] + bytes, qids as
// type[1] version[4] path[8]. Every read is bounds-checked against the message, so a
// malformed request becomes an EINVAL NineError instead of reading past the end.

import { Errno, NineError } from './errors.js';

export interface Qid { type: number; version: number; path: bigint }

export const QID_SIZE = 13;
/** size[4] type[1] tag[2] */
export const HEADER_SIZE = 7;

const malformed = (what: string) => new NineError(Errno.EINVAL, `malformed message: ${what}`);

export class Reader {
  private readonly view: DataView;
  private pos: number;

  constructor(private readonly buf: Uint8Array, start = 0, private readonly end = buf.length) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  get remaining(): number { return this.end - this.pos; }

  private need(n: number, what: string): number {
    if (n > this.end - this.pos) throw malformed(`${what} past the end`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number { return this.view.getUint8(this.need(1, 'u8')); }
  u16(): number { return this.view.getUint16(this.need(2, 'u16'), true); }
  u32(): number { return this.view.getUint32(this.need(4, 'u32'), true); }
  u64(): bigint { return this.view.getBigUint64(this.need(8, 'u64'), true); }

  /** A string's raw bytes (names are bytes to the host too: no UTF-8 round trip). */
  str(): Uint8Array {
    const len = this.u16();
    const at = this.need(len, 'string');
    return this.buf.subarray(at, at + len);
  }

  /** Up to n bytes, never more than the message holds (Twrite counts are clamped). */
  bytesUpTo(n: number): Uint8Array {
    const len = Math.min(n, this.remaining);
    const at = this.need(len, 'data');
    return this.buf.subarray(at, at + len);
  }
}

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = HEADER_SIZE;

  constructor(private readonly type: number, private readonly tag: number, initial = 64) {
    this.buf = new Uint8Array(Math.max(initial, HEADER_SIZE));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number { return this.pos; }

  /** Room for n more bytes; returns where they start (callers may fill them directly). */
  reserve(n: number): number {
    if (this.pos + n > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
      grown.set(this.buf.subarray(0, this.pos));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** The backing bytes, for filling a reserved range (valid until the next reserve). */
  get bytes(): Uint8Array { return this.buf; }

  /** Gives back the tail of a reservation that was not filled (short reads). */
  unreserve(n: number): void { this.pos -= n; }

  /** Overwrites a u32 written earlier (a count known only after the data). */
  patchU32(at: number, v: number): void { this.view.setUint32(at, v >>> 0, true); }

  // The offset is reserved before this.view is read: reserve may replace the buffer.
  u8(v: number): this { const at = this.reserve(1); this.view.setUint8(at, v); return this; }
  u16(v: number): this { const at = this.reserve(2); this.view.setUint16(at, v, true); return this; }
  u32(v: number): this { const at = this.reserve(4); this.view.setUint32(at, v >>> 0, true); return this; }
  u64(v: bigint | number): this {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, BigInt(v)), true);
    return this;
  }
  data(b: Uint8Array): this { const at = this.reserve(b.length); this.buf.set(b, at); return this; }
  str(b: Uint8Array): this {
    if (b.length > 0xffff) throw new NineError(Errno.ENAMETOOLONG, 'string too long for 9P');
    return this.u16(b.length).data(b);
  }
  qid(q: Qid): this { return this.u8(q.type).u32(q.version).u64(q.path); }

  /** The finished message, size field filled in. */
  finish(): Uint8Array {
    this.view.setUint32(0, this.pos, true);
    this.view.setUint8(4, this.type);
    this.view.setUint16(5, this.tag, true);
    return this.buf.subarray(0, this.pos);
  }
}

export function lerror(tag: number, errno: number): Uint8Array {
  return new Writer(7 /* Rlerror */, tag, 11).u32(errno).finish();
}
