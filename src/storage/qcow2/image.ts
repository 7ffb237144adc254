// A qcow2 image as a BlockBackend: read and write paths over Tables and Refcounts.
//
// Write ordering (see refcount.ts): refcounts raised, then data, then L2, then L1, then old
// clusters' refcounts lowered. A process killed at any point leaves an image that
// `qemu-img check` finds at worst leaking clusters.

import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import type { BlockBackend } from '../../devices/block.js';
import { DiskError, withFileErrors } from '../errors.js';
import { fileSize, preadFull, pwriteFull, pwritevFull, viewOf } from '../fileio.js';
import { compressedClusters, compressedSpan, inflateCluster } from './compressed.js';
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY, parseHeader, type Qcow2Header } from './header.js';
import { Meta, MetadataMap } from './metadata.js';
import { Refcounts } from './refcount.js';
import { readSnapshotTable, type SnapshotTable } from './snapshots.js';
import { COMPRESSED, type Mapping, NORMAL, Tables, UNALLOCATED, ZERO } from './tables.js';

export interface Qcow2Options {
  readOnly?: boolean;
  serial?: string;
  /** Opens the backing file (read-only) named by the header, resolved by the caller. */
  openBacking?: (image: string, backing: string, format: string | undefined) => BlockBackend;
  /** For `check --repair`: open a dirty or corrupt image writable. */
  repair?: boolean;
  /** For `info` and `check`, which look at one image's metadata only. */
  skipBacking?: boolean;
  /** Told once when the image is found corrupt and made read-only (the CLI prints it). */
  warn?: (message: string) => void;
}

const blank = (): Mapping => ({ kind: UNALLOCATED, host: 0, copied: false, hi: 0, lo: 0 });

export class Qcow2Image implements BlockBackend {
  readonly size: number;
  readonly serial: string;
  readonly cs: number;
  readonly fd: number;
  readonly backing: BlockBackend | null = null;
  // The metadata read from the file: read anew by invalidate().
  header!: Qcow2Header;
  refs!: Refcounts;
  tables!: Tables;
  meta!: MetadataMap;
  snapshots: SnapshotTable = { entries: [], length: 0 };
  /** Opened read-only, or made so when a write would have hit metadata. */
  private ro: boolean;
  private readonly warn?: (message: string) => void;
  private closed = false;
  private m = blank();
  /** The last cluster inflated: sequential reads hit it 512 bytes at a time. */
  private inflated: { hi: number; lo: number; data: Uint8Array } | null = null;

