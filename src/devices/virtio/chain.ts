// One descriptor chain, already validated by the queue: device-readable segments first,
// then device-writable ones, each wholly inside guest RAM. Devices see each part as one
// byte stream (VIRTIO_F_VERSION_1 implies ANY_LAYOUT: a header may be split across
// descriptors or share one with data), so they read and write by stream offset.

import type { DmaMemory } from '../dma.js';

/** Errors a driver made (a malformed ring or chain). The transport answers with
 *  DEVICE_NEEDS_RESET; nothing about them ever reaches the bus. */
export class VirtioError extends Error {
  override readonly name = 'VirtioError';
}

export interface Segment {
  readonly addr: number;
  readonly len: number;
}

export class Chain {
  readonly readable: Segment[] = [];
  readonly writable: Segment[] = [];
  readableLength = 0;
  writableLength = 0;

  constructor(
    private readonly dma: DmaMemory,
    /** Descriptor index of the head: what goes back in the used ring. */
    readonly head: number,
  ) {}

  /** Copies readable bytes from stream offset `offset` into `dest`; returns the count
   *  (short at the end of the readable part). */
  read(offset: number, dest: Uint8Array): number {
    return this.copy(this.readable, offset, dest, false);
  }

  /** Copies `src` into the writable stream at `offset`; returns the count (short at the
   *  end of the writable part, so a device can never overrun the guest's buffer). */
  write(offset: number, src: Uint8Array): number {
    return this.copy(this.writable, offset, src, true);
  }

  /** The whole readable part as one message; the caller bounds readableLength first. */
  gather(): Uint8Array {
    const out = new Uint8Array(this.readableLength);
    this.read(0, out);
    return out;
  }

  private copy(segs: Segment[], offset: number, buf: Uint8Array, toGuest: boolean): number {
    let done = 0;
    let skip = offset;
    for (const s of segs) {
      if (done === buf.length) break;
      if (skip >= s.len) {
        skip -= s.len;
        continue;
      }
      const n = Math.min(s.len - skip, buf.length - done);
      const part = buf.subarray(done, done + n);
      const ok = toGuest ? this.dma.write(s.addr + skip, part) : this.dma.read(s.addr + skip, part);
      // Only a P2M change after validation can refuse; treat it as the end of the buffer.
      if (!ok) break;
      done += n;
      skip = 0;
    }
    return done;
  }
}
