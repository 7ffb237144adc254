// Stand-ins for what virtio devices are wired to: a disk image in memory, a 9P server
// that echoes, an Ethernet peer that records.

import type { BlockBackend } from '../../../src/devices/block.js';
import type { EthernetPort } from '../../../src/devices/ethernet.js';
import type { NinePServer } from '../../../src/devices/ninep.js';

export class MemDisk implements BlockBackend {
  readonly data: Uint8Array;
  flushes = 0;
  readonly discards: [offset: number, length: number][] = [];
  readonly zeroes: [offset: number, length: number, unmap: boolean][] = [];
  /** When set, every operation throws, as a failing disk or a corrupt image would. */
  failing = false;
  /** Cleared to prove the device refuses writes to a read-only disk by itself. */
  enforceReadOnly = true;

  constructor(sectors: number, readonly readOnly = false, readonly serial = 'rvisor-test-disk') {
    this.data = new Uint8Array(sectors * 512);
    for (let i = 0; i < this.data.length; i++) this.data[i] = (i * 7 + (i >> 9)) & 0xff;
  }

  get size(): number {
    return this.data.length;
  }

  /** read() and write() calls, to show a refused request never reached the disk. */
  transfers = 0;

  private check(offset: number, length: number): void {
    this.transfers++;
    if (this.failing) throw new Error('EIO');
    if (offset < 0 || offset + length > this.data.length) throw new RangeError('beyond the disk');
  }

  read(offset: number, dest: Uint8Array): void {
    this.check(offset, dest.length);
    dest.set(this.data.subarray(offset, offset + dest.length));
  }

  write(offset: number, src: Uint8Array): void {
    this.check(offset, src.length);
    if (this.readOnly && this.enforceReadOnly) throw new Error('read-only');
    this.data.set(src, offset);
  }

  flush(): void {
    if (this.failing) throw new Error('EIO');
    this.flushes++;
  }

  discard(offset: number, length: number): void {
    this.check(offset, length);
    this.discards.push([offset, length]);
  }

  writeZeroes(offset: number, length: number, unmap: boolean): void {
    this.check(offset, length);
    this.data.fill(0, offset, offset + length);
    this.zeroes.push([offset, length, unmap]);
  }

  close(): void {}
}

export class FakePort implements EthernetPort {
  readonly frames: Uint8Array[] = [];
  /** Called for each frame after it is recorded (to answer synchronously). */
  onFrame: ((frame: Uint8Array) => void) | undefined;

  deliver(frame: Uint8Array): void {
    this.frames.push(frame);
    this.onFrame?.(frame);
  }
}

/** Answers every request with a reply that echoes it, type + 1, or a reply of a set size. */
export class EchoServer implements NinePServer {
  readonly tag = 'hostshare';
  readonly requests: Uint8Array[] = [];
  readonly rooms: number[] = [];
  replySize: number | undefined;

  handle(request: Uint8Array, maxReply: number): Uint8Array {
    this.requests.push(request);
    this.rooms.push(maxReply);
    const reply = new Uint8Array(this.replySize ?? request.length);
    reply.set(request.subarray(0, reply.length));
    new DataView(reply.buffer).setUint32(0, reply.length, true);
    reply[4] = request[4] + 1;
    return reply;
  }
}
