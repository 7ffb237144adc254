// Guest RAM as DMA-capable devices see it. Every access goes through the P2M table page
// by page, so a buffer that crosses a page boundary lands in the right host frames even
// once P2M stops being the identity, and a page with no frame behind it (ballooned out)
// is not DMA-able. Writes mark the dirty log as the CPU's stores do.

import { GuestMemory, NO_FRAME, PAGE_SIZE } from '../cpu/memory.js';
import type { DmaMemory } from '../devices/dma.js';

export class GuestDma implements DmaMemory {
  /** Guest pages without a host frame, or -1 when P2M changed since the last count. A
   *  count of 0 lets valid() skip the per-page walk, which a hostile multi-GiB descriptor
   *  would otherwise make expensive. */
  private holes = -1;

  constructor(private readonly mem: GuestMemory) {
    mem.onRemap.push(() => {
      this.holes = -1;
    });
    // Counted now, at build, rather than at the first descriptor: that may be the first
    // one after a migration's restore, with the guest paused.
    this.holes = countHoles(mem.p2m);
  }

  valid(addr: number, length: number): boolean {
    const mem = this.mem;
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || length < 0) return false;
    if (addr < mem.base || addr + length > mem.base + mem.size) return false;
    if (length === 0) return true;
    if (this.holes === -1) this.holes = countHoles(mem.p2m);
    if (this.holes === 0) return true;
    const first = Math.floor((addr - mem.base) / PAGE_SIZE);
    const last = Math.floor((addr + length - 1 - mem.base) / PAGE_SIZE);
    for (let p = first; p <= last; p++) if (mem.p2m[p] === NO_FRAME) return false;
    return true;
  }

  read(addr: number, dest: Uint8Array): boolean {
    if (!this.valid(addr, dest.length)) return false;
    const mem = this.mem;
    for (let done = 0; done < dest.length;) {
      const pa = addr + done;
      const off = mem.hostOffset(pa);
      const n = Math.min(PAGE_SIZE - ((pa - mem.base) % PAGE_SIZE), dest.length - done);
      dest.set(mem.u8.subarray(off, off + n), done);
      done += n;
    }
    return true;
  }

  write(addr: number, src: Uint8Array): boolean {
    if (!this.valid(addr, src.length)) return false;
    const mem = this.mem;
    for (let done = 0; done < src.length;) {
      const pa = addr + done;
      const off = mem.hostOffset(pa);
      const n = Math.min(PAGE_SIZE - ((pa - mem.base) % PAGE_SIZE), src.length - done);
      mem.u8.set(src.subarray(done, done + n), off);
      mem.markDirty(pa);
      done += n;
    }
    return true;
  }

  // Ring fields are naturally aligned and never cross a page, but an indirect table need
  // not be aligned; such fields go byte by byte. An address that is not RAM (a caller that
  // skipped valid(), or P2M changed underneath) reads 0 and drops writes: never a throw.

  read16(addr: number): number {
    const off = this.within(addr, 2);
    if (off >= 0) return this.mem.dv.getUint16(off, true);
    return this.byte(addr) | (this.byte(addr + 1) << 8);
  }

  read32(addr: number): number {
    const off = this.within(addr, 4);
    if (off >= 0) return this.mem.dv.getUint32(off, true);
    return (this.read16(addr) + this.read16(addr + 2) * 0x10000);
  }

  read64(addr: number): number {
    return this.read32(addr) + this.read32(addr + 4) * 0x1_0000_0000;
  }

  write16(addr: number, value: number): void {
    const off = this.within(addr, 2);
    if (off >= 0) {
      this.mem.dv.setUint16(off, value, true);
      this.mem.markDirty(addr);
    } else {
      this.write(addr, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff));
    }
  }

  write32(addr: number, value: number): void {
    const off = this.within(addr, 4);
    if (off >= 0) {
      this.mem.dv.setUint32(off, value >>> 0, true);
      this.mem.markDirty(addr);
    } else {
      this.write(addr, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff));
    }
  }

  /** Host offset of [addr, addr + size) when it is RAM and inside one page, else -1. */
  private within(addr: number, size: number): number {
    const mem = this.mem;
    if (!Number.isSafeInteger(addr) || addr < mem.base || addr + size > mem.base + mem.size) return -1;
    if (((addr - mem.base) % PAGE_SIZE) + size > PAGE_SIZE) return -1;
    return mem.hostOffset(addr);
  }

  private byte(addr: number): number {
    const mem = this.mem;
    if (!Number.isSafeInteger(addr) || addr < mem.base || addr >= mem.base + mem.size) return 0;
    const off = mem.hostOffset(addr);
    return off < 0 ? 0 : mem.u8[off];
  }
}

/** Guest pages without a host frame. */
function countHoles(p2m: Int32Array): number {
  let n = 0;
  for (let i = 0; i < p2m.length; i++) if (p2m[i] === NO_FRAME) n++;
  return n;
}
