// virtio-blk (virtio 1.x §5.2) over a BlockBackend. Each request is a 16-byte header
// (type, reserved, sector) in the readable part, data in either part, and a status byte
// that is the last writable byte. Requests complete synchronously, in order. Whatever
// the guest asks, the answer is a status byte: a backend exception is IOERR, never a
// crash, and a range past the end of the disk is IOERR.

import type { BlockBackend } from '../block.js';
import { StateReader } from '../snapshot.js';
import { type Chain, VirtioError } from './chain.js';
import { readConfigBytes, VIRTIO_ID_BLOCK, type VirtioDevice, type VirtioTransport } from './device.js';
import type { VirtQueue } from './queue.js';

export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;
export const VIRTIO_BLK_F_DISCARD = 1n << 13n;
export const VIRTIO_BLK_F_WRITE_ZEROES = 1n << 14n;

export const BLK_T_IN = 0;
export const BLK_T_OUT = 1;
export const BLK_T_FLUSH = 4;
export const BLK_T_GET_ID = 8;
export const BLK_T_DISCARD = 11;
export const BLK_T_WRITE_ZEROES = 13;

export const BLK_S_OK = 0;
export const BLK_S_IOERR = 1;
export const BLK_S_UNSUPP = 2;

const SECTOR = 512;
const HEADER = 16;
const QUEUE_SIZE = 256;
/** Data is moved through a bounce buffer of this size, so a request's size never decides
 *  how much host memory is allocated. */
const CHUNK = 64 * 1024;
/** Limits advertised for discard and write-zeroes (in sectors / segments). */
export const MAX_DISCARD_SECTORS = 0x3f_ffff;
export const MAX_DISCARD_SEG = 32;
const DISCARD_ALIGNMENT = 8; // 4 KiB: the granularity hosts can usually release
const ID_BYTES = 20;
const SEGMENT = 16; // struct virtio_blk_discard_write_zeroes
const UNMAP = 1;

/** A drive with no medium (size 0): what a boot snapshot's guest saw at boot, until the
 *  run's disk is inserted. */
