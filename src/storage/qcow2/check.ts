// Refcount consistency, as `qemu-img check` sees it: every cluster the metadata reaches
// is counted, and the counts are compared with the stored refcounts. A stored count too
// high is a leak (wasted space); too low is a corruption (a later allocation would reuse
// a cluster in use). Repair sets every stored count to the computed one.

import { DiskError } from '../errors.js';
import { preadFull, viewOf } from '../fileio.js';
import { compressedClusters, compressedSpan } from './compressed.js';
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from './header.js';
import type { Qcow2Image } from './image.js';

export interface CheckResult {
  /** Refcounts too low or metadata pointing outside the image. */
  corruptions: number;
  /** Clusters whose refcount is higher than their references. */
  leaks: number;
  fixedLeaks: number;
  fixedCorruptions: number;
  /** Guest clusters with data in this image (not its backing file). */
  allocatedClusters: number;
  totalClusters: number;
  /** End of the last cluster in use. */
  imageEnd: number;
  messages: string[];
}

export function checkQcow2(img: Qcow2Image, repair: boolean): CheckResult {
  const first = scan(img);
  if (!repair || (first.leaks === 0 && first.corruptions === 0 && !(img.header.incompatible & (INCOMPAT_DIRTY | INCOMPAT_CORRUPT)))) return first.result;
  if (img.header.hasBitmaps) throw new DiskError(`${img.file}: cannot repair an image with persistent bitmaps`);
  if (first.unfixable > 0) throw new DiskError(`${img.file}: ${first.unfixable} metadata errors rvisor cannot repair`);
  const refs = img.refs;
  // New refcount blocks go past everything in use, never into a cluster counted too low.
  refs.freeHint = refs.highWater = Math.max(refs.highWater, first.expected.length);
  const mismatched = first.mismatched;
  for (const c of mismatched) if (refs.get(c) < first.expected[c]) refs.addRange(c, 1, first.expected[c] - refs.get(c));
  for (const c of mismatched) if (refs.get(c) > first.expected[c]) refs.addRange(c, 1, first.expected[c] - refs.get(c));
  img.flush();
  const after = scan(img);
  if (after.result.corruptions === 0 && after.result.leaks === 0) {
    img.setIncompatible(INCOMPAT_DIRTY | INCOMPAT_CORRUPT, false);
    img.flush();
  }
  return {
    ...after.result,
    fixedLeaks: first.leaks - after.result.leaks,
    fixedCorruptions: first.corruptions - after.result.corruptions,
    messages: [...first.result.messages, ...after.result.messages],
  };
}

/**
 * What each host cluster holds, as the metadata names it. A cluster named twice as
 * different things, or twice as something only one structure may own, is an overlap:
 * a write through one would destroy the other, so repair refuses such an image.
 */
const enum Owner { NONE, HEADER, REFCOUNT_TABLE, REFCOUNT_BLOCK, L1, SNAPSHOT_TABLE, L2, DATA, COMPRESSED }
const OWNER_NAMES = ['', 'the header', 'the refcount table', 'a refcount block', 'an L1 table', 'the snapshot table', 'an L2 table', 'a data cluster', 'a compressed cluster'];
/** Shared by snapshots (L2 tables and data) or packed byte-wise (compressed clusters). */
const mayRepeat = (o: Owner) => o >= Owner.L2;

/** One L2 table, and how many L1 entries name it (all tables, and the active one). */
interface L2Ref {
  l1Index: number;
  refs: number;
  active: number;
}

