// Refcount consistency, as `qemu-img check` sees it: every cluster the metadata reaches
// is counted, and the counts are compared with the stored refcounts. A stored count too
// high is a leak (wasted space); too low is a corruption (a later allocation would reuse
// a cluster in use). Repair sets every stored count to the computed one.

import { DiskError } from '../errors.js';
import { getU64, preadFull, viewOf } from '../fileio.js';
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

function scan(img: Qcow2Image) {
  const { header: h, cs, refs, fd } = img;
  const messages: string[] = [];
  const fileClusters = refs.highWater;
  const expected = new Uint32Array(fileClusters);
  let unfixable = 0;
  let allocated = 0;
  let end = 0;
  const count = (offset: number, length: number, what: string) => {
    const firstC = Math.floor(offset / cs);
    const lastC = Math.floor((offset + Math.max(length, 1) - 1) / cs);
    for (let c = firstC; c <= lastC; c++) {
      if (c >= fileClusters) {
        unfixable++;
        messages.push(`ERROR: ${what} at ${offset} is beyond the end of the image`);
        return;
      }
      expected[c]++;
      end = Math.max(end, (c + 1) * cs);
    }
  };
  count(0, cs, 'header');
  count(h.refcountTableOffset, h.refcountTableClusters * cs, 'refcount table');
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
    if (off !== 0) count(off, cs, `refcount block ${b}`);
  }
  const walkL1 = (l1Offset: number, l1Size: number, active: boolean) => {
    if (l1Size === 0) return;
    count(l1Offset, l1Size * 8, 'L1 table');
    const l1 = new Uint8Array(l1Size * 8);
    preadFull(fd, l1, l1Offset);
    const v = viewOf(l1);
    for (let i = 0; i < l1Size; i++) {
      const hi = v.getUint32(i * 8);
      const lo = v.getUint32(i * 8 + 4);
      const l2 = ((hi & 0x00ffffff) * 2 ** 32) + ((lo & 0xfffffe00) >>> 0);
      if (l2 === 0) continue;
      if (l2 % cs !== 0 || l2 >= fileClusters * cs) {
        unfixable++;
        messages.push(`ERROR: L1 entry ${i} points at bad L2 offset ${l2}`);
        continue;
      }
      count(l2, cs, `L2 table ${i}`);
      const t = new Uint8Array(cs);
      preadFull(fd, t, l2);
      const tv = viewOf(t);
      for (let j = 0; j < cs / 8; j++) {
        const ehi = tv.getUint32(j * 8);
        const elo = tv.getUint32(j * 8 + 4);
        if (ehi === 0 && elo === 0) continue;
        const gc = i * (cs / 8) + j;
        if (ehi & 0x40000000) {
          const span = compressedSpan(ehi, elo, h.clusterBits);
          const [fc, n] = compressedClusters(span, cs);
          count(fc * cs, n * cs, `compressed cluster for guest offset ${gc * cs}`);
          if (active) allocated++;
          continue;
        }
        const host = ((ehi & 0x00ffffff) * 2 ** 32) + ((elo & 0xfffffe00) >>> 0);
        if (host === 0) continue;
        if (host % cs !== 0) {
          unfixable++;
          messages.push(`ERROR: data cluster for guest offset ${gc * cs} is not aligned (${host})`);
          continue;
        }
        count(host, cs, `data cluster for guest offset ${gc * cs}`);
        if (active && !(h.version >= 3 && elo & 1)) allocated++;
      }
    }
  };
  walkL1(h.l1TableOffset, h.l1Size, true);
  if (h.nbSnapshots > 0) walkSnapshots(img, count, walkL1);

  let corruptions = unfixable;
  let leaks = 0;
  const mismatched: number[] = [];
  const E = refs.entriesPerBlock;
  const limit = Math.max(fileClusters, refs.tableEntries * E);
  for (let c = 0; c < limit; c++) {
    const b = Math.floor(c / E);
    if (badBlocks.has(b) || (c >= fileClusters && refs.blockOffset(b) === 0)) { c += E - 1 - (c % E); continue; }
    const stored = refs.get(c);
    const want = c < fileClusters ? expected[c] : 0;
    if (stored === want) continue;
    mismatched.push(c);
    if (stored < want) {
      corruptions++;
      messages.push(`ERROR cluster ${c} refcount=${stored} reference=${want}`);
    } else {
      leaks++;
      messages.push(`Leaked cluster ${c} refcount=${stored} reference=${want}`);
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

type Count = (offset: number, length: number, what: string) => void;

/** Internal snapshots: the table itself, and each snapshot's L1 and everything under it. */
function walkSnapshots(img: Qcow2Image, count: Count, walkL1: (off: number, size: number, active: boolean) => void): void {
  const { header: h, fd } = img;
  let pos = h.snapshotsOffset;
  const start = pos;
  for (let i = 0; i < h.nbSnapshots; i++) {
    const fixed = new Uint8Array(40);
    preadFull(fd, fixed, pos);
    const v = viewOf(fixed);
    const l1Offset = getU64(v, 0);
    const l1Size = v.getUint32(8);
    const len = 40 + v.getUint32(36) + v.getUint16(12) + v.getUint16(14);
    walkL1(l1Offset, l1Size, false);
    pos += Math.ceil(len / 8) * 8;
  }
  count(start, pos - start, 'snapshot table');
}
