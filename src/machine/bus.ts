// The MMIO bus: a sorted map of non-overlapping ranges. Devices see offsets within their
// own range, never absolute addresses, and only the access widths they declare.

import type { PhysBus } from '../cpu/memory.js';
import type { MmioDevice } from '../devices/mmio.js';

export type { MmioDevice };

export interface BusRegion {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly device: MmioDevice;
  /** Legal access widths as a bit set of byte counts (1 | 2 | 4 | 8). 8-byte accesses
   *  reach the device as two 4-byte accesses, low word first. */
  readonly widths: number;
}

export class Bus implements PhysBus {
  private regions: BusRegion[] = [];
  private last: BusRegion | undefined;
  /** Device writes so far: a guest that writes to devices is doing something (stall.ts). */
  writes = 0;

  add(region: BusRegion): void {
    if (region.size <= 0) throw new RangeError(`${region.name}: empty MMIO range`);
    for (const r of this.regions) {
      if (region.base < r.base + r.size && r.base < region.base + region.size) {
        throw new RangeError(`${region.name} at 0x${region.base.toString(16)} overlaps ${r.name} at 0x${r.base.toString(16)}`);
      }
    }
    this.regions.push(region);
    this.regions.sort((a, b) => a.base - b.base);
  }

  list(): readonly BusRegion[] {
    return this.regions;
  }

  private find(pa: number, size: number): BusRegion | undefined {
    const l = this.last;
    if (l && pa >= l.base && pa + size <= l.base + l.size) return l;
    let lo = 0, hi = this.regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.regions[mid];
      if (pa < r.base) hi = mid - 1;
      else if (pa >= r.base + r.size) lo = mid + 1;
      else {
        if (pa + size > r.base + r.size || !(r.widths & size)) return undefined;
        this.last = r;
        return r;
      }
    }
    return undefined;
  }

  read(pa: number, size: number, out: Int32Array): boolean {
    const r = this.find(pa, size);
    if (!r) return false;
    const off = pa - r.base;
    if (size === 8) {
      out[0] = r.device.read(off, 4);
      out[1] = r.device.read(off + 4, 4);
    } else {
      out[0] = r.device.read(off, size);
      out[1] = 0;
    }
    return true;
  }

  write(pa: number, size: number, lo: number, hi: number): boolean {
    const r = this.find(pa, size);
    if (!r) return false;
    this.writes++;
    const off = pa - r.base;
    if (size === 8) {
      r.device.write(off, 4, lo);
      r.device.write(off + 4, 4, hi);
    } else {
      r.device.write(off, size, size === 4 ? lo : lo & ((1 << (size * 8)) - 1));
    }
    return true;
  }
}
