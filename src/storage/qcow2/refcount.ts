// Host cluster reference counts: the refcount table (kept whole in memory) and refcount
// blocks (an LRU cache, written through on every change), plus cluster allocation.
//
// Crash ordering: a refcount is raised before anything points at the cluster and lowered
// only after the last pointer is gone, so a process killed mid-way leaves at worst leaked
// clusters (refcount above the real count), never a cluster in use with refcount zero.

import { DiskError } from '../errors.js';
import { getU64, preadFull, pwriteFull, setU64, viewOf } from '../fileio.js';
import { Meta, type MetadataMap } from './metadata.js';

const BLOCK_CACHE = 256;

export class Refcounts {
  readonly entriesPerBlock: number;
  private readonly bits: number;
  private readonly max: number;
  private table: Uint8Array;
  private tableView: DataView;
  private blocks = new Map<number, Uint8Array>();
  /** The block used last (always also in `blocks`: it is the most recent entry). */
  private lastBlock = -1;
  private lastData: Uint8Array | null = null;
  /** Lowest cluster that may be free (check's repair moves it past every cluster in use). */
  freeHint = 0;
  /** First cluster past everything known to be in use (and past the end of the file). */
  highWater: number;

  constructor(
    private readonly fd: number,
    private readonly file: string,
    private readonly cs: number,
    order: number,
    public tableOffset: number,
    public tableClusters: number,
    fileLength: number,
    /** Commits a moved refcount table to the header (one write of bytes 48..59). */
    private readonly commitTable: (offset: number, clusters: number) => void,
    private readonly meta: MetadataMap,
  ) {
    this.bits = 2 ** order;
    this.max = order >= 5 ? 2 ** 32 - 1 : 2 ** this.bits - 1;
    this.entriesPerBlock = (cs * 8) / this.bits;
    this.table = new Uint8Array(tableClusters * cs);
    this.tableView = viewOf(this.table);
    preadFull(fd, this.table, tableOffset);
    this.highWater = Math.ceil(fileLength / cs);
    meta.setRange(Meta.REFCOUNT_TABLE, tableOffset, tableClusters * cs);
    // Every block the table names is metadata, whether or not it is ever used (a bad
    // entry is refused when it is read, in blockOffset).
    const v = this.tableView;
    for (let b = 0; b < this.tableEntries; b++) {
      const off = (v.getUint32(b * 8) & 0x001fffff) * 2 ** 32 + v.getUint32(b * 8 + 4);
      if (off !== 0 && off % cs === 0) meta.refBlocks.add(off / cs);
    }
  }

  get tableEntries(): number {
    return this.table.length / 8;
  }

  /** Offset of refcount block `b`, 0 if it is not allocated. */
  blockOffset(b: number): number {
    if (b >= this.tableEntries) return 0;
    const v = this.tableView;
    let off: number;
    try {
      off = getU64(v, b * 8);
    } catch {
      throw new DiskError(`${this.file}: refcount table entry ${b} out of range`);
    }
    if (off % this.cs !== 0) throw new DiskError(`${this.file}: refcount block ${b} at unaligned offset ${off}`);
    // A block inside the header or the table itself would make every update overwrite
    // metadata (a refcount loop): refuse rather than write through it.
    const inTable = off >= this.tableOffset && off < this.tableOffset + this.tableClusters * this.cs;
    if (off >= this.highWater * this.cs) throw new DiskError(`${this.file}: corrupt image: refcount block ${b} at ${off}, beyond the end of the image (try 'rvisor disk check')`);
    if (off !== 0 && (off < this.cs || inTable)) throw new DiskError(`${this.file}: corrupt image: refcount block ${b} at ${off} overlaps the header or the refcount table (try 'rvisor disk check')`);
    return off;
  }

  private block(b: number): Uint8Array | null {
    // check walks every cluster in order: the same block many times in a row.
    if (b === this.lastBlock) return this.lastData;
    const cached = this.blocks.get(b);
    if (cached) {
      this.blocks.delete(b);
      this.blocks.set(b, cached);
      this.lastBlock = b;
      this.lastData = cached;
      return cached;
    }
    const off = this.blockOffset(b);
    if (off === 0) return null;
    const data = new Uint8Array(this.cs);
    preadFull(this.fd, data, off);
    this.remember(b, data);
    return data;
  }

  private remember(b: number, data: Uint8Array): void {
    this.blocks.set(b, data);
    this.lastBlock = b;
    this.lastData = data;
    if (this.blocks.size > BLOCK_CACHE) this.blocks.delete(this.blocks.keys().next().value as number);
  }