export function emptyDrive(like: Pick<BlockBackend, 'readOnly' | 'serial'>): BlockBackend {
  const none = () => { throw new Error('the drive is empty'); };
  return { size: 0, readOnly: like.readOnly, serial: like.serial, read: none, write: none, flush: () => {}, discard: none, writeZeroes: none, close: () => {} };
}

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly queueCount = 1;
  readonly queueMaxSize = QUEUE_SIZE;
  readonly features: bigint;
  private readonly config = new Uint8Array(0x3c);
  private readonly bounce = new Uint8Array(CHUNK);
  private sectors = 0;
  private transport: VirtioTransport | undefined;

  constructor(private backend: BlockBackend) {
    this.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES |
      (backend.readOnly ? VIRTIO_BLK_F_RO : 0n);
    this.setCapacity();
    const dv = new DataView(this.config.buffer);
    dv.setUint32(0x0c, QUEUE_SIZE - 2, true); // seg_max: room for header and status
    dv.setUint32(0x14, SECTOR, true); // blk_size
    dv.setUint32(0x24, MAX_DISCARD_SECTORS, true);
    dv.setUint32(0x28, MAX_DISCARD_SEG, true);
    dv.setUint32(0x2c, DISCARD_ALIGNMENT, true);
    dv.setUint32(0x30, MAX_DISCARD_SECTORS, true); // max_write_zeroes_sectors
    dv.setUint32(0x34, MAX_DISCARD_SEG, true); // max_write_zeroes_seg
    this.config[0x38] = 1; // write_zeroes_may_unmap
  }

  private setCapacity(): void {
    this.sectors = Math.floor(this.backend.size / SECTOR);
    const dv = new DataView(this.config.buffer);
    dv.setUint32(0x00, this.sectors % 0x1_0000_0000, true); // capacity
    dv.setUint32(0x04, Math.floor(this.sectors / 0x1_0000_0000), true);
  }

  /** A new medium in the drive (an empty drive given its disk after a boot snapshot's
   *  restore, as QEMU's block_resize or change do): the capacity follows and the driver
   *  is told by a configuration-change interrupt. Write access cannot change: the
   *  driver negotiated VIRTIO_BLK_F_RO with the first medium. */
  insert(backend: BlockBackend): void {
    if (backend.readOnly !== this.backend.readOnly) throw new RangeError(`the drive was offered ${this.backend.readOnly ? 'read-only' : 'writable'}: it cannot take a ${backend.readOnly ? 'read-only' : 'writable'} disk`);
    this.backend = backend;
    this.setCapacity();
    this.transport?.configChanged();
  }

  /** No state beyond the transport's: requests complete within the notify. The size is
   *  saved so that a snapshot is not restored over another disk (the disk's contents are
   *  the VMM's business: qcow2 overlays). */
  save(): { sectors: number; readOnly: boolean } {
    return { sectors: this.sectors, readOnly: this.backend.readOnly };
  }

  restore(state: unknown): void {
    const r = StateReader.of(state, 'virtio-blk');
    if (r.int('sectors', 0, Number.MAX_SAFE_INTEGER) !== this.sectors) r.fail('sectors', `the disk has ${this.sectors} sectors`);
    if (r.bool('readOnly') !== this.backend.readOnly) r.fail('readOnly', 'the disk is attached with other write access');
  }

  readConfig(offset: number, size: number): number {
    return readConfigBytes(this.config, offset, size);
  }

  writeConfig(): void {
    // Nothing writable without VIRTIO_BLK_F_CONFIG_WCE.
  }

  attach(transport: VirtioTransport): void {
    // Requests complete during the notify; the transport is for a medium change.
    this.transport = transport;
  }

  reset(): void {
    // No state survives a request.
  }

  process(_index: number, queue: VirtQueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) queue.push(chain.head, this.request(chain));
  }

  /** Serves one request; returns the used length (bytes written to the guest). */
  private request(chain: Chain): number {
    // Without a writable byte there is nowhere to put a status: the chain is malformed.
    if (chain.writableLength < 1) throw new VirtioError('virtio-blk request without a status byte');
    const statusAt = chain.writableLength - 1;
    const finish = (status: number, dataWritten = 0): number => {
      chain.write(statusAt, Uint8Array.of(status));
      return dataWritten + 1;
    };
    if (chain.readableLength < HEADER) return finish(BLK_S_IOERR);
    const hdr = new Uint8Array(HEADER);
    chain.read(0, hdr);
    const dv = new DataView(hdr.buffer);
    const type = dv.getUint32(0, true);
    const sector = dv.getUint32(8, true) + dv.getUint32(12, true) * 0x1_0000_0000;
    try {
      switch (type) {
        case BLK_T_IN: {
          const n = this.transfer(chain, sector, statusAt, true);
          return n < 0 ? finish(BLK_S_IOERR) : finish(BLK_S_OK, n);
        }
        case BLK_T_OUT:
          if (this.backend.readOnly) return finish(BLK_S_IOERR);
          return finish(this.transfer(chain, sector, chain.readableLength - HEADER, false) < 0 ? BLK_S_IOERR : BLK_S_OK);
        case BLK_T_FLUSH:
          this.backend.flush();
          return finish(BLK_S_OK);
        case BLK_T_GET_ID: {
          const id = new Uint8Array(Math.min(ID_BYTES, statusAt));
          id.set(new TextEncoder().encode(this.backend.serial).subarray(0, id.length));
          chain.write(0, id);
          return finish(BLK_S_OK, id.length);
        }
        case BLK_T_DISCARD:
        case BLK_T_WRITE_ZEROES:
          return finish(this.discard(chain, type === BLK_T_WRITE_ZEROES));
        default:
          return finish(BLK_S_UNSUPP);
      }
    } catch {
      // The backend failed (I/O error, corrupt image, read-only storage): the guest sees
      // an I/O error on this request and carries on.
      return finish(BLK_S_IOERR);
    }
  }

  /** Moves `bytes` between the disk at `sector` and the chain's data area (writable
   *  stream from 0 for reads, readable stream after the header for writes). Returns the
   *  bytes moved, or -1 for a request that is not whole sectors inside the disk. */
  private transfer(chain: Chain, sector: number, bytes: number, toGuest: boolean): number {
    if (bytes % SECTOR || !this.inside(sector, bytes / SECTOR)) return -1;
    const buf = this.bounce;
    for (let done = 0; done < bytes; done += CHUNK) {
      const part = buf.subarray(0, Math.min(CHUNK, bytes - done));
      const offset = sector * SECTOR + done;
      if (toGuest) {
        this.backend.read(offset, part);
        chain.write(done, part);
      } else {
        chain.read(HEADER + done, part);
        this.backend.write(offset, part);
      }
    }
    return bytes;
  }

  /** DISCARD and WRITE_ZEROES: every segment is checked before any is acted on. */
  private discard(chain: Chain, zeroes: boolean): number {
    if (this.backend.readOnly) return BLK_S_IOERR;
    const bytes = chain.readableLength - HEADER;
    const count = bytes / SEGMENT;
    if (bytes === 0 || bytes % SEGMENT || count > MAX_DISCARD_SEG) return BLK_S_UNSUPP;
    const segs = new Uint8Array(bytes);
    chain.read(HEADER, segs);
    const dv = new DataView(segs.buffer);
    const ranges: [start: number, n: number, unmap: boolean][] = [];
    for (let i = 0; i < count; i++) {
      const at = i * SEGMENT;
      const start = dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 0x1_0000_0000;
      const n = dv.getUint32(at + 8, true);
      const flags = dv.getUint32(at + 12, true);
      // §5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP.
      if (flags & ~UNMAP || (!zeroes && flags & UNMAP)) return BLK_S_UNSUPP;
      if (n > MAX_DISCARD_SECTORS || !this.inside(start, n)) return BLK_S_IOERR;
      ranges.push([start, n, (flags & UNMAP) !== 0]);
    }
    for (const [start, n, unmap] of ranges) {
      if (zeroes) this.backend.writeZeroes(start * SECTOR, n * SECTOR, unmap);
      else this.backend.discard(start * SECTOR, n * SECTOR);
    }
    return BLK_S_OK;
  }

  private inside(sector: number, count: number): boolean {
    return sector <= this.sectors && count <= this.sectors - sector;
  }
}
