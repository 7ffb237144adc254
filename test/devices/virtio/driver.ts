// A guest driver in miniature: it programs a VirtioMmio through its registers the way
// Linux's virtio_mmio and virtio_ring do, keeps split rings in a GuestMemory, posts chains
// and reads completions back. Tests use it to play both well-behaved and hostile guests.

import { GuestMemory } from '../../../src/cpu/memory.js';
import { GuestDma } from '../../../src/machine/guest-dma.js';
import type { VirtioDevice } from '../../../src/devices/virtio/device.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../src/devices/virtio/device.js';
import { VirtioMmio } from '../../../src/devices/virtio/mmio.js';
import { FakeLine } from '../fakes.js';

export const RAM_BASE = 0x8000_0000;
export const RAM_SIZE = 1 << 20;
export const STATUS = 0x070, INT_STATUS = 0x060, INT_ACK = 0x064, NOTIFY = 0x050;
export const F_WRITE = 2, F_NEXT = 1, F_INDIRECT = 4;

/** Where queue i keeps its rings, and where buffers are allocated from. */
const RING_AREA = RAM_BASE;
const RING_STRIDE = 0x4000;
const BUFFER_AREA = RAM_BASE + 0x40000;

export interface Used { id: number; len: number }

export interface ChainSpec {
  /** Device-readable buffers (contents). */
  out?: Uint8Array[];
  /** Device-writable buffer sizes. */
  in?: number[];
  /** Put the chain in an indirect table instead of the ring's descriptors. */
  indirect?: boolean;
}

export interface Posted {
  head: number;
  /** Guest addresses of the writable buffers, in order. */
  inAddrs: number[];
}

export class TestQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  availIdx = 0;
  usedSeen = 0;
  /** As Linux's virtqueue_enable_cb: after reading completions, ask (through used_event)
   *  for an interrupt at the very next one. Tests of EVENT_IDX itself turn this off. */
  autoUsedEvent = true;
  private nextDesc = 0;

  constructor(readonly drv: TestDriver, readonly index: number, readonly size: number) {
    const base = RING_AREA + index * RING_STRIDE;
    this.desc = base;
    this.avail = base + 16 * size;
    this.used = Math.ceil((this.avail + 6 + 2 * size) / 4) * 4;
  }

  writeDesc(i: number, addr: number, len: number, flags: number, next: number, table = this.desc): void {
    const at = table + 16 * i;
    const dv = this.drv.mem.dv;
    const off = at - RAM_BASE;
    dv.setUint32(off, addr % 0x1_0000_0000, true);
    dv.setUint32(off + 4, Math.floor(addr / 0x1_0000_0000), true);
    dv.setUint32(off + 8, len, true);
    dv.setUint16(off + 12, flags, true);
    dv.setUint16(off + 14, next, true);
  }

  /** Makes descriptor `head` available (without notifying). */
  publish(head: number): void {
    const dv = this.drv.mem.dv;
    dv.setUint16(this.avail + 4 + 2 * (this.availIdx % this.size) - RAM_BASE, head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.setAvailIdx(this.availIdx);
  }

  setAvailIdx(v: number): void {
    this.drv.mem.dv.setUint16(this.avail + 2 - RAM_BASE, v, true);
  }

  setAvailFlags(v: number): void {
    this.drv.mem.dv.setUint16(this.avail - RAM_BASE, v, true);
  }

  setUsedEvent(v: number): void {
    this.drv.mem.dv.setUint16(this.avail + 4 + 2 * this.size - RAM_BASE, v, true);
  }

  availEvent(): number {
    return this.drv.mem.dv.getUint16(this.used + 4 + 8 * this.size - RAM_BASE, true);
  }

  /** Builds a chain from fresh buffers and makes it available. */
  post(spec: ChainSpec): Posted {
    const outs = spec.out ?? [];
    const ins = spec.in ?? [];
    const segs: [addr: number, len: number, flags: number][] = [];
    for (const b of outs) segs.push([this.drv.alloc(b), b.length, 0]);
    const inAddrs: number[] = [];
    for (const n of ins) {
      const a = this.drv.alloc(new Uint8Array(n));
      inAddrs.push(a);
      segs.push([a, n, F_WRITE]);
    }
    let head: number;
    if (spec.indirect) {
      const table = this.drv.alloc(new Uint8Array(16 * segs.length));
      segs.forEach(([a, n, f], i) => this.writeDesc(i, a, n, f | (i + 1 < segs.length ? F_NEXT : 0), i + 1, table));
      head = this.takeDesc();
      this.writeDesc(head, table, 16 * segs.length, F_INDIRECT, 0);
    } else {
      const ids = segs.map(() => this.takeDesc());
      segs.forEach(([a, n, f], i) => this.writeDesc(ids[i], a, n, f | (i + 1 < segs.length ? F_NEXT : 0), ids[i + 1] ?? 0));
      head = ids[0];
    }
    this.publish(head);
    return { head, inAddrs };
  }

  /** Used entries the device added since the last call. */
  takeUsed(): Used[] {
    const dv = this.drv.mem.dv;
    const idx = dv.getUint16(this.used + 2 - RAM_BASE, true);
    const out: Used[] = [];
    for (; this.usedSeen !== idx; this.usedSeen = (this.usedSeen + 1) & 0xffff) {
      const at = this.used + 4 + 8 * (this.usedSeen % this.size) - RAM_BASE;
      out.push({ id: dv.getUint32(at, true), len: dv.getUint32(at + 4, true) });
    }
    if (this.autoUsedEvent) this.setUsedEvent(this.usedSeen);
    return out;
  }

  notify(): void {
    this.drv.w(NOTIFY, this.index);
  }

  private takeDesc(): number {
    const d = this.nextDesc;
    this.nextDesc = (this.nextDesc + 1) % this.size;
    return d;
  }
}

