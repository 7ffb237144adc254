// The fuzzing guest's virtio driver: it brings a device up through its registers (as
// Linux's virtio_mmio does, or with the steps out of order), lays its rings out at random
// aligned places in guest RAM, writes chains for requests (buffers split across
// descriptors, in the ring or in an indirect table) and publishes them. Everything it
// writes goes straight into guest RAM, as a driver's stores do; the device sees it only
// through its registers and DMA.

import type { GuestMemory } from '../../../src/cpu/memory.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC } from '../../../src/devices/virtio/device.js';
import type { VirtioMmio } from '../../../src/devices/virtio/mmio.js';
import type { Rng } from '../harness.js';
import { F_INDIRECT, F_NEXT, F_WRITE, type Layout } from './rings.js';

export const RAM_BASE = 0x8000_0000;
export const RAM_SIZE = 256 * 1024;
/** Rings go in the first 64 KiB, buffers and indirect tables after. */
const RING_AREA = 0x1_0000;

export const REG = {
  DEVICE_FEATURES: 0x010, DEVICE_FEATURES_SEL: 0x014, DRIVER_FEATURES: 0x020, DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030, QUEUE_NUM_MAX: 0x034, QUEUE_NUM: 0x038, QUEUE_READY: 0x044, NOTIFY: 0x050,
  INT_STATUS: 0x060, INT_ACK: 0x064, STATUS: 0x070, DESC_LO: 0x080, DESC_HI: 0x084, AVAIL_LO: 0x090,
  AVAIL_HI: 0x094, USED_LO: 0x0a0, USED_HI: 0x0a4, CONFIG_GENERATION: 0x0fc,
} as const;
export const S = { ACK: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, NEEDS_RESET: 0x40, FAILED: 0x80 } as const;

/** A request as the driver means it: readable contents, then writable sizes. */
export interface ChainSpec {
  out: Uint8Array[];
  in: number[];
}

export interface GuestQueue {
  layout: Layout;
  availIdx: number;
  /** Descriptor indices not in a chain the device still holds. */
  free: number[];
  /** Descriptors of each posted chain, by head, given back when it is used. */
  held: Map<number, number[]>;
  usedSeen: number;
}

export class FuzzGuest {
  readonly queues: (GuestQueue | undefined)[] = [];
  indirect = false;
  eventIdx = false;
  private heap = RAM_BASE + RING_AREA;

  /** `step` runs each register write, so the caller can check each one on its own. */
  constructor(
    readonly mmio: VirtioMmio,
    readonly mem: GuestMemory,
    readonly rng: Rng,
    private readonly step: (what: string, access: () => void) => void = (_, access) => access(),
  ) {}

  w(off: number, v: number, size = 4): void {
    this.step(`write 0x${off.toString(16)} = 0x${(v >>> 0).toString(16)}`, () => this.mmio.write(off, size, v));
  }

  r(off: number, size = 4): number {
    return this.mmio.read(off, size);
  }

  get status(): number {
    return this.r(REG.STATUS);
  }

  /** Copies bytes into guest RAM at a fresh 16-byte aligned place; null when full. */
  alloc(data: Uint8Array | number): number | null {
    const len = typeof data === 'number' ? data : data.length;
    const at = this.heap;
    if (at + len > RAM_BASE + RAM_SIZE) return null;
    this.heap += (len + 15) & ~15;
    if (typeof data !== 'number') this.mem.write(at, data);
    return at;
  }

  /** Linux's probe order. `sizes` picks each queue's size from its maximum. */
  init(sizes: (max: number) => number, drop: bigint = 0n): boolean {
    this.queues.length = 0;
    this.heap = RAM_BASE + RING_AREA; // a new driver instance: the old buffers are dead
    this.w(REG.STATUS, 0);
    this.w(REG.STATUS, S.ACK);
    this.w(REG.STATUS, S.ACK | S.DRIVER);
    const features = this.deviceFeatures() & ~drop;
    this.writeFeatures(features);
    this.w(REG.STATUS, S.ACK | S.DRIVER | S.FEATURES_OK);
    if (!(this.status & S.FEATURES_OK)) return false;
    this.indirect = (features & VIRTIO_F_INDIRECT_DESC) !== 0n;
    this.eventIdx = (features & VIRTIO_F_EVENT_IDX) !== 0n;
    let at = RAM_BASE;
    for (let i = 0; i < this.mmio.queues.length; i++) {
      this.w(REG.QUEUE_SEL, i);
      const size = sizes(this.r(REG.QUEUE_NUM_MAX));
      // Rings at random aligned offsets, one queue after the other.
      const desc = align(at + 16 * this.rng.int(16), 16);
      const avail = align(desc + 16 * size + 2 * this.rng.int(8), 2);
      const used = align(avail + 6 + 2 * size + 4 * this.rng.int(8), 4);
      at = used + 6 + 8 * size;
      if (at > RAM_BASE + RING_AREA) return false;
      this.program(i, { desc, avail, used, size });
    }
    this.w(REG.STATUS, S.ACK | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
    return this.status === (S.ACK | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK);
  }

  /** Programs queue `i` (selected) with `l`, zeroing its rings, and makes it ready. */
  program(i: number, l: Layout): void {
    this.w(REG.QUEUE_SEL, i);
    if (this.mem.base <= l.desc && l.used + 6 + 8 * l.size <= this.mem.base + RING_AREA) this.mem.write(l.desc, new Uint8Array(l.used + 6 + 8 * l.size - l.desc));
    this.w(REG.QUEUE_NUM, l.size);
    this.w(REG.DESC_LO, l.desc % 2 ** 32);
    this.w(REG.DESC_HI, Math.floor(l.desc / 2 ** 32));
    this.w(REG.AVAIL_LO, l.avail % 2 ** 32);
    this.w(REG.AVAIL_HI, Math.floor(l.avail / 2 ** 32));
    this.w(REG.USED_LO, l.used % 2 ** 32);
    this.w(REG.USED_HI, Math.floor(l.used / 2 ** 32));
    this.w(REG.QUEUE_READY, 1);
    this.queues[i] = { layout: l, availIdx: 0, free: Array.from({ length: l.size }, (_, k) => k), held: new Map(), usedSeen: 0 };
  }

  deviceFeatures(): bigint {
    this.w(REG.DEVICE_FEATURES_SEL, 0);
    const lo = this.r(REG.DEVICE_FEATURES);
    this.w(REG.DEVICE_FEATURES_SEL, 1);
    return BigInt(lo) | (BigInt(this.r(REG.DEVICE_FEATURES)) << 32n);
  }

  writeFeatures(f: bigint): void {
    this.w(REG.DRIVER_FEATURES_SEL, 0);
    this.w(REG.DRIVER_FEATURES, Number(f & 0xffff_ffffn));
    this.w(REG.DRIVER_FEATURES_SEL, 1);
    this.w(REG.DRIVER_FEATURES, Number((f >> 32n) & 0xffff_ffffn));
  }

  writeDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const dv = this.mem.dv;
    const off = table + 16 * i - this.mem.base;
    dv.setUint32(off, addr % 2 ** 32, true);
    dv.setUint32(off + 4, Math.floor(addr / 2 ** 32) >>> 0, true);
    dv.setUint32(off + 8, len >>> 0, true);
    dv.setUint16(off + 12, flags, true);
    dv.setUint16(off + 14, next, true);
  }

