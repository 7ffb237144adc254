// Guest-to-host mapping: the L1 table (whole, in memory) and L2 tables (an LRU cache,
// written through). Entries are handled as two 32-bit halves to stay off BigInt.

import { DiskError } from '../errors.js';
import { preadFull, pwriteFull, viewOf } from '../fileio.js';
import { Meta, type MetadataMap } from './metadata.js';
import type { Refcounts } from './refcount.js';

export const UNALLOCATED = 0;
export const ZERO = 1;
export const NORMAL = 2;
export const COMPRESSED = 3;

const COPIED = 0x80000000; // bit 63: refcount is exactly one, writable in place
const COMPRESSED_BIT = 0x40000000; // bit 62
const L2_CACHE = 64;

/** One L2 entry as read: its kind, its host offset (0 if none) and the raw halves. */
export interface Mapping {
  kind: number;
  host: number;
  copied: boolean;
  hi: number;
  lo: number;
}

export class Tables {
  readonly l2Entries: number;
  private readonly l1: Uint8Array;
  private readonly l1v: DataView;
  /** L2 tables by host offset, least recently used first; each with a view on it. */
  private readonly cache = new Map<number, DataView>();

  constructor(
    private readonly fd: number,
    private readonly file: string,
    private readonly cs: number,
    private readonly v3: boolean,
    private readonly l1Offset: number,
    l1Size: number,
    private readonly refs: Refcounts,
    private readonly meta: MetadataMap,
  ) {
    this.l2Entries = cs / 8;
    this.l1 = new Uint8Array(l1Size * 8);
    preadFull(fd, this.l1, l1Offset);
    this.l1v = viewOf(this.l1);
    meta.setRange(Meta.L1, l1Offset, l1Size * 8);
    for (let i = 0; i < l1Size; i++) {
      const off = this.l1Raw(i);
      if (off !== 0 && off % cs === 0) meta.l2.add(off / cs);
    }
  }

  private corrupt(what: string): DiskError {
    return new DiskError(`${this.file}: corrupt image: ${what} (try 'rvisor disk check')`);
  }

  /** Host offset of the L2 table for L1 index `i` (0 if none), validated. */
  l2Offset(i: number): number {
    if (i * 8 >= this.l1.length) return 0;
    const v = this.l1v;
    const hi = v.getUint32(i * 8);
    const lo = v.getUint32(i * 8 + 4);
    const off = this.offsetOf(hi, lo, `L1 entry ${i}`);
    if (off !== 0 && (off % this.cs !== 0 || (lo & 0x1ff) !== 0 || (hi & 0x7f000000) !== 0)) throw this.corrupt(`L1 entry ${i} is malformed`);
    if (off !== 0 && off >= this.l1Offset && off < this.l1Offset + this.l1.length) throw this.corrupt(`L1 entry ${i} points into the L1 table`);
    return off;
  }

  l1Copied(i: number): boolean {
    return (this.l1v.getUint32(i * 8) & COPIED) !== 0;
  }

  private offsetOf(hi: number, lo: number, what: string): number {
    if (hi & 0x00e00000) throw this.corrupt(`${what} points beyond 2^53`);
    const off = (hi & 0x001fffff) * 2 ** 32 + ((lo & 0xfffffe00) >>> 0);
    if (off !== 0 && (off < this.cs || off >= this.refs.highWater * this.cs)) throw this.corrupt(`${what} points at ${off}, outside the image`);
    return off;
  }

  private table(off: number): DataView {
    let t = this.cache.get(off);
    if (t) {
      this.cache.delete(off);
    } else {
      const bytes = new Uint8Array(this.cs);
      preadFull(this.fd, bytes, off);
      t = viewOf(bytes);
      if (this.cache.size >= L2_CACHE) this.cache.delete(this.cache.keys().next().value as number);
    }
    this.cache.set(off, t);
    return t;
  }