  /** Entry `i` of a block, big-endian, read byte-wise (no DataView per call: check reads millions). */
  private getIn(block: Uint8Array, i: number): number {
    switch (this.bits) {
      case 8: return block[i];
      case 16: return (block[2 * i] << 8) | block[2 * i + 1];
      case 32: return ((block[4 * i] << 24) | (block[4 * i + 1] << 16) | (block[4 * i + 2] << 8) | block[4 * i + 3]) >>> 0;
      case 64: {
        const at = 8 * i;
        if (block[at] | block[at + 1] | block[at + 2] | block[at + 3]) throw new DiskError(`${this.file}: refcount above 2^32`);
        return ((block[at + 4] << 24) | (block[at + 5] << 16) | (block[at + 6] << 8) | block[at + 7]) >>> 0;
      }
      default: { // 1, 2 or 4 bits, least significant first within a byte
        const bit = i * this.bits;
        return (block[bit >> 3] >> (bit & 7)) & this.max;
      }
    }
  }

  private setIn(block: Uint8Array, i: number, value: number): void {
    const v = viewOf(block);
    switch (this.bits) {
      case 8: block[i] = value; break;
      case 16: v.setUint16(i * 2, value); break;
      case 32: v.setUint32(i * 4, value); break;
      case 64: v.setUint32(i * 8, 0); v.setUint32(i * 8 + 4, value); break;
      default: {
        const bit = i * this.bits;
        block[bit >> 3] = (block[bit >> 3] & ~(this.max << (bit & 7))) | (value << (bit & 7));
      }
    }
  }

  /** Whether refcount block `b` (which must exist) counts nothing at all. */
  blockIsZero(b: number): boolean {
    const block = this.block(b) as Uint8Array;
    for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
    return true;
  }

  get(cluster: number): number {
    const block = this.block(Math.floor(cluster / this.entriesPerBlock));
    return block ? this.getIn(block, cluster % this.entriesPerBlock) : 0;
  }

  /** Adds `delta` to the refcounts of `n` clusters from `start` (whose blocks must exist when raising). */
  addRange(start: number, n: number, delta: number): void {
    const E = this.entriesPerBlock;
    for (let c = start; c < start + n;) {
      const b = Math.floor(c / E);
      const first = c % E;
      const count = Math.min(E - first, start + n - c);
      const block = this.block(b);
      if (!block) {
        if (delta < 0) throw new DiskError(`${this.file}: freeing cluster ${c} that has no refcount block`);
        this.blockElsewhere(b);
        continue;
      }
      for (let i = first; i < first + count; i++) {
        const value = this.getIn(block, i) + delta;
        if (value < 0) throw new DiskError(`${this.file}: refcount of cluster ${b * E + i} would go below zero (corrupt image; try 'rvisor disk check --repair')`);
        if (value > this.max) throw new DiskError(`${this.file}: refcount overflow at cluster ${b * E + i}`);
        this.setIn(block, i, value);
      }
      const lo = Math.floor((first * this.bits) / 8);
      const hi = Math.ceil(((first + count) * this.bits) / 8);
      const at = this.blockOffset(b) + lo;
      this.meta.check(at, hi - lo, Meta.REFCOUNT_BLOCK, 'a refcount update');
      pwriteFull(this.fd, block.subarray(lo, hi), at);
      if (delta < 0) this.freeHint = Math.min(this.freeHint, c);
      c += count;
    }
  }

  free(start: number, n: number): void {
    this.addRange(start, n, -1);
  }

  /** Allocates `n` contiguous free clusters (refcount 1) and returns the first one. */
  allocate(n: number): number {
    const E = this.entriesPerBlock;
    const hint = this.freeHint;
    let run = hint;
    let firstFree = -1;
    for (let c = hint; c - run < n; c++) {
      const b = Math.floor(c / E);
      if (this.blockOffset(b) === 0) {
        // No block: every cluster it would count is free.
        if (firstFree < 0) firstFree = c;
        c = Math.min((b + 1) * E, run + n) - 1;
        continue;
      }
      if (this.getIn(this.block(b) as Uint8Array, c % E) !== 0) run = c + 1;
      else if (firstFree < 0) firstFree = c;
    }
    // Refcounts that call metadata free are corruption: refuse before anything is written.
    this.meta.check(run * this.cs, n * this.cs, Meta.NONE, 'an allocation of clusters the refcounts call free');
    // Nothing may be placed inside the run while its refcounts are still zero.
    this.highWater = Math.max(this.highWater, run + n);
    for (let b = Math.floor(run / E); b <= Math.floor((run + n - 1) / E); b++) {
      if (this.blockOffset(b) === 0) this.placeBlock(b, run + n);
    }
    this.addRange(run, n, 1);
    // Everything from the hint to the run was in use, unless a smaller gap was passed over.
    this.freeHint = firstFree === run ? run + n : Math.max(hint, firstFree);
    return run;
  }

