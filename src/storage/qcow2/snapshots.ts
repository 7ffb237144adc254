// The internal snapshot table (read only: rvisor opens images with internal snapshots
// read-only, but `check` counts every snapshot's clusters). Every count and offset in it
// comes from the file, so each is bounded by what the format and the file allow before
// anything loops over it: QEMU's limits (65536 snapshots, a 64 MiB table, 1 KiB of
// extra data per entry) and "inside the file".

import { DiskError } from '../errors.js';
import { getU64, preadFull, viewOf } from '../fileio.js';
import type { Qcow2Header } from './header.js';

export const MAX_SNAPSHOTS = 65536;
const MAX_TABLE_BYTES = 64 * 2 ** 20;
const MAX_EXTRA = 1024;
const MAX_L1_ENTRIES = (32 * 2 ** 20) / 8;

export interface SnapshotEntry {
  l1Offset: number;
  l1Size: number;
  id: string;
  name: string;
}

export interface SnapshotTable {
  entries: SnapshotEntry[];
  /** Bytes from snapshots_offset to the end of the last entry. */
  length: number;
}

export function readSnapshotTable(fd: number, file: string, h: Qcow2Header, fileLength: number): SnapshotTable {
  const bad = (what: string) => new DiskError(`${file}: corrupt image: snapshot table: ${what}`);
  const cs = 2 ** h.clusterBits;
  const entries: SnapshotEntry[] = [];
  let pos = h.snapshotsOffset;
  let l1Bytes = 0;
  for (let i = 0; i < h.nbSnapshots; i++) {
    if (pos + 40 > fileLength) throw bad(`entry ${i} beyond the end of the file`);
    const fixed = new Uint8Array(40);
    preadFull(fd, fixed, pos);
    const v = viewOf(fixed);
    let l1Offset: number;
    try {
      l1Offset = getU64(v, 0);
    } catch {
      throw bad(`entry ${i}: L1 table offset beyond 2^53`);
    }
    const l1Size = v.getUint32(8);
    const idLen = v.getUint16(12);
    const nameLen = v.getUint16(14);
    const extra = v.getUint32(36);
    if (extra > MAX_EXTRA) throw bad(`entry ${i}: ${extra} bytes of extra data (at most ${MAX_EXTRA})`);
    if (l1Size > MAX_L1_ENTRIES) throw bad(`entry ${i}: L1 size ${l1Size} too large`);
    if (l1Size > 0 && (l1Offset % cs !== 0 || l1Offset < cs || l1Offset + l1Size * 8 > fileLength)) throw bad(`entry ${i}: L1 table at ${l1Offset} outside the image`);
    // Each snapshot's L1 table is its own copy in the file: together they cannot be larger
    // than the file, which also bounds what `check` walks.
    l1Bytes += l1Size * 8;
    if (l1Bytes > fileLength) throw bad('snapshot L1 tables larger than the file');
    const len = 40 + extra + idLen + nameLen;
    if (pos + len > fileLength) throw bad(`entry ${i} beyond the end of the file`);
    const names = new Uint8Array(idLen + nameLen);
    preadFull(fd, names, pos + 40 + extra);
    const text = new TextDecoder();
    entries.push({ l1Offset, l1Size, id: text.decode(names.subarray(0, idLen)), name: text.decode(names.subarray(idLen)) });
    pos += Math.ceil(len / 8) * 8;
    if (pos - h.snapshotsOffset > MAX_TABLE_BYTES) throw bad(`larger than ${MAX_TABLE_BYTES} bytes`);
  }
  return { entries, length: pos - h.snapshotsOffset };
}
