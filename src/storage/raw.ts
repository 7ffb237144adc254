// Raw images: the file is the disk, byte for byte.

import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import type { BlockBackend } from '../devices/block.js';
import { DiskError, withFileErrors } from './errors.js';
import { fileSize, preadFull, pwriteFull } from './fileio.js';

export interface RawOptions {
  readOnly?: boolean;
  serial?: string;
  /**
   * A backing file of a qcow2 image may have any length (reads past its end are zero); a
   * disk given to a guest must be whole sectors.
   */
  anySize?: boolean;
}

const ZERO_CHUNK = 1 << 20;

export class RawBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  readonly serial: string;
  private fd: number;

  constructor(readonly file: string, opts: RawOptions = {}) {
    this.readOnly = opts.readOnly ?? false;
    this.serial = opts.serial ?? '';
    this.fd = openSync(file, this.readOnly ? 'r' : 'r+');
    this.size = fileSize(this.fd);
    if (!opts.anySize && this.size % 512 !== 0) {
      closeSync(this.fd);
      throw new DiskError(`${file}: raw image size ${this.size} is not a multiple of 512 bytes`);
    }
  }

  private check(offset: number, length: number): void {
    if (this.fd < 0) throw new DiskError(`${this.file}: image is closed`);
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new DiskError(`${this.file}: access at ${offset}+${length} beyond the disk (${this.size} bytes)`);
    }
  }

  private checkWritable(): void {
    if (this.readOnly) throw new DiskError(`${this.file}: image is read-only`);
  }

  read(offset: number, dest: Uint8Array): void {
    this.check(offset, dest.length);
    withFileErrors(this.file, () => preadFull(this.fd, dest, offset));
  }

  write(offset: number, src: Uint8Array): void {
    this.checkWritable();
    this.check(offset, src.length);
    withFileErrors(this.file, () => pwriteFull(this.fd, src, offset));
  }

  flush(): void {
    if (!this.readOnly && this.fd >= 0) withFileErrors(this.file, () => fdatasyncSync(this.fd));
  }

  /**
   * A no-op: Node has no fallocate(PUNCH_HOLE), and discarded contents are unspecified,
   * so keeping the old bytes is correct (only the space is not given back).
   */
  discard(offset: number, length: number): void {
    this.checkWritable();
    this.check(offset, length);
  }

  /** Writes real zeroes (`unmap` cannot be honoured without hole punching). */
  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    this.checkWritable();
    this.check(offset, length);
    const zero = new Uint8Array(Math.min(length, ZERO_CHUNK));
    withFileErrors(this.file, () => {
      for (let done = 0; done < length; done += zero.length) {
        pwriteFull(this.fd, zero.subarray(0, Math.min(zero.length, length - done)), offset + done);
      }
    });
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
