// A split virtqueue (virtio 1.x §2.7): descriptor table, available ring (driver area) and
// used ring (device area), all in guest RAM and all written by a guest we do not trust.
// Every descriptor is checked before a device sees its chain; any violation throws
// VirtioError, which the transport turns into DEVICE_NEEDS_RESET. Nothing here reads or
// writes outside the ranges DmaMemory.valid() accepted.

import type { DmaMemory } from '../dma.js';
import { Chain, VirtioError } from './chain.js';

export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
export const AVAIL_F_NO_INTERRUPT = 1;

const DESC_SIZE = 16;
/** Entries an indirect table may have. The spec sets no limit, but Linux never builds
 *  more than a few hundred, and a bound keeps one chain's walk cheap. */
export const MAX_INDIRECT = 1024;
/** used.len is 32 bits: a chain describing more bytes than that is malformed. */
const MAX_CHAIN_BYTES = 0xffff_ffff;

export class VirtQueue {
  // Everything below is plain state (a snapshot saves and restores these fields).
  /** QueueNum: the size the driver chose (a power of 2, at most maxSize). */
  size: number;
  ready = false;
  descAddr = 0;
  availAddr = 0;
  usedAddr = 0;
  /** The next available-ring slot the device will consume (free-running 16-bit). */
  lastAvail = 0;
  /** Shadow of used.idx: the device is its only writer. */
  usedIdx = 0;
  /** used.idx when the driver was last considered for an interrupt. */
  signalledUsed = 0;
  /** Negotiated VIRTIO_F_EVENT_IDX / VIRTIO_F_INDIRECT_DESC. */
  eventIdx = false;
  indirect = false;
  /** Set by the transport on a device error: pop() finds nothing until reset. */
  halted = false;

  constructor(
    private readonly dma: DmaMemory,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = this.availAddr = this.usedAddr = 0;
    this.lastAvail = this.usedIdx = this.signalledUsed = 0;
    this.eventIdx = this.indirect = this.halted = false;
  }

  /** QueueReady = 1: checks the layout the driver programmed once, so that ring accesses
   *  later need no per-access checks. */
  enable(): void {
    const n = this.size;
    if (n < 1 || n > this.maxSize || (n & (n - 1)) !== 0) throw new VirtioError(`queue size ${n} is not a power of 2 up to ${this.maxSize}`);
    if (this.descAddr % 16 || this.availAddr % 2 || this.usedAddr % 4) throw new VirtioError('misaligned ring');
    if (!this.dma.valid(this.descAddr, DESC_SIZE * n)) throw new VirtioError('descriptor table outside RAM');
    // flags, idx, ring[n], used_event
    if (!this.dma.valid(this.availAddr, 6 + 2 * n)) throw new VirtioError('available ring outside RAM');
    // flags, idx, ring[n] of {id, len}, avail_event
    if (!this.dma.valid(this.usedAddr, 6 + 8 * n)) throw new VirtioError('used ring outside RAM');
    this.ready = true;
  }

  /** Chains the driver has made available and the device has not consumed. A driver
   *  that moves avail.idx further ahead than the ring holds is broken. */
  available(): number {
    if (!this.ready || this.halted) return 0;
    const pending = (this.dma.read16(this.availAddr + 2) - this.lastAvail) & 0xffff;
    if (pending > this.size) throw new VirtioError(`avail.idx ran ${pending} entries ahead of a ${this.size}-entry ring`);
    return pending;
  }

  /** The next available chain, validated, or null when the ring is empty. */
  pop(): Chain | null {
    if (this.available() === 0) {
      this.publishAvailEvent();
      return null;
    }
    const head = this.dma.read16(this.availAddr + 4 + 2 * (this.lastAvail % this.size));
    const chain = this.walk(head);
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    this.publishAvailEvent();
    return chain;
  }