export class TestDriver {
  readonly mem: GuestMemory;
  readonly dma: GuestDma;
  readonly line = new FakeLine();
  readonly mmio: VirtioMmio;
  readonly queues: TestQueue[] = [];
  private heap = BUFFER_AREA;

  constructor(readonly device: VirtioDevice, readonly ramSize = RAM_SIZE) {
    this.mem = new GuestMemory(RAM_BASE, ramSize);
    this.dma = new GuestDma(this.mem);
    this.mmio = new VirtioMmio(device, this.dma, this.line);
  }

  get ramEnd(): number {
    return RAM_BASE + this.ramSize;
  }

  /** A copy of all of guest RAM, to prove a device wrote nothing it should not have. */
  snapshot(): Uint8Array {
    return this.mem.read(RAM_BASE, this.ramSize);
  }

  r(off: number, size = 4): number {
    return this.mmio.read(off, size);
  }

  w(off: number, v: number, size = 4): void {
    this.mmio.write(off, size, v);
  }

  get status(): number {
    return this.r(STATUS);
  }

  deviceFeatures(): bigint {
    this.w(0x014, 0);
    const lo = this.r(0x010);
    this.w(0x014, 1);
    return BigInt(lo) | (BigInt(this.r(0x010)) << 32n);
  }

  writeFeatures(f: bigint): void {
    this.w(0x024, 0);
    this.w(0x020, Number(f & 0xffff_ffffn));
    this.w(0x024, 1);
    this.w(0x020, Number((f >> 32n) & 0xffff_ffffn));
  }

  /** Linux's probe order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues,
   *  DRIVER_OK. `drop` removes transport features from what the driver accepts. */
  init(opts: { drop?: bigint; queueSize?: number; beforeDriverOk?: () => void } = {}): void {
    this.w(STATUS, 0);
    this.w(STATUS, 1);
    this.w(STATUS, 1 | 2);
    const accept = this.deviceFeatures() & ~(opts.drop ?? 0n);
    this.writeFeatures(accept);
    this.w(STATUS, 1 | 2 | 8);
    if (!(this.status & 8)) throw new Error('FEATURES_OK refused');
    for (let i = 0; i < this.device.queueCount; i++) {
      this.w(0x030, i);
      const size = Math.min(opts.queueSize ?? 16, this.r(0x034));
      const q = new TestQueue(this, i, size);
      this.mem.write(q.desc, new Uint8Array(RING_STRIDE)); // fresh rings, as a driver allocates them
      this.w(0x038, size);
      this.w(0x080, q.desc % 0x1_0000_0000);
      this.w(0x084, Math.floor(q.desc / 0x1_0000_0000));
      this.w(0x090, q.avail % 0x1_0000_0000);
      this.w(0x094, 0);
      this.w(0x0a0, q.used % 0x1_0000_0000);
      this.w(0x0a4, 0);
      this.w(0x044, 1);
      this.queues.push(q);
    }
    opts.beforeDriverOk?.();
    this.w(STATUS, 1 | 2 | 8 | 4);
  }

  /** Copies `data` into a fresh, 16-byte aligned buffer; returns its guest address. */
  alloc(data: Uint8Array): number {
    const at = this.heap;
    this.heap += (data.length + 15) & ~15;
    if (this.heap > this.ramEnd) throw new Error('test heap exhausted');
    this.mem.write(at, data);
    return at;
  }

  read(addr: number, len: number): Uint8Array {
    return this.mem.read(addr, len);
  }

  ack(): void {
    this.w(INT_ACK, this.r(INT_STATUS));
  }
}

export const ALL_TRANSPORT = VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;

export function bytes(...v: number[]): Uint8Array {
  return Uint8Array.from(v);
}

/** Little-endian encodings for request headers. */
export function le(fields: [value: number | bigint, size: 1 | 2 | 4 | 8][]): Uint8Array {
  const total = fields.reduce((n, [, s]) => n + s, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const [v, s] of fields) {
    if (s === 1) dv.setUint8(at, Number(v));
    else if (s === 2) dv.setUint16(at, Number(v), true);
    else if (s === 4) dv.setUint32(at, Number(v), true);
    else dv.setBigUint64(at, BigInt(v), true);
    at += s;
  }
  return out;
}
