// What `rvisor disk` does besides create: info, convert, check.

import { closeSync, existsSync, fstatSync, openSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import type { BlockBackend } from '../devices/block.js';
import { DiskError, withFileErrors } from './errors.js';
import { type CheckResult, checkQcow2 } from './qcow2/check.js';
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/image.js';
import { UNALLOCATED, ZERO } from './qcow2/tables.js';
import { createDisk, type DiskFormat, openDisk, parseFormat, probeFormat, resolveBacking } from './open.js';

export type { CheckResult };

export interface DiskInfo {
  file: string;
  format: DiskFormat;
  virtualSize: number;
  /** Bytes the file occupies on the host filesystem. */
  diskSize: number;
  clusterSize?: number;
  /** qcow2 version: 2 (compat 0.10) or 3 (compat 1.1). */
  version?: number;
  refcountBits?: number;
  dirty: boolean;
  corrupt: boolean;
  /** The backing file name as stored in the image, and its format if recorded. */
  backingFile?: string;
  backingFormat?: string;
  /** The whole chain below this image, nearest first, with resolved paths. */
  backingChain: { file: string; format: DiskFormat }[];
}

function allocatedBytes(file: string): number {
  const fd = openSync(file, 'r');
  try {
    return fstatSync(fd).blocks * 512;
  } finally {
    closeSync(fd);
  }
}

/** One image's metadata, plus the names and formats down its backing chain. */
export function diskInfo(file: string): DiskInfo {
  return withFileErrors(file, () => info(file));
}

function info(file: string): DiskInfo {
  const format = probeFormat(file);
  const info: DiskInfo = { file, format, virtualSize: 0, diskSize: allocatedBytes(file), dirty: false, corrupt: false, backingChain: [] };
  if (format === 'raw') {
    info.virtualSize = statSync(file).size;
    return info;
  }
  const seen = [realpathSync(file)];
  let img = new Qcow2Image(file, { readOnly: true, skipBacking: true });
  const h = img.header;
  Object.assign(info, {
    virtualSize: h.size, clusterSize: img.cs, version: h.version, refcountBits: 2 ** h.refcountOrder,
    dirty: (h.incompatible & INCOMPAT_DIRTY) !== 0, corrupt: (h.incompatible & INCOMPAT_CORRUPT) !== 0,
    backingFile: h.backingFile, backingFormat: h.backingFormat,
  });
  for (;;) {
    const { backingFile, backingFormat } = img.header;
    const current = img.file;
    img.close();
    if (backingFile === undefined) return info;
    const path = resolveBacking(current, backingFile);
    const fmt = parseFormat(backingFormat, `${current}: backing file`) ?? probeFormat(path);
    const real = realpathSync(path);
    if (seen.includes(real)) throw new DiskError(`${path}: backing chain loops back to ${real}`);
    seen.push(real);
    info.backingChain.push({ file: path, format: fmt });
    if (fmt === 'raw') return info;
    img = new Qcow2Image(path, { readOnly: true, skipBacking: true });
  }
}

/** True when [offset, offset+length) of a qcow2 image reads zero without reading data. */
function knownZero(disk: BlockBackend, offset: number, length: number): boolean {
  if (!(disk instanceof Qcow2Image)) return false;
  const m = { kind: 0, host: 0, copied: false, hi: 0, lo: 0 };
  for (let gc = Math.floor(offset / disk.cs); gc * disk.cs < offset + length; gc++) {
    const kind = disk.tables.lookup(gc, m).kind;
    if (kind !== ZERO && !(kind === UNALLOCATED && disk.backing === null)) return false;
  }
  return true;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

export interface ConvertOptions {
  srcFormat?: DiskFormat;
  /** qcow2 output cluster size. */
  clusterSize?: number;
}

/**
 * Copies the guest-visible contents of `src` (its whole backing chain flattened) into a
 * new image `dst`. Runs of zeroes are not written, so the result is sparse.
 */
export function convertDisk(src: string, dst: string, dstFormat: DiskFormat, opts: ConvertOptions = {}): void {
  if (existsSync(dst) && realpathSync(dst) === realpathSync(src)) throw new DiskError(`${dst}: is the source image`);
  const from = openDisk({ file: src, format: opts.srcFormat, readOnly: true });
  let created = false;
  try {
    createDisk({ file: dst, format: dstFormat, size: from.size, clusterSize: opts.clusterSize });
    created = true;
    copy(from, dst, dstFormat, opts);
  } catch (e) {
    // A half-written copy is no copy: take away what this command made.
    if (created) unlinkSync(dst);
    throw e;
  } finally {
    from.close();
  }
}

function copy(from: BlockBackend, dst: string, dstFormat: DiskFormat, opts: ConvertOptions): void {
  const to = openDisk({ file: dst, format: dstFormat });
  try {
    const grain = 64 * 1024;
    const chunk = Math.max(1 << 20, opts.clusterSize ?? 0);
    const buf = new Uint8Array(chunk);
    for (let off = 0; off < from.size; off += chunk) {
      const n = Math.min(chunk, from.size - off);
      if (knownZero(from, off, n)) continue;
      const data = buf.subarray(0, n);
      from.read(off, data);
      // Write each run of non-zero grains in one request.
      for (let i = 0; i < n;) {
        const g = Math.min(grain, n - i);
        if (isZero(data.subarray(i, i + g))) { i += g; continue; }
        let j = i + g;
        while (j < n && !isZero(data.subarray(j, Math.min(j + grain, n)))) j = Math.min(j + grain, n);
        to.write(off + i, data.subarray(i, j));
        i = j;
      }
    }
    to.flush();
  } finally {
    to.close();
  }
}

/** Checks a qcow2 image's refcounts; with `repair`, fixes leaks and refcounts too low. */
export function checkDisk(file: string, opts: { repair?: boolean } = {}): CheckResult {
  return withFileErrors(file, () => check(file, opts));
}

function check(file: string, opts: { repair?: boolean }): CheckResult {
  if (probeFormat(file) !== 'qcow2') throw new DiskError(`${file}: raw images have no metadata to check`);
  const img = new Qcow2Image(file, { readOnly: !opts.repair, repair: opts.repair, skipBacking: true });
  try {
    return checkQcow2(img, opts.repair ?? false);
  } finally {
    img.close();
  }
}
