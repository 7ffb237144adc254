// Guest RAM as the device sees it, with every DMA write checked before it lands: it
// must fall inside the used ring of a live queue or inside a buffer the guest marked
// device-writable in a chain it made available (rings.ts reach()), and a used entry may
// not claim more bytes than its chain's writable buffers. A violation is recorded, not
// thrown: a throw would reach the transport, which turns it into NEEDS_RESET and hides it.

import type { GuestMemory } from '../../../src/cpu/memory.js';
import type { DmaMemory } from '../../../src/devices/dma.js';
import type { VirtQueue } from '../../../src/devices/virtio/queue.js';
import { GuestDma } from '../../../src/machine/guest-dma.js';
import { type Layout, RingView, type Seg, inside, overlaps } from './rings.js';

const hex = (n: number) => `0x${n.toString(16)}`;

export class AuditedDma implements DmaMemory {
  readonly view: RingView;
  private readonly dma: GuestDma;
  private queues: readonly VirtQueue[] = [];
  /** What the device may write now, and what the walk read to find it out. */
  private allowed: Seg[] = [];
  private walked: Seg[] = [];
  private used: { layout: Layout; seg: Seg }[] = [];
  private maxWrite: Map<number, number>[] = [];
  readonly violations: string[] = [];
  /** DMA writes that landed since begin(). */
  writes = 0;

  constructor(mem: GuestMemory) {
    this.dma = new GuestDma(mem);
    this.view = new RingView(mem);
  }

  /** Starts a guest step (a register access, a host event) for the device whose queues
   *  these are: what it may write is worked out from guest memory as it is now. */
  begin(queues: readonly VirtQueue[]): void {
    this.queues = queues;
    this.writes = 0;
    this.violations.length = 0;
    this.allowed = [];
    this.walked = [];
    this.used = [];
    this.maxWrite = [];
    this.extend();
  }

  /** Adds what guest memory now allows to what it allowed before: a device that wrote
   *  over descriptors or a ring (the guest pointed a buffer there) may follow them. */
  private extend(): void {
    this.queues.forEach((q, i) => {
      if (!q.ready || q.halted) return;
      const layout = { desc: q.descAddr, avail: q.availAddr, used: q.usedAddr, size: q.size };
      const r = this.view.reach(layout, q.indirect);
      this.allowed.push(...r.writable);
      this.walked.push(...r.read);
      if (!this.used.some((u) => u.layout.used === layout.used)) this.used.push({ layout, seg: { addr: layout.used, len: RingView.usedBytes(layout.size) } });
      const max = (this.maxWrite[i] ??= new Map());
      for (const [head, n] of r.maxWrite) max.set(head, Math.max(n, max.get(head) ?? 0));
    });
  }

  private land(addr: number, len: number, what: string, write: () => void): void {
    if (len === 0 || !this.dma.valid(addr, len)) return write(); // lands nowhere
    const inUsed = this.used.find((u) => inside([u.seg], addr, len));
    if (!inUsed && !inside(this.allowed, addr, len)) {
      this.violations.push(`${what} at ${hex(addr)}+${len}: not in a used ring nor in a writable buffer made available`);
    }
    write();
    this.writes++;
    if (overlaps(this.walked, addr, len)) this.extend();
  }

  /** A used entry's len field was just written: its id is the word before it. */
  private checkUsedLen(addr: number, len: number): void {
    for (const u of this.used) {
      const off = addr - u.layout.used - 4;
      if (off < 0 || off >= 8 * u.layout.size || off % 8 !== 4) continue;
      const id = this.view.u32(addr - 4);
      const q = this.queues.findIndex((x) => x.usedAddr === u.layout.used);
      const max = this.maxWrite[q]?.get(id);
      if (max === undefined) this.violations.push(`used entry for head ${id}, which no available slot names`);
      else if (len > max) this.violations.push(`used entry for head ${id} reports ${len} bytes, its writable buffers hold ${max}`);
    }
  }

  valid(addr: number, length: number): boolean {
    return this.dma.valid(addr, length);
  }

  read(addr: number, dest: Uint8Array): boolean {
    return this.dma.read(addr, dest);
  }

  write(addr: number, src: Uint8Array): boolean {
    let ok = false;
    this.land(addr, src.length, 'write', () => (ok = this.dma.write(addr, src)));
    return ok;
  }

  read16(addr: number): number {
    return this.dma.read16(addr);
  }

  read32(addr: number): number {
    return this.dma.read32(addr);
  }

  read64(addr: number): number {
    return this.dma.read64(addr);
  }

  write16(addr: number, value: number): void {
    this.land(addr, 2, 'write16', () => this.dma.write16(addr, value));
  }

  write32(addr: number, value: number): void {
    this.land(addr, 4, 'write32', () => this.dma.write32(addr, value));
    if (this.dma.valid(addr, 4)) this.checkUsedLen(addr, value >>> 0);
  }
}