  /**
   * Creates missing refcount block `b` in the first free cluster from `from`. A cluster
   * whose own block is missing gets that block first (describing itself).
   */
  private placeBlock(b: number, from: number): void {
    const E = this.entriesPerBlock;
    for (let p = from; ; p++) {
      if (this.blockOffset(b) !== 0) return; // a table move may have made it
      const bp = Math.floor(p / E);
      if (bp >= this.tableEntries) {
        this.grow(Math.max(b, bp) + 1);
        p--; // the new table may sit at p: look again
        continue;
      }
      if (this.blockOffset(bp) === 0) {
        const data = new Uint8Array(this.cs);
        this.setIn(data, p % E, 1);
        this.installBlock(bp, p, data);
        continue;
      }
      if (this.get(p) !== 0) continue;
      this.addRange(p, 1, 1);
      this.installBlock(b, p, new Uint8Array(this.cs));
      return;
    }
  }

  /** For repair: makes sure block `b` exists, outside everything in use. */
  private blockElsewhere(b: number): void {
    this.placeBlock(b, this.highWater);
  }

  private installBlock(b: number, cluster: number, data: Uint8Array): void {
    this.meta.check(cluster * this.cs, this.cs, Meta.NONE, 'a new refcount block');
    pwriteFull(this.fd, data, cluster * this.cs); // the block before the pointer to it
    const entry = new Uint8Array(8);
    setU64(viewOf(entry), 0, cluster * this.cs);
    pwriteFull(this.fd, entry, this.tableOffset + b * 8);
    this.table.set(entry, b * 8);
    this.meta.refBlocks.add(cluster);
    this.remember(b, data);
    this.highWater = Math.max(this.highWater, cluster + 1);
  }

  /**
   * Moves the refcount table to a bigger one at the end of the image, with new refcount
   * blocks for the clusters it occupies. Written in full before the header points at it,
   * and the old table is freed after, so a crash leaves the old table or leaked clusters.
   */
  private grow(minEntries: number): void {
    const E = this.entriesPerBlock;
    const perCluster = this.cs / 8;
    let n = Math.max(this.tableClusters * 2, Math.ceil(minEntries / perCluster));
    let start = this.highWater;
    let missing: number[] = [];
    for (;;) {
      const end = start + n + missing.length;
      let busy = -1;
      for (let c = start; c < end; c++) if (this.get(c) !== 0) busy = c;
      if (busy >= 0) { start = busy + 1; continue; }
      const now: number[] = [];
      for (let b = Math.floor(start / E); b <= Math.floor((end - 1) / E); b++) if (this.blockOffset(b) === 0) now.push(b);
      if (now.length !== missing.length) { missing = now; continue; }
      const need = Math.max(minEntries, this.tableEntries, ...missing.map((b) => b + 1));
      if (need > n * perCluster) { n = Math.ceil(need / perCluster); continue; }
      break;
    }
    const end = start + n + missing.length;
    this.meta.check(start * this.cs, (end - start) * this.cs, Meta.NONE, 'a new refcount table');
    const table = new Uint8Array(n * this.cs);
    table.set(this.table);
    const fresh = new Map<number, Uint8Array>();
    missing.forEach((b, i) => {
      fresh.set(b, new Uint8Array(this.cs));
      setU64(viewOf(table), b * 8, (start + n + i) * this.cs);
    });
    for (let c = start; c < end; c++) {
      const block = fresh.get(Math.floor(c / E));
      if (block) this.setIn(block, c % E, 1);
      else this.addRange(c, 1, 1);
    }
    missing.forEach((b, i) => pwriteFull(this.fd, fresh.get(b) as Uint8Array, (start + n + i) * this.cs));
    pwriteFull(this.fd, table, start * this.cs);
    this.commitTable(start * this.cs, n);
    this.meta.setRange(Meta.REFCOUNT_TABLE, start * this.cs, n * this.cs);
    missing.forEach((_b, i) => this.meta.refBlocks.add(start + n + i));
    const old = [this.tableOffset / this.cs, this.tableClusters];
    this.table = table;
    this.tableView = viewOf(table);
    this.tableOffset = start * this.cs;
    this.tableClusters = n;
    for (const [b, data] of fresh) this.remember(b, data);
    this.highWater = Math.max(this.highWater, end);
    this.free(old[0], old[1]);
  }
}
