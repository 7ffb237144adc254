// Opening and creating disk images: format probing, backing chains, the guest serial.

import { closeSync, existsSync, ftruncateSync, openSync, readSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { BlockBackend } from '../devices/block.js';
import { DiskError, withFileErrors } from './errors.js';
import { createQcow2 } from './qcow2/create.js';
import { QCOW2_MAGIC } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/image.js';
import { RawBackend } from './raw.js';

export type DiskFormat = 'raw' | 'qcow2';

export interface OpenDiskOptions {
  file: string;
  /**
   * Probed from the file's first bytes when absent (qcow2 magic, else raw). A probed raw
   * image refuses guest writes that would make it probe as qcow2 (see ProbedRawBackend).
   */
  format?: DiskFormat;
  readOnly?: boolean;
  /** For `check --repair`: a dirty or corrupt qcow2 image opens writable. */
  repair?: boolean;
  /** What the guest sees as the serial (VIRTIO_BLK_T_GET_ID); default diskSerial(file). */
  serial?: string;
  /** Told about what the user should know: a probed format, an image found corrupt. */
  warn?: (message: string) => void;
}

/** Backing chains deeper than this are taken for a loop QEMU would refuse as well. */
const MAX_CHAIN = 64;

export function parseFormat(text: string | undefined, what: string): DiskFormat | undefined {
  if (text === undefined || text === 'raw' || text === 'qcow2') return text;
  throw new DiskError(`${what}: unsupported format '${text}' (use raw or qcow2)`);
}

/** How many leading bytes of an image decide its probed format. */
export const PROBE_BYTES = 4;

/** The format an image's first bytes say it is: 'qcow2' for qcow2's magic, else 'raw'. */
export function formatOfBytes(first: Uint8Array): DiskFormat {
  return first.length >= PROBE_BYTES && new DataView(first.buffer, first.byteOffset).getUint32(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
}

export function probeFormat(file: string): DiskFormat {
  const fd = openSync(file, 'r');
  try {
    const b = new Uint8Array(PROBE_BYTES);
    return formatOfBytes(b.subarray(0, readSync(fd, b, 0, PROBE_BYTES, 0)));
  } finally {
    closeSync(fd);
  }
}

/** `name` cut to at most 20 bytes of UTF-8 (whole characters): VIRTIO_BLK_T_GET_ID's limit. */
export function serialOf(name: string): string {
  while (new TextEncoder().encode(name).length > 20) name = name.slice(0, -1);
  return name;
}

/** The serial a guest sees: the file's name, cut to 20 bytes. */
export function diskSerial(file: string): string {
  return serialOf(basename(file));
}

/** Where a backing file named in `image` lives: relative names are relative to the image. */
export function resolveBacking(image: string, backing: string): string {
  return isAbsolute(backing) ? backing : resolve(dirname(image), backing);
}

export function openDisk(opts: OpenDiskOptions): BlockBackend {
  const o = { readOnly: opts.readOnly ?? false, repair: opts.repair ?? false, serial: opts.serial ?? diskSerial(opts.file), warn: opts.warn };
  return withFileErrors(opts.file, () => openChain(opts.file, opts.format, o, []));
}

interface ChainOptions {
  readOnly: boolean;
  repair: boolean;
  serial: string;
  anySize?: boolean;
  warn?: (message: string) => void;
}

/**
 * Only regular files and block devices are images: a FIFO or a terminal would block the
 * VMM on open or read, and a directory has no bytes (a backing name in a crafted image
 * may name any of them).
 */
function checkKind(file: string, what: string): void {
  const st = statSync(file);
  if (st.isDirectory()) throw new DiskError(`${what} is a directory`);
  if (!st.isFile() && !st.isBlockDevice()) throw new DiskError(`${what} is not a regular file or a block device`);
}

function openChain(file: string, format: DiskFormat | undefined, o: ChainOptions, seen: string[]): BlockBackend {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new DiskError(seen.length ? `${seen[seen.length - 1]}: backing file ${file} not found` : `${file}: no such file`);
  }
  if (seen.includes(real)) throw new DiskError(`${file}: backing chain loops back to ${real}`);
  if (seen.length > MAX_CHAIN) throw new DiskError(`${file}: backing chain deeper than ${MAX_CHAIN}`);
  checkKind(real, seen.length ? `${seen[seen.length - 1]}: backing file ${file}` : file);
  const fmt = format ?? probeFormat(file);
  if (fmt === 'raw') {
    const raw = { readOnly: o.readOnly, serial: o.serial, anySize: o.anySize };
    if (format !== undefined) return new RawBackend(file, raw);
    if (o.readOnly) {
      o.warn?.(`${file}: the format was not given and probing guessed raw (give format=raw to say so)`);
      return new RawBackend(file, raw);
    }
    o.warn?.(`${file}: the format was not given and probing guessed raw; writes that would make the image look like another format are refused (give format=raw to lift this)`);
    return new ProbedRawBackend(file, raw);
  }
  return new Qcow2Image(file, {
    readOnly: o.readOnly,
    serial: o.serial,
    repair: o.repair,
    warn: o.warn,
    openBacking: (image, backing, backingFormat) =>
      openChain(resolveBacking(image, backing), parseFormat(backingFormat, `${image}: backing file ${backing}`),
        { readOnly: true, repair: false, serial: '', anySize: true }, [...seen, real]),
  });
}

/**
 * A raw image whose format was guessed. Were the guest to write qcow2's magic into its
 * first sector, the next run with the same command line would open the disk as qcow2,
 * with a header the guest wrote, naming any host file as its backing file
 * (CVE-2008-2004 in QEMU). As in QEMU, writes that would change what the first bytes
 * probe as are refused; the guest sees an I/O error.
 */
export class ProbedRawBackend extends RawBackend {
  override write(offset: number, src: Uint8Array): void {
    if (offset < PROBE_BYTES && src.length > 0) {
      const first = new Uint8Array(PROBE_BYTES);
      this.read(0, first);
      const n = Math.min(PROBE_BYTES - offset, src.length);
      first.set(src.subarray(0, n), offset);
      if (formatOfBytes(first) !== 'raw') {
        throw new DiskError(`${this.file}: refused a write to sector 0 that would make this probed raw image look like ${formatOfBytes(first)} (give format=raw to allow it)`);
      }
    }
    super.write(offset, src);
  }
}

export interface CreateDiskOptions {
  file: string;
  format: DiskFormat;
  /** Bytes; defaults to the backing file's size. */
  size?: number;
  /** Stored as given; a relative name is relative to the new image's directory. */
  backing?: string;
  backingFormat?: DiskFormat;
  /** qcow2 cluster size in bytes (default 64 KiB). */
  clusterSize?: number;
}

/** Creates the image; on any failure a file it created is removed again, and the error is a DiskError. */
export function createDisk(opts: CreateDiskOptions): void {
  const existed = existsSync(opts.file);
  try {
    withFileErrors(opts.file, () => create(opts));
  } catch (e) {
    if (!existed) {
      try { unlinkSync(opts.file); } catch { /* never created */ }
    }
    throw e;
  }
}

function create(opts: CreateDiskOptions): void {
  if (opts.format === 'raw') {
    if (opts.backing !== undefined) throw new DiskError(`${opts.file}: raw images cannot have a backing file`);
    if (opts.size === undefined) throw new DiskError(`${opts.file}: a size is needed`);
    if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw new DiskError(`${opts.file}: bad size ${opts.size}`);
    const fd = openSync(opts.file, 'w');
    try {
      // A sparse file, rounded up to whole sectors as qemu-img does.
      ftruncateSync(fd, Math.ceil(opts.size / 512) * 512);
    } finally {
      closeSync(fd);
    }
    return;
  }
  let size = opts.size;
  let backingFormat = opts.backingFormat;
  if (opts.backing !== undefined) {
    const path = resolveBacking(opts.file, opts.backing);
    const b = openChain(path, backingFormat, { readOnly: true, repair: false, serial: '', anySize: true }, []);
    size ??= b instanceof Qcow2Image ? b.header.size : b.size;
    backingFormat ??= probeFormat(path);
    b.close();
  }
  if (size === undefined) throw new DiskError(`${opts.file}: a size is needed`);
  const bits = opts.clusterSize === undefined ? 16 : Math.log2(opts.clusterSize);
  createQcow2(opts.file, { size, clusterBits: bits, backingFile: opts.backing, backingFormat });
}