  constructor(readonly file: string, opts: Qcow2Options = {}) {
    this.ro = opts.readOnly ?? false;
    this.warn = opts.warn;
    this.serial = opts.serial ?? '';
    this.fd = openSync(file, this.ro ? 'r' : 'r+');
    try {
      const h = this.readMetadata(opts.repair ?? false);
      this.cs = 2 ** h.clusterBits;
      this.size = Math.floor(h.size / 512) * 512;
      if (h.backingFile !== undefined && !opts.skipBacking) {
        if (!opts.openBacking) throw new DiskError(`${file}: has a backing file but no way to open it`);
        this.backing = opts.openBacking(file, h.backingFile, h.backingFormat);
      }
      // Unknown auto-clear features (and bitmaps, which rvisor does not update) must be
      // cleared before the first write, declaring their data stale.
      if (!this.ro && h.version >= 3 && h.autoclear !== 0) this.writeHeaderWord(88, 0, 0);
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  /** Reads the header, refcounts and tables from the file; the cluster size and disk
   *  size are fixed at the first read (the constructor sets them from its result). */
  private readMetadata(repair: boolean): Qcow2Header {
    const file = this.file;
    const length = fileSize(this.fd);
    const first = new Uint8Array(Math.min(length, 2 ** 21));
    preadFull(this.fd, first, 0);
    const h = parseHeader(file, first, length);
    const cs = 2 ** h.clusterBits;
    if (!this.ro) this.checkWritable(h, repair);
    const meta = new MetadataMap(cs, (what) => this.markCorrupt(what));
    let snapshots: SnapshotTable = { entries: [], length: 0 };
    if (h.nbSnapshots > 0) {
      snapshots = readSnapshotTable(this.fd, file, h, length);
      meta.setRange(Meta.SNAPSHOT_TABLE, h.snapshotsOffset, snapshots.length);
    }
    const refs = new Refcounts(this.fd, file, cs, h.refcountOrder, h.refcountTableOffset, h.refcountTableClusters, length,
      (offset, clusters) => this.commitRefcountTable(offset, clusters), meta);
    this.tables = new Tables(this.fd, file, cs, h.version >= 3, h.l1TableOffset, h.l1Size, refs, meta);
    this.header = h;
    this.meta = meta;
    this.snapshots = snapshots;
    this.refs = refs;
    return h;
  }

  /**
   * Another process wrote the image since it was opened (a migration's source, on shared
   * storage): every table read from it is stale. Reads the metadata anew; the image must
   * still be the disk it was (same size and cluster size).
   */
  invalidate(): void {
    withFileErrors(this.file, () => {
      this.m = blank();
      this.inflated = null;
      const h = this.readMetadata(false);
      if (2 ** h.clusterBits !== this.cs || Math.floor(h.size / 512) * 512 !== this.size) {
        this.ro = true;
        throw new DiskError(`${this.file}: the image changed its size or cluster size while another process had it open; further writes are refused`);
      }
    });
  }

  get readOnly(): boolean {
    return this.ro;
  }

  /**
   * A write would have hit metadata: the image is corrupt. As QEMU does, set the corrupt
   * bit (v3) so nothing opens it writable again until it is repaired, and refuse every
   * further write now; the guest sees I/O errors, its data so far stays readable.
   */
  private markCorrupt(what: string): DiskError {
    if (!this.ro) {
      this.ro = true;
      if (this.header.version >= 3) this.setIncompatible(INCOMPAT_CORRUPT, true);
      fdatasyncSync(this.fd);
      this.warn?.(`${this.file}: marking the image corrupt: ${what}; further writes are refused`);
    }
    return new DiskError(`${this.file}: corrupt image: ${what} (the image is now marked corrupt; 'rvisor disk check --repair' may fix it)`);
  }

  private checkWritable(h: Qcow2Header, repair: boolean): void {
    const f = this.file;
    if (repair) return;
    if (h.incompatible & INCOMPAT_CORRUPT) throw new DiskError(`${f}: image is marked corrupt; it can only be opened read-only (or repaired: 'rvisor disk check --repair')`);
    if (h.incompatible & INCOMPAT_DIRTY) throw new DiskError(`${f}: image is marked dirty (refcounts may be stale); run 'rvisor disk check --repair ${f}' or open it read-only`);
    if (h.nbSnapshots > 0) throw new DiskError(`${f}: image has internal snapshots, which rvisor can only open read-only`);
  }

  private writeHeaderWord(at: number, hi: number, lo: number): void {
    const b = new Uint8Array(8);
    viewOf(b).setUint32(0, hi);
    viewOf(b).setUint32(4, lo);
    pwriteFull(this.fd, b, at);
  }

  /** Sets or clears incompatible feature bits (dirty, corrupt) in the header. */
  setIncompatible(bits: number, on: boolean): void {
    const h = this.header;
    h.incompatible = on ? h.incompatible | bits : h.incompatible & ~bits;
    if (h.version >= 3) this.writeHeaderWord(72, 0, h.incompatible);
  }

  private commitRefcountTable(offset: number, clusters: number): void {
    const b = new Uint8Array(12);
    const v = viewOf(b);
    v.setUint32(0, Math.floor(offset / 2 ** 32));
    v.setUint32(4, offset >>> 0);
    v.setUint32(8, clusters);
    pwriteFull(this.fd, b, 48);
    this.header.refcountTableOffset = offset;
    this.header.refcountTableClusters = clusters;
  }

  private bounds(offset: number, length: number, write: boolean): void {
    if (this.closed) throw new DiskError(`${this.file}: image is closed`);
    if (write && this.ro) throw new DiskError(`${this.file}: image is read-only`);
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new DiskError(`${this.file}: access at ${offset}+${length} beyond the disk (${this.size} bytes)`);
    }
  }

  read(offset: number, dest: Uint8Array): void {
    withFileErrors(this.file, () => this.readImage(offset, dest));
  }

  private readImage(offset: number, dest: Uint8Array): void {
    this.bounds(offset, dest.length, false);
    this.readGuest(offset, dest);
  }

  /** Guest bytes, no bounds check (copy-on-write reads the whole last cluster). */
  private readGuest(offset: number, dest: Uint8Array): void {
    const cs = this.cs;
    const end = offset + dest.length;
    const m = this.m;
    for (let pos = offset; pos < end;) {
      const gc = Math.floor(pos / cs);
      const { kind, host, hi, lo } = this.tables.lookup(gc, m);
      let k = 1;
      if (kind !== COMPRESSED) {
        while ((gc + k) * cs < end) {
          this.tables.lookup(gc + k, m);
          if (m.kind !== kind || (kind === NORMAL && m.host !== host + k * cs)) break;
          k++;
        }
      }
      const n = Math.min(end, (gc + k) * cs) - pos;
      const out = dest.subarray(pos - offset, pos - offset + n);
      if (kind === NORMAL) preadFull(this.fd, out, host + (pos % cs));
      else if (kind === ZERO) out.fill(0);
      else if (kind === UNALLOCATED) this.readBacking(pos, out);
      else out.set(this.inflate(hi, lo, gc).subarray(pos % cs, (pos % cs) + n));
      pos += n;
    }
  }

  private readBacking(pos: number, out: Uint8Array): void {
    const b = this.backing;
    const have = b ? Math.max(0, Math.min(out.length, b.size - pos)) : 0;
    if (b && have > 0) b.read(pos, out.subarray(0, have));
    out.fill(0, have);
  }

  private inflate(hi: number, lo: number, gc: number): Uint8Array {
    const c = this.inflated;
    if (c && c.hi === hi && c.lo === lo) return c.data;
    const span = compressedSpan(hi, lo, this.header.clusterBits);
    if (span.offset < this.cs || span.offset >= this.refs.highWater * this.cs) {
      throw new DiskError(`${this.file}: corrupt image: compressed cluster for guest offset ${gc * this.cs} at ${span.offset}, outside the image`);
    }
    const data = inflateCluster(this.fd, this.file, span, this.cs, gc * this.cs);
    this.inflated = { hi, lo, data };
    return data;
  }

  write(offset: number, src: Uint8Array): void {
    withFileErrors(this.file, () => this.writeImage(offset, src));
  }

  private writeImage(offset: number, src: Uint8Array): void {
    this.bounds(offset, src.length, true);
    const cs = this.cs;
    const end = offset + src.length;
    const m = this.m;
    const inPlace = (g: number) => this.tables.lookup(g, m).kind === NORMAL && m.copied;
    for (let pos = offset; pos < end;) {
      const gc = Math.floor(pos / cs);
      let k = 1;
      if (inPlace(gc)) {
        const host = m.host;
        while ((gc + k) * cs < end && inPlace(gc + k) && m.host === host + k * cs) k++;
        const n = Math.min(end, (gc + k) * cs) - pos;
        this.meta.check(host + (pos % cs), n, Meta.NONE, 'a data write');
        pwriteFull(this.fd, src.subarray(pos - offset, pos - offset + n), host + (pos % cs));
        pos += n;
        continue;
      }
      // Clusters that need a new host cluster: unallocated, zero, compressed or shared.
      const olds: Mapping[] = [{ ...m }];
      while ((gc + k) * cs < end && !inPlace(gc + k)) { olds.push({ ...m }); k++; }
      this.checkReleasable(olds);
      const runStart = gc * cs;
      const runEnd = (gc + k) * cs;
      const wEnd = Math.min(end, runEnd);
      // Copy-on-write of the partial clusters at either end, from what the guest sees now.
      const head = new Uint8Array(pos - runStart);
      const tail = new Uint8Array(runEnd - wEnd);
      if (head.length) this.readGuest(runStart, head);
      if (tail.length) this.readGuest(wEnd, tail);
      const host = this.refs.allocate(k) * cs;
      pwritevFull(this.fd, [head, src.subarray(pos - offset, wEnd - offset), tail], host);
      this.tables.setRun(gc, k, host, false);
      for (const old of olds) this.release(old);
      pos = wEnd;
    }
  }

  /** The host clusters an old mapping holds a reference to (none for zero/unallocated). */
  private held(old: Mapping): [first: number, count: number] {
    if (old.kind === COMPRESSED) return compressedClusters(compressedSpan(old.hi, old.lo, this.header.clusterBits), this.cs);
    return old.host !== 0 ? [old.host / this.cs, 1] : [0, 0];
  }

  /**
   * Refuses (marking the image corrupt) to go on when an old mapping points into
   * metadata: freeing it would lower a metadata cluster's refcount. Called before any
   * table changes, so a refused request leaves the image as it was.
   */
  private checkReleasable(olds: readonly Mapping[]): void {
    for (const old of olds) {
      const [first, count] = this.held(old);
      this.meta.check(first * this.cs, count * this.cs, Meta.NONE, old.kind === COMPRESSED ? 'freeing a compressed cluster' : 'freeing a data cluster');
    }
  }

  /** Drops the reference an old mapping held (after nothing points at it any more). */
  private release(old: Mapping): void {
    const [first, count] = this.held(old);
    if (count) this.refs.free(first, count);
    if (old.kind === COMPRESSED) this.inflated = null;
  }

  /**
   * Makes whole clusters [gc, gc+n) zero clusters or unallocated, freeing their storage;
   * one L2 table at a time, since a guest's mkfs discards the whole disk at once.
   */
  private unmap(gc: number, n: number, zero: boolean): void {
    const E = this.tables.l2Entries;
    for (let g = gc; g < gc + n;) {
      const count = Math.min(E - (g % E), gc + n - g);
      if (this.tables.l2Offset(Math.floor(g / E)) === 0) {
        // No L2 table: all unallocated, nothing to free.
        if (zero) this.tables.setRun(g, count, 0, true);
        g += count;
        continue;
      }
      const olds: Mapping[] = [];
      let change = false;
      for (let i = 0; i < count; i++) {
        const m = this.tables.lookup(g + i, this.m);
        if (zero ? m.kind === ZERO && m.host === 0 : m.kind === UNALLOCATED) continue;
        change = true;
        if (m.host !== 0 || m.kind === COMPRESSED) olds.push({ ...m });
      }
      if (change) {
        this.checkReleasable(olds);
        this.tables.setRun(g, count, 0, zero);
        for (const old of olds) this.release(old);
      }
      g += count;
    }
  }

  /** Whole clusters inside [offset, offset+length) (the disk's last cluster may be short). */
  private wholeClusters(offset: number, length: number): [first: number, end: number] {
    const end = offset + length;
    const first = Math.ceil(offset / this.cs);
    const last = end >= this.header.size ? Math.ceil(end / this.cs) : Math.floor(end / this.cs);
    return [first, Math.max(first, last)];
  }

  flush(): void {
    if (!this.ro && !this.closed) withFileErrors(this.file, () => fdatasyncSync(this.fd));
  }

  /**
   * Frees whole clusters; partial ones keep their data (discarded bytes are unspecified).
   * With a backing file, a freed cluster becomes a zero cluster so the backing data does
   * not show through (v3); v2 has no zero clusters, so there it is left alone.
   */
  discard(offset: number, length: number): void {
    withFileErrors(this.file, () => this.discardImage(offset, length));
  }

  private discardImage(offset: number, length: number): void {
    this.bounds(offset, length, true);
    const [first, end] = this.wholeClusters(offset, length);
    if (this.backing && this.header.version < 3) return;
    this.unmap(first, end - first, this.backing !== null);
  }

  /**
   * Whole clusters become zero clusters (or unallocated without a backing file) whatever
   * `unmap` says: freeing is cheaper than writing zeroes and reads the same. Partial
   * clusters get real zeroes.
   */
  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    withFileErrors(this.file, () => this.zeroImage(offset, length));
  }

  private zeroImage(offset: number, length: number): void {
    this.bounds(offset, length, true);
    const cs = this.cs;
    const [first, end] = this.wholeClusters(offset, length);
    const zeroes = (from: number, to: number) => {
      for (let p = from; p < to; p += 1 << 20) this.writeImage(p, new Uint8Array(Math.min(1 << 20, to - p)));
    };
    if (first >= end || (this.backing && this.header.version < 3)) return zeroes(offset, offset + length);
    zeroes(offset, Math.min(first * cs, offset + length));
    this.unmap(first, end - first, this.backing !== null);
    zeroes(Math.max(offset, Math.min(end * cs, offset + length)), offset + length);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    this.backing?.close();
  }
}
