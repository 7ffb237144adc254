// The test's own reading of split virtqueues in guest RAM (virtio 1.x §2.7), written
// from the spec rather than from src/devices/virtio/queue.ts, so the two can disagree:
// chain() says what a correct device makes of the chain at a head (its readable and
// writable segments, or the rule it breaks), reach() every buffer the guest has marked
// device-writable from any slot of the available ring.

import type { GuestMemory } from '../../../src/cpu/memory.js';

export const F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4;
const DESC = 16;
/** The device's bound on an indirect table (queue.ts MAX_INDIRECT). */
export const MAX_INDIRECT = 1024;

export interface Seg { addr: number; len: number }

export interface Layout { desc: number; avail: number; used: number; size: number }

export interface Walked {
  head: number;
  readable: Seg[];
  writable: Seg[];
  readLen: number;
  writeLen: number;
  /** The indirect table it went through, if any. */
  tables: Seg[];
  /** The rule the chain breaks, or null for a valid chain. */
  error: string | null;
}

interface Desc { addr: number; len: number; flags: number; next: number }

export class RingView {
  constructor(readonly mem: GuestMemory) {}

  inRam(addr: number, len: number): boolean {
    return Number.isSafeInteger(addr) && addr >= this.mem.base && len >= 0 && addr + len <= this.mem.base + this.mem.size;
  }

  private off(addr: number): number {
    return addr - this.mem.base;
  }

  u16(addr: number): number {
    return this.mem.dv.getUint16(this.off(addr), true);
  }

  u32(addr: number): number {
    return this.mem.dv.getUint32(this.off(addr), true);
  }

  /** The bytes of `segs`, one after the other. */
  gather(segs: readonly Seg[]): Uint8Array {
    const out = new Uint8Array(segs.reduce((n, s) => n + s.len, 0));
    let at = 0;
    for (const s of segs) {
      out.set(this.mem.read(s.addr, s.len), at);
      at += s.len;
    }
    return out;
  }

  availIdx(l: Layout): number {
    return this.u16(l.avail + 2);
  }

  availHead(l: Layout, slot: number): number {
    return this.u16(l.avail + 4 + 2 * (slot % l.size));
  }

  usedIdx(l: Layout): number {
    return this.u16(l.used + 2);
  }

  usedEntry(l: Layout, slot: number): { id: number; len: number } {
    const at = l.used + 4 + 8 * (slot % l.size);
    return { id: this.u32(at), len: this.u32(at + 4) };
  }

  /** Bytes of the used area (flags, idx, ring, avail_event): the device's to write. */
  static usedBytes(size: number): number {
    return 6 + 8 * size;
  }

  /** A descriptor of a table known to lie in RAM. */
  private desc(table: number, i: number): Desc {
    const at = table + DESC * i;
    return { addr: this.u32(at) + this.u32(at + 4) * 0x1_0000_0000, len: this.u32(at + 8), flags: this.u16(at + 12), next: this.u16(at + 14) };
  }

  /** The chain at `head` as a correct device sees it, every rule checked. */
  chain(l: Layout, head: number, indirectOk: boolean): Walked {
    const w: Walked = { head, readable: [], writable: [], readLen: 0, writeLen: 0, tables: [], error: null };
    const fail = (why: string) => ((w.error = why), w);
    let table = l.desc, entries = l.size, i = head, steps = 0, inIndirect = false, seenWritable = false;
    for (;;) {
      if (i >= entries) return fail(`index ${i} of ${entries}`);
      // More descriptors than the table holds means one came round again.
      if (++steps > entries) return fail('loop');
      const d = this.desc(table, i);
      if (d.flags & F_INDIRECT) {
        if (!indirectOk) return fail('indirect not negotiated');
        if (inIndirect) return fail('nested indirect');
        if (d.flags & F_NEXT) return fail('indirect with next');
        if (d.len === 0 || d.len % DESC !== 0 || d.len / DESC > MAX_INDIRECT) return fail('indirect length');
        if (!this.inRam(d.addr, d.len)) return fail('indirect table outside RAM');
        w.tables.push({ addr: d.addr, len: d.len });
        [table, entries, i, steps, inIndirect] = [d.addr, d.len / DESC, 0, 0, true];
        continue;
      }
      const writable = (d.flags & F_WRITE) !== 0;
      // Even a zero-length writable descriptor ends the readable part.
      if (!writable && seenWritable) return fail('readable after writable');
      seenWritable ||= writable;
      if (d.len > 0) {
        if (!this.inRam(d.addr, d.len)) return fail('buffer outside RAM');
        if (w.readLen + w.writeLen + d.len > 0xffff_ffff) return fail('longer than 4 GiB');
        if (writable) {
          w.writable.push({ addr: d.addr, len: d.len });
          w.writeLen += d.len;
        } else {
          w.readable.push({ addr: d.addr, len: d.len });
          w.readLen += d.len;
        }
      }
      if (!(d.flags & F_NEXT)) return w;
      i = d.next;
    }
  }

  /**
   * Everything a device could be allowed to write through this queue now: each
   * writable buffer reachable from any slot of the available ring (a superset of the
   * chains made available), the largest writable total per head, and the metadata read
   * on the way (when the device writes there, the reach must be computed again).
   */
  reach(l: Layout, indirectOk: boolean): { writable: Seg[]; maxWrite: Map<number, number>; read: Seg[] } {
    const writable: Seg[] = [];
    const maxWrite = new Map<number, number>();
    const read: Seg[] = [{ addr: l.avail, len: 4 + 2 * l.size }, { addr: l.desc, len: DESC * l.size }];
    for (let slot = 0; slot < l.size; slot++) {
      const head = this.availHead(l, slot);
      if (maxWrite.has(head)) continue;
      let total = 0;
      const visit = (table: number, entries: number, start: number, nested: boolean) => {
        for (let i = start, steps = 0; i < entries && steps <= entries; steps++) {
          const d = this.desc(table, i);
          if (d.flags & F_INDIRECT) {
            if (!nested && indirectOk && d.len > 0 && d.len % DESC === 0 && d.len / DESC <= MAX_INDIRECT && this.inRam(d.addr, d.len)) {
              read.push({ addr: d.addr, len: d.len });
              visit(d.addr, d.len / DESC, 0, true);
            }
            return;
          }
          if (d.flags & F_WRITE && d.len > 0 && this.inRam(d.addr, d.len)) {
            writable.push({ addr: d.addr, len: d.len });
            total += d.len;
          }
          if (!(d.flags & F_NEXT)) return;
          i = d.next;
        }
      };
      visit(l.desc, l.size, head, false);
      maxWrite.set(head, total);
    }
    return { writable, maxWrite, read };
  }
}

export function inside(segs: readonly Seg[], addr: number, len: number): boolean {
  return segs.some((s) => addr >= s.addr && addr + len <= s.addr + s.len);
}

export function overlaps(segs: readonly Seg[], addr: number, len: number): boolean {
  return segs.some((s) => addr < s.addr + s.len && s.addr < addr + len);
}