  /** Gives back the chain pop() returned last, unused (a received frame did not fit). */
  unpop(): void {
    this.lastAvail = (this.lastAvail - 1) & 0xffff;
  }

  /** Returns a chain to the driver with `len` bytes written into its writable part. */
  push(head: number, len: number): void {
    if (!this.ready || this.halted) return;
    const slot = this.usedAddr + 4 + 8 * (this.usedIdx % this.size);
    this.dma.write32(slot, head);
    this.dma.write32(slot + 4, len);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.dma.write16(this.usedAddr + 2, this.usedIdx);
  }

  /** Whether the used entries pushed since the last call deserve an interrupt: with
   *  EVENT_IDX, only when used.idx moved past the driver's used_event (vring_need_event);
   *  otherwise unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT. */
  needsInterrupt(): boolean {
    if (!this.ready || this.halted) return false;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    if (old === now) return false;
    this.signalledUsed = now;
    if (this.eventIdx) {
      const usedEvent = this.dma.read16(this.availAddr + 4 + 2 * this.size);
      return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
    }
    return (this.dma.read16(this.availAddr) & AVAIL_F_NO_INTERRUPT) === 0;
  }

  /** With EVENT_IDX the device asks to be notified when the driver makes the next
   *  entry available after what it has consumed. */
  private publishAvailEvent(): void {
    if (this.eventIdx) this.dma.write16(this.usedAddr + 4 + 8 * this.size, this.lastAvail);
  }

  /** Follows one chain from `head` through the table, and through at most one indirect
   *  table (which may only end a chain), checking every descriptor. */
  private walk(head: number): Chain {
    const dma = this.dma;
    const chain = new Chain(dma, head);
    let table = this.descAddr;
    let entries = this.size;
    let idx = head;
    let seen = 0;
    let nested = false;
    let total = 0;
    let seenWritable = false;
    for (;;) {
      if (idx >= entries) throw new VirtioError(`descriptor index ${idx} beyond a ${entries}-entry table`);
      // A chain visiting more descriptors than its table holds must revisit one: a loop.
      if (++seen > entries) throw new VirtioError('descriptor chain loops or is longer than its table');
      const d = table + DESC_SIZE * idx;
      const addr = dma.read64(d);
      const len = dma.read32(d + 8);
      const flags = dma.read16(d + 12);
      const next = dma.read16(d + 14);
      if (flags & DESC_F_INDIRECT) {
        if (!this.indirect) throw new VirtioError('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
        if (nested) throw new VirtioError('indirect descriptor inside an indirect table');
        if (flags & DESC_F_NEXT) throw new VirtioError('indirect descriptor with NEXT');
        if (len === 0 || len % DESC_SIZE || len / DESC_SIZE > MAX_INDIRECT) throw new VirtioError(`indirect table of ${len} bytes`);
        if (!dma.valid(addr, len)) throw new VirtioError('indirect table outside RAM');
        // The WRITE flag of the descriptor naming the table is ignored (§2.7.5.3.2).
        table = addr;
        entries = len / DESC_SIZE;
        idx = 0;
        seen = 0;
        nested = true;
        continue;
      }
      const writable = (flags & DESC_F_WRITE) !== 0;
      if (writable) seenWritable = true;
      else if (seenWritable) throw new VirtioError('device-readable descriptor after a writable one');
      // A zero-length buffer is never touched, so its address does not matter.
      if (len > 0) {
        if (!dma.valid(addr, len)) throw new VirtioError(`buffer 0x${addr.toString(16)}+${len} outside RAM`);
        total += len;
        if (total > MAX_CHAIN_BYTES) throw new VirtioError('chain longer than 4 GiB');
        if (writable) {
          chain.writable.push({ addr, len });
          chain.writableLength += len;
        } else {
          chain.readable.push({ addr, len });
          chain.readableLength += len;
        }
      }
      if (!(flags & DESC_F_NEXT)) return chain;
      idx = next;
    }
  }
}