  /**
   * Writes a chain for `spec` into queue `qi` (through an indirect table when `indirect`
   * and negotiated) without publishing it. Returns its head and where its descriptors
   * are, for mutations; null when the ring or RAM has no room.
   */
  build(qi: number, spec: ChainSpec, indirect: boolean): { head: number; table: number; descs: number[] } | null {
    const q = this.queues[qi];
    if (!q) return null;
    const segs: [addr: number, len: number, flags: number][] = [];
    for (const b of spec.out) {
      const a = this.alloc(b);
      if (a === null) return null;
      segs.push([a, b.length, 0]);
    }
    for (const n of spec.in) {
      const a = this.alloc(n);
      if (a === null) return null;
      segs.push([a, n, F_WRITE]);
    }
    const useTable = indirect && this.indirect && segs.length > 0;
    const needed = useTable ? 1 : Math.max(1, segs.length);
    if (q.free.length < needed) return null;
    const ids = q.free.splice(0, needed);
    if (useTable) {
      const table = this.alloc(16 * segs.length);
      if (table === null) return null;
      segs.forEach(([a, n, f], i) => this.writeDesc(table, i, a, n, f | (i + 1 < segs.length ? F_NEXT : 0), i + 1));
      this.writeDesc(q.layout.desc, ids[0], table, 16 * segs.length, F_INDIRECT, 0);
      q.held.set(ids[0], ids);
      return { head: ids[0], table, descs: segs.map((_, i) => i) };
    }
    if (segs.length === 0) segs.push([0, 0, 0]); // an empty chain: one zero-length descriptor
    segs.forEach(([a, n, f], i) => this.writeDesc(q.layout.desc, ids[i], a, n, f | (i + 1 < segs.length ? F_NEXT : 0), ids[i + 1] ?? 0));
    q.held.set(ids[0], ids);
    return { head: ids[0], table: q.layout.desc, descs: ids };
  }

  /** Puts `head` in the next available slot and moves avail.idx past it. */
  publish(qi: number, head: number): void {
    const q = this.queues[qi];
    if (!q) return;
    const l = q.layout;
    this.mem.dv.setUint16(l.avail + 4 + 2 * (q.availIdx % l.size) - this.mem.base, head, true);
    q.availIdx = (q.availIdx + 1) & 0xffff;
    this.setAvailIdx(qi, q.availIdx);
  }

  setAvailIdx(qi: number, v: number): void {
    const q = this.queues[qi];
    if (q) this.mem.dv.setUint16(q.layout.avail + 2 - this.mem.base, v & 0xffff, true);
  }

  notify(qi: number): void {
    this.w(REG.NOTIFY, qi);
  }

  /** Used entries since the last call; their descriptors become free again. As Linux's
   *  virtqueue_enable_cb, it then asks (with EVENT_IDX) to hear of the very next one. */
  takeUsed(qi: number): { id: number; len: number }[] {
    const q = this.queues[qi];
    if (!q) return [];
    const l = q.layout, dv = this.mem.dv, base = this.mem.base;
    const idx = dv.getUint16(l.used + 2 - base, true);
    const out: { id: number; len: number }[] = [];
    for (; q.usedSeen !== idx && out.length <= l.size; q.usedSeen = (q.usedSeen + 1) & 0xffff) {
      const at = l.used + 4 + 8 * (q.usedSeen % l.size) - base;
      const e = { id: dv.getUint32(at, true), len: dv.getUint32(at + 4, true) };
      out.push(e);
      const ids = q.held.get(e.id);
      if (ids) {
        q.held.delete(e.id);
        q.free.push(...ids);
      }
    }
    if (this.eventIdx) dv.setUint16(l.avail + 4 + 2 * l.size - base, q.usedSeen, true);
    return out;
  }

  ackInterrupts(): void {
    this.w(REG.INT_ACK, this.r(REG.INT_STATUS));
  }
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
