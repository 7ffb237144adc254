// Where an image's metadata lives, so no write lands on it by mistake (QEMU's
// qcow2_check_metadata_overlap). A corrupt image can name any host cluster: an L2 entry
// pointing at the L1 table, a refcount block claiming the header is free. Without this
// check a guest's ordinary write then overwrites the header or wipes the L1 table. Every
// write path asks `check` first; a hit marks the image corrupt and the write fails, so
// the guest sees an I/O error and nothing on the disk is destroyed.

import { DiskError } from '../errors.js';

/** The kinds of metadata; a write names the one kind it may touch (or none). */
export const enum Meta {
  NONE = 0,
  HEADER = 1,
  L1 = 2,
  L2 = 4,
  REFCOUNT_TABLE = 8,
  REFCOUNT_BLOCK = 16,
  SNAPSHOT_TABLE = 32,
}

const NAMES: Record<number, string> = {
  [Meta.HEADER]: 'the header', [Meta.L1]: 'the active L1 table', [Meta.L2]: 'an active L2 table',
  [Meta.REFCOUNT_TABLE]: 'the refcount table', [Meta.REFCOUNT_BLOCK]: 'a refcount block',
  [Meta.SNAPSHOT_TABLE]: 'the snapshot table',
};

interface Range {
  start: number;
  end: number;
}

export class MetadataMap {
  /** Host clusters holding active L2 tables and refcount blocks. */
  readonly l2 = new Set<number>();
  readonly refBlocks = new Set<number>();
  private readonly ranges = new Map<Meta, Range>();

  constructor(
    private readonly cs: number,
    /** Marks the image corrupt (and read-only); `check` then throws the error it returns. */
    private readonly onOverlap: (what: string) => DiskError,
  ) {
    this.setRange(Meta.HEADER, 0, cs);
  }

  /** Sets where a contiguous structure (header, L1, refcount table, snapshot table) lies. */
  setRange(kind: Meta, start: number, length: number): void {
    if (length <= 0) this.ranges.delete(kind);
    else this.ranges.set(kind, { start, end: start + length });
  }

  /** Which metadata [offset, offset+length) overlaps, ignoring the kinds in `allowed`. */
  overlap(offset: number, length: number, allowed: Meta): Meta {
    const end = offset + length;
    for (const [kind, r] of this.ranges) {
      if (!(allowed & kind) && offset < r.end && r.start < end) return kind;
    }
    const first = Math.floor(offset / this.cs);
    const last = Math.floor((end - 1) / this.cs);
    for (let c = first; c <= last; c++) {
      if (!(allowed & Meta.L2) && this.l2.has(c)) return Meta.L2;
      if (!(allowed & Meta.REFCOUNT_BLOCK) && this.refBlocks.has(c)) return Meta.REFCOUNT_BLOCK;
    }
    return Meta.NONE;
  }

  /**
   * Throws (after marking the image corrupt) when `what` (a write, or freeing clusters) at
   * [offset, offset+length) would hit metadata other than `allowed`.
   */
  check(offset: number, length: number, allowed: Meta, what: string): void {
    if (length <= 0) return;
    const hit = this.overlap(offset, length, allowed);
    if (hit === Meta.NONE) return;
    throw this.onOverlap(`refused ${what} at host offset ${offset} (${length} bytes): it overlaps ${NAMES[hit]}`);
  }
}
