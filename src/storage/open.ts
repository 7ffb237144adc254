// Opening and creating disk images: format probing, backing chains, the guest serial.

import { closeSync, ftruncateSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { BlockBackend } from '../devices/block.js';
import { DiskError } from './errors.js';
import { createQcow2 } from './qcow2/create.js';
import { QCOW2_MAGIC } from './qcow2/header.js';
import { Qcow2Image } from './qcow2/image.js';
import { RawBackend } from './raw.js';

export type DiskFormat = 'raw' | 'qcow2';

export interface OpenDiskOptions {
  file: string;
  /** Probed from the file's first bytes when absent (qcow2 magic, else raw). */
  format?: DiskFormat;
  readOnly?: boolean;
  /** For `check --repair`: a dirty or corrupt qcow2 image opens writable. */
  repair?: boolean;
  /** What the guest sees as the serial (VIRTIO_BLK_T_GET_ID); default diskSerial(file). */
  serial?: string;
}

/** Backing chains deeper than this are taken for a loop QEMU would refuse as well. */
const MAX_CHAIN = 64;

export function parseFormat(text: string | undefined, what: string): DiskFormat | undefined {
  if (text === undefined || text === 'raw' || text === 'qcow2') return text;
  throw new DiskError(`${what}: unsupported format '${text}' (use raw or qcow2)`);
}

/** 'qcow2' if the file starts with qcow2's magic, else 'raw'. */
export function probeFormat(file: string): DiskFormat {
  const fd = openSync(file, 'r');
  try {
    const b = new Uint8Array(4);
    const n = readSync(fd, b, 0, 4, 0);
    return n === 4 && new DataView(b.buffer).getUint32(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
  } finally {
    closeSync(fd);
  }
}

/** The serial a guest sees: the file's name, cut to 20 bytes of UTF-8 (whole characters). */
export function diskSerial(file: string): string {
  let name = basename(file);
  while (new TextEncoder().encode(name).length > 20) name = name.slice(0, -1);
  return name;
}

/** Where a backing file named in `image` lives: relative names are relative to the image. */
export function resolveBacking(image: string, backing: string): string {
  return isAbsolute(backing) ? backing : resolve(dirname(image), backing);
}

export function openDisk(opts: OpenDiskOptions): BlockBackend {
  return openChain(opts.file, opts.format, { readOnly: opts.readOnly ?? false, repair: opts.repair ?? false, serial: opts.serial ?? diskSerial(opts.file) }, []);
}

interface ChainOptions {
  readOnly: boolean;
  repair: boolean;
  serial: string;
  anySize?: boolean;
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
  const fmt = format ?? probeFormat(file);
  if (fmt === 'raw') return new RawBackend(file, { readOnly: o.readOnly, serial: o.serial, anySize: o.anySize });
  return new Qcow2Image(file, {
    readOnly: o.readOnly,
    serial: o.serial,
    repair: o.repair,
    openBacking: (image, backing, backingFormat) =>
      openChain(resolveBacking(image, backing), parseFormat(backingFormat, `${image}: backing file ${backing}`),
        { readOnly: true, repair: false, serial: '', anySize: true }, [...seen, real]),
  });
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

export function createDisk(opts: CreateDiskOptions): void {
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