  /** Reads the mapping of guest cluster `gc` into `out`. */
  lookup(gc: number, out: Mapping): Mapping {
    const l2 = this.l2Offset(Math.floor(gc / this.l2Entries));
    out.hi = 0;
    out.lo = 0;
    out.host = 0;
    out.copied = false;
    out.kind = UNALLOCATED;
    if (l2 === 0) return out;
    const i = gc % this.l2Entries;
    const v = this.table(l2);
    const hi = v.getUint32(i * 8);
    const lo = v.getUint32(i * 8 + 4);
    out.hi = hi;
    out.lo = lo;
    if (hi & COMPRESSED_BIT) {
      out.kind = COMPRESSED;
      return out;
    }
    if ((lo & 0x1fe) !== 0 || (hi & 0x3fe00000) !== 0) throw this.corrupt(`L2 entry for guest cluster ${gc} has reserved bits set`);
    out.host = this.offsetOf(hi, lo, `L2 entry for guest cluster ${gc}`);
    if (out.host % this.cs !== 0) throw this.corrupt(`data cluster for guest cluster ${gc} is not aligned`);
    out.copied = (hi & COPIED) !== 0;
    out.kind = this.v3 && lo & 1 ? ZERO : out.host !== 0 ? NORMAL : UNALLOCATED;
    return out;
  }

  /**
   * Points guest clusters [gc, gc+n) at host clusters from `host` (contiguous, refcount 1),
   * or, with host 0, makes them unallocated (zero false) or zero clusters. New L2 tables
   * are written before the L1 entry that points at them.
   */
  setRun(gc: number, n: number, host: number, zero: boolean): void {
    const E = this.l2Entries;
    for (let g = gc; g < gc + n;) {
      const l1i = Math.floor(g / E);
      const first = g % E;
      const count = Math.min(E - first, gc + n - g);
      let l2 = this.l2Offset(l1i);
      if (l2 === 0 && host === 0 && !zero) { g += count; continue; }
      const fresh = l2 === 0 || !this.l1Copied(l1i);
      let v: DataView;
      if (fresh) {
        v = viewOf(new Uint8Array(this.cs));
        if (l2 !== 0) new Uint8Array(v.buffer).set(new Uint8Array(this.table(l2).buffer));
      } else {
        v = this.table(l2); // updated in place: the cache is written through below
      }
      const t = new Uint8Array(v.buffer);
      for (let i = 0; i < count; i++) {
        const h = host === 0 ? 0 : host + (g - gc + i) * this.cs;
        v.setUint32((first + i) * 8, h === 0 ? 0 : (COPIED | Math.floor(h / 2 ** 32)) >>> 0);
        v.setUint32((first + i) * 8 + 4, (h >>> 0) | (zero ? 1 : 0));
      }
      if (fresh) {
        // A new table (or a private copy of a shared one): whole, then the L1 entry.
        const old = l2;
        // Checked before anything is written, so a refusal leaves the image as it was.
        if (old !== 0) this.meta.check(old, this.cs, Meta.L2, 'freeing an old L2 table');
        l2 = this.refs.allocate(1) * this.cs;
        pwriteFull(this.fd, t, l2);
        this.setL1(l1i, l2);
        this.meta.l2.add(l2 / this.cs);
        if (old !== 0) {
          if (!this.l1Names(old)) this.meta.l2.delete(old / this.cs);
          this.refs.free(old / this.cs, 1);
        }
      } else {
        this.meta.check(l2 + first * 8, count * 8, Meta.L2, 'an L2 table update');
        pwriteFull(this.fd, t.subarray(first * 8, (first + count) * 8), l2 + first * 8);
      }
      this.cache.delete(l2);
      this.cache.set(l2, v);
      g += count;
    }
  }

  /** The offset L1 entry `i` names, unvalidated (l2Offset validates it where it is used). */
  private l1Raw(i: number): number {
    return (this.l1v.getUint32(i * 8) & 0x001fffff) * 2 ** 32 + ((this.l1v.getUint32(i * 8 + 4) & 0xfffffe00) >>> 0);
  }

  /** Whether any L1 entry still points at the L2 table at `off` (a shared table's copy is rare). */
  private l1Names(off: number): boolean {
    for (let i = 0; i * 8 < this.l1.length; i++) if (this.l1Raw(i) === off) return true;
    return false;
  }

  private setL1(i: number, l2: number): void {
    const v = this.l1v;
    v.setUint32(i * 8, (COPIED | Math.floor(l2 / 2 ** 32)) >>> 0);
    v.setUint32(i * 8 + 4, l2 >>> 0);
    pwriteFull(this.fd, this.l1.subarray(i * 8, i * 8 + 8), this.l1Offset + i * 8);
  }
}