function scan(img: Qcow2Image) {
  const { header: h, cs, refs, fd } = img;
  const messages: string[] = [];
  const fileClusters = refs.highWater;
  const expected = new Uint32Array(fileClusters);
  const owners = new Uint8Array(fileClusters);
  let unfixable = 0;
  let allocated = 0;
  let end = 0;
  const error = (text: string) => {
    unfixable++;
    if (messages.length < 1000) messages.push(`ERROR: ${text}`);
  };
  const count = (offset: number, length: number, what: string, owner: Owner, times = 1) => {
    const firstC = Math.floor(offset / cs);
    const lastC = Math.floor((offset + Math.max(length, 1) - 1) / cs);
    for (let c = firstC; c <= lastC; c++) {
      if (c >= fileClusters) return error(`${what} at ${offset} is beyond the end of the image`);
      const was = owners[c] as Owner;
      if (was !== Owner.NONE && (was !== owner || !mayRepeat(owner))) error(`${what} at ${offset} overlaps ${OWNER_NAMES[was]} (cluster ${c})`);
      else owners[c] = owner;
      expected[c] += times;
      end = Math.max(end, (c + 1) * cs);
    }
  };
  count(0, cs, 'header', Owner.HEADER);
  count(h.refcountTableOffset, h.refcountTableClusters * cs, 'refcount table', Owner.REFCOUNT_TABLE);
  const badBlocks = new Set<number>();
  for (let b = 0; b < refs.tableEntries; b++) {
    let off: number;
    try {
      off = refs.blockOffset(b);
    } catch (e) {
      unfixable++;
      badBlocks.add(b);
      messages.push(`ERROR: ${(e as Error).message}`);
      continue;
    }
    if (off === 0) continue;
    if (off >= fileClusters * cs || owners[off / cs] !== Owner.NONE) badBlocks.add(b); // counted below, never read twice
    count(off, cs, `refcount block ${b}`, Owner.REFCOUNT_BLOCK);
  }

  // L1 tables first, collecting each L2 table once with the number of entries naming it:
  // snapshots share L2 tables, and walking a shared table once per reference would let a
  // crafted image (many snapshots, one huge L1) make check run for hours.
  const l2s = new Map<number, L2Ref>();
  const walkL1 = (l1Offset: number, l1Size: number, active: boolean) => {
    if (l1Size === 0) return;
    count(l1Offset, l1Size * 8, 'L1 table', Owner.L1);
    const l1 = new Uint8Array(l1Size * 8);
    preadFull(fd, l1, l1Offset);
    const v = viewOf(l1);
    for (let i = 0; i < l1Size; i++) {
      const hi = v.getUint32(i * 8);
      const lo = v.getUint32(i * 8 + 4);
      const l2 = ((hi & 0x00ffffff) * 2 ** 32) + ((lo & 0xfffffe00) >>> 0);
      if (l2 === 0) continue;
      // The same rules the reader applies (Tables.l2Offset): what it refuses is corrupt.
      if ((lo & 0x1ff) !== 0 || (hi & 0x7f000000) !== 0) {
        error(`L1 entry ${i} is malformed`);
        continue;
      }
      if (l2 % cs !== 0 || l2 >= fileClusters * cs) {
        error(`L1 entry ${i} points at bad L2 offset ${l2}`);
        continue;
      }
      const ref = l2s.get(l2) ?? { l1Index: i, refs: 0, active: 0 };
      ref.refs++;
      if (active) ref.active++;
      l2s.set(l2, ref);
    }
  };
  walkL1(h.l1TableOffset, h.l1Size, true);
  if (h.nbSnapshots > 0) {
    for (const s of img.snapshots.entries) walkL1(s.l1Offset, s.l1Size, false);
    count(h.snapshotsOffset, img.snapshots.length, 'snapshot table', Owner.SNAPSHOT_TABLE);
  }
  const t = new Uint8Array(cs);
  const tv = viewOf(t);
  for (const [l2, { l1Index: i, refs: n, active }] of l2s) {
    count(l2, cs, `L2 table ${i}`, Owner.L2, n);
    preadFull(fd, t, l2);
    for (let j = 0; j < cs / 8; j++) {
      const ehi = tv.getUint32(j * 8);
      const elo = tv.getUint32(j * 8 + 4);
      if (ehi === 0 && elo === 0) continue;
      const gc = i * (cs / 8) + j;
      if (ehi & 0x40000000) {
        const span = compressedSpan(ehi, elo, h.clusterBits);
        const [fc, k] = compressedClusters(span, cs);
        count(fc * cs, k * cs, `compressed cluster for guest offset ${gc * cs}`, Owner.COMPRESSED, n);
        allocated += active;
        continue;
      }
      if ((elo & 0x1fe) !== 0 || (ehi & 0x3fe00000) !== 0) {
        error(`L2 entry for guest offset ${gc * cs} has reserved bits set`);
        continue;
      }
      const host = ((ehi & 0x00ffffff) * 2 ** 32) + ((elo & 0xfffffe00) >>> 0);
      if (host === 0) continue;
      if (host % cs !== 0) {
        error(`data cluster for guest offset ${gc * cs} is not aligned (${host})`);
        continue;
      }
      count(host, cs, `data cluster for guest offset ${gc * cs}`, Owner.DATA, n);
      if (!(h.version >= 3 && elo & 1)) allocated += active;
    }
  }

  let corruptions = unfixable;
  let leaks = 0;
  const mismatched: number[] = [];
  const E = refs.entriesPerBlock;
  const limit = Math.max(fileClusters, refs.tableEntries * E);
  for (let c = 0; c < limit; c++) {
    const b = Math.floor(c / E);
    // Past the end of the file only a block with something in it is worth counting through.
    const skip = badBlocks.has(b) || (c >= fileClusters && (refs.blockOffset(b) === 0 || refs.blockIsZero(b)));
    if (skip) { c += E - 1 - (c % E); continue; }
    const stored = refs.get(c);
    const want = c < fileClusters ? expected[c] : 0;
    if (stored === want) continue;
    mismatched.push(c);
    const report = messages.length < 1000;
    if (stored < want) {
      corruptions++;
      if (report) messages.push(`ERROR cluster ${c} refcount=${stored} reference=${want}`);
    } else {
      leaks++;
      if (report) messages.push(`Leaked cluster ${c} refcount=${stored} reference=${want}`);
    }
  }
  return {
    expected, mismatched, unfixable, leaks, corruptions,
    result: {
      corruptions, leaks, fixedLeaks: 0, fixedCorruptions: 0,
      allocatedClusters: allocated, totalClusters: Math.ceil(h.size / cs), imageEnd: end, messages,
    } satisfies CheckResult,
  };
}
