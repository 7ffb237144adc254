// A local disk migrated along with its VM (QMP migrate's `blk`, for hosts without shared
// storage): the disk's blocks go round by round beside the RAM, the first round all of
// them, each later one those the guest wrote since, and the last with the guest paused.
// The disk's dirty log is LoggedDisk, a BlockBackend around the real one that marks the
// blocks each write, discard or zeroing touches; the Vm puts one around every writable
// local disk, so the log is there whenever a migration wants it.
//
// DISK payload: u32 disk index | u32 blockSize | u32 count | count entries of u32 block |
// u8 kind (0 zeroes, 1 data) | the block's bytes for data (blockSize, or less for the
// disk's last block).

import type { BlockBackend } from '../../devices/block.js';
import { MigrationError } from './stream.js';

/** Bytes per block of the disk's dirty log and of a DISK entry. */
export const MIRROR_BLOCK = 64 << 10;
/** Blocks per DISK frame: 4 MiB of data at most. */
const BLOCKS_PER_FRAME = 64;

export class LoggedDisk implements BlockBackend {
  /** 1 for each block written since the log was last taken. */
  readonly dirty: Uint8Array;

  constructor(readonly inner: BlockBackend) {
    this.dirty = new Uint8Array(Math.ceil(inner.size / MIRROR_BLOCK));
  }

  get size(): number { return this.inner.size; }
  get readOnly(): boolean { return this.inner.readOnly; }
  get serial(): string { return this.inner.serial; }

  private mark(offset: number, length: number): void {
    if (length <= 0) return;
    const last = Math.min(this.dirty.length - 1, Math.floor((offset + length - 1) / MIRROR_BLOCK));
    for (let b = Math.floor(offset / MIRROR_BLOCK); b <= last; b++) this.dirty[b] = 1;
  }

  read(offset: number, dest: Uint8Array): void { this.inner.read(offset, dest); }
  // Marked after the write succeeded: a refused one changed nothing to send.
  write(offset: number, src: Uint8Array): void { this.inner.write(offset, src); this.mark(offset, src.length); }
  discard(offset: number, length: number): void { this.inner.discard(offset, length); this.mark(offset, length); }
  writeZeroes(offset: number, length: number, unmap: boolean): void { this.inner.writeZeroes(offset, length, unmap); this.mark(offset, length); }
  flush(): void { this.inner.flush(); }
  invalidate(): void { this.inner.invalidate?.(); }
  close(): void { this.inner.close(); }

  /** The dirty blocks, and a clean log. */
  takeDirty(): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.dirty.length; b++) if (this.dirty[b]) { out.push(b); this.dirty[b] = 0; }
    return out;
  }

  dirtyCount(): number {
    let n = 0;
    for (let b = 0; b < this.dirty.length; b++) n += this.dirty[b];
    return n;
  }
}

const isZero = (b: Uint8Array) => {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
};

/** The source's side: DISK frame payloads for blocks of disk `index`. */
export function* diskFrames(index: number, disk: BlockBackend, blocks: readonly number[]): Generator<Uint8Array> {
  for (let at = 0; at < blocks.length; at += BLOCKS_PER_FRAME) {
    const batch = blocks.slice(at, at + BLOCKS_PER_FRAME).map((block) => {
      const offset = block * MIRROR_BLOCK;
      const bytes = new Uint8Array(Math.min(MIRROR_BLOCK, disk.size - offset));
      disk.read(offset, bytes);
      return { block, bytes: isZero(bytes) ? undefined : bytes };
    });
    const out = new Uint8Array(12 + batch.reduce((n, e) => n + 5 + (e.bytes?.length ?? 0), 0));
    const v = new DataView(out.buffer);
    v.setUint32(0, index, true);
    v.setUint32(4, MIRROR_BLOCK, true);
    v.setUint32(8, batch.length, true);
    let p = 12;
    for (const e of batch) {
      v.setUint32(p, e.block, true);
      v.setUint8(p + 4, e.bytes ? 1 : 0);
      p += 5;
      if (e.bytes) {
        out.set(e.bytes, p);
        p += e.bytes.length;
      }
    }
    yield out;
  }
}

/** The destination's side: applies a DISK frame to its disks (by the source's index);
 *  checks all of it before writing any. */
export function applyDiskFrame(payload: Uint8Array, disks: ReadonlyMap<number, BlockBackend>): void {
  const bad = (why: string): never => {
    throw new MigrationError(`a DISK frame is malformed: ${why}`);
  };
  if (payload.length < 12) bad('shorter than its header');
  const v = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const index = v.getUint32(0, true);
  const disk = disks.get(index) ?? bad(`disk ${index} is not mirrored here`);
  if (v.getUint32(4, true) !== MIRROR_BLOCK) bad(`block size ${v.getUint32(4, true)}, not ${MIRROR_BLOCK}`);
  const count = v.getUint32(8, true);
  if (count > BLOCKS_PER_FRAME) bad(`${count} blocks in one frame`);
  const entries: { offset: number; length: number; data?: Uint8Array }[] = [];
  let p = 12;
  for (let i = 0; i < count; i++) {
    if (p + 5 > payload.length) bad('entries run past the frame');
    const block = v.getUint32(p, true), kind = v.getUint8(p + 4);
    p += 5;
    const offset = block * MIRROR_BLOCK;
    if (offset >= disk.size) bad(`block ${block} is beyond the disk`);
    const length = Math.min(MIRROR_BLOCK, disk.size - offset);
    if (kind === 1) {
      if (p + length > payload.length) bad('block data runs past the frame');
      entries.push({ offset, length, data: payload.subarray(p, p + length) });
      p += length;
    } else if (kind === 0) entries.push({ offset, length });
    else bad(`block ${block} has unknown kind ${kind}`);
  }
  if (p !== payload.length) bad(`${payload.length - p} bytes after the last block`);
  for (const e of entries) {
    if (e.data) disk.write(e.offset, e.data);
    else disk.writeZeroes(e.offset, e.length, true);
  }
}
