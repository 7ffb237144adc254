// New qcow2 images, laid out as qemu-img 7.2 lays them out: header, refcount table,
// refcount block(s), L1 table; the file ends at the end of the L1 table.

import { closeSync, openSync } from 'node:fs';
import { DiskError } from '../errors.js';
import { pwriteFull, setU64, viewOf } from '../fileio.js';
import { buildHeader } from './header.js';

export interface Qcow2CreateOptions {
  /** Virtual size in bytes (rounded up to 512 as QEMU does). */
  size: number;
  clusterBits?: number;
  backingFile?: string;
  backingFormat?: string;
}

export function createQcow2(file: string, opts: Qcow2CreateOptions): void {
  const clusterBits = opts.clusterBits ?? 16;
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) throw new DiskError(`cluster size must be a power of two from 512 to 2M`);
  if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw new DiskError(`bad virtual size ${opts.size}`);
  const cs = 2 ** clusterBits;
  const size = Math.ceil(opts.size / 512) * 512;
  const l1Size = Math.ceil(size / (cs * (cs / 8)));
  if (l1Size * 8 > 32 * 2 ** 20) throw new DiskError(`virtual size ${size} too large for ${cs}-byte clusters`);
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const perBlock = (cs * 8) / 16;
  // Enough refcount blocks to count every cluster of the metadata, themselves included.
  let tableClusters = 1;
  let blocks = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const needBlocks = Math.ceil(total / perBlock);
    const needTable = Math.ceil((needBlocks * 8) / cs);
    if (needBlocks === blocks && needTable === tableClusters) break;
    blocks = needBlocks;
    tableClusters = needTable;
  }
  const total = 1 + tableClusters + blocks + l1Clusters;
  const l1Offset = l1Size > 0 ? (1 + tableClusters + blocks) * cs : 0;
  const header = buildHeader({
    clusterBits, size, l1Size, l1TableOffset: l1Offset,
    refcountTableOffset: cs, refcountTableClusters: tableClusters,
    backingFile: opts.backingFile, backingFormat: opts.backingFormat,
  });
  const table = new Uint8Array(tableClusters * cs);
  const refblocks = new Uint8Array(blocks * cs);
  for (let b = 0; b < blocks; b++) setU64(viewOf(table), b * 8, (1 + tableClusters + b) * cs);
  for (let c = 0; c < total; c++) viewOf(refblocks).setUint16(c * 2, 1);
  const fd = openSync(file, 'w');
  try {
    pwriteFull(fd, header, 0);
    pwriteFull(fd, table, cs);
    pwriteFull(fd, refblocks, (1 + tableClusters) * cs);
    if (l1Size > 0) pwriteFull(fd, new Uint8Array(l1Size * 8), l1Offset);
  } finally {
    closeSync(fd);
  }
}
