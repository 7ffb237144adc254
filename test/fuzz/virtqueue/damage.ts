// What a broken or hostile driver does to a chain it has just written: one descriptor
// made wrong (an address outside RAM or across its end, a length of zero or of 4 GiB, a
// loop, a next index out of the table, the direction swapped, an indirect table nested,
// misnamed or mis-sized), a head out of range, avail.idx jumping ahead. damage() keeps
// every buffer the guest's own; alias() points writable buffers at the rings and at
// other buffers, which is allowed but makes the device write its own metadata.

import type { Rng } from '../harness.js';
import { type FuzzGuest, RAM_BASE, RAM_SIZE } from './guest.js';
import { F_INDIRECT, F_NEXT, F_WRITE } from './rings.js';

export interface Built { head: number; table: number; descs: number[] }

const FIELD = { addr: 0, len: 8, flags: 12, next: 14 } as const;

function get(g: FuzzGuest, table: number, i: number, field: keyof typeof FIELD): number {
  const off = table + 16 * i + FIELD[field] - g.mem.base;
  return field === 'addr' ? g.mem.dv.getUint32(off, true) + g.mem.dv.getUint32(off + 4, true) * 2 ** 32
    : field === 'len' ? g.mem.dv.getUint32(off, true) : g.mem.dv.getUint16(off, true);
}

function set(g: FuzzGuest, table: number, i: number, field: keyof typeof FIELD, v: number): void {
  const off = table + 16 * i + FIELD[field] - g.mem.base;
  if (field === 'addr') {
    g.mem.dv.setUint32(off, v % 2 ** 32, true);
    g.mem.dv.setUint32(off + 4, Math.floor(v / 2 ** 32) % 2 ** 32, true);
  } else if (field === 'len') g.mem.dv.setUint32(off, v >>> 0, true);
  else g.mem.dv.setUint16(off, v & 0xffff, true);
}

/** Breaks one thing in a chain just built; returns the head to publish. */
export function damage(rng: Rng, g: FuzzGuest, qi: number, b: Built): number {
  const size = g.queues[qi]?.layout.size ?? 1;
  const i = rng.pick(b.descs);
  const entries = b.table === g.queues[qi]?.layout.desc ? size : b.descs.length;
  const end = RAM_BASE + RAM_SIZE;
  switch (rng.int(9)) {
    case 0: set(g, b.table, i, 'addr', rng.pick([0x1000, RAM_BASE - 16, end - 8, end, RAM_BASE + 2 ** 56, 2 ** 64 - 512])); break;
    case 1: set(g, b.table, i, 'len', rng.pick([0, 0xffff_ffff, RAM_SIZE, RAM_SIZE + 1, 2 ** 31])); break;
    case 2: set(g, b.table, i, 'flags', get(g, b.table, i, 'flags') | F_NEXT); set(g, b.table, i, 'next', rng.pick([i, b.descs[0]])); break;
    case 3: set(g, b.table, i, 'flags', get(g, b.table, i, 'flags') | F_NEXT); set(g, b.table, i, 'next', entries + rng.int(3)); break;
    case 4: set(g, b.table, i, 'flags', get(g, b.table, i, 'flags') ^ F_WRITE); break;
    case 5: set(g, b.table, i, 'flags', get(g, b.table, i, 'flags') & ~F_NEXT); break;
    case 6: set(g, b.table, i, 'flags', get(g, b.table, i, 'flags') | F_INDIRECT | (rng.chance(0.3) ? F_NEXT : 0)); break;
    case 7: return rng.chance(0.5) ? size + rng.int(100) : rng.int(size);
    case 8: {
      // The head's indirect table: a length that is not whole descriptors, none, too many.
      const head = g.queues[qi]?.layout.desc ?? 0;
      if (get(g, head, b.head, 'flags') & F_INDIRECT) set(g, head, b.head, 'len', rng.pick([0, 8, 24, 16 * 1025, 2 ** 32 - 16]));
      break;
    }
  }
  return b.head;
}

/** avail.idx moved further than the ring holds, or back. */
export function jumpAvail(rng: Rng, g: FuzzGuest, qi: number): void {
  const q = g.queues[qi];
  if (q) g.setAvailIdx(qi, q.availIdx + rng.pick([q.layout.size + 1, 0x8000, 0xffff]));
}

/** Points one writable (or any) descriptor of a chain at guest metadata or at another
 *  buffer: legal for the guest, and the device then overwrites what it reads. */
export function alias(rng: Rng, g: FuzzGuest, qi: number, b: Built): void {
  const q = g.queues[rng.int(g.queues.length)] ?? g.queues[qi];
  if (!q) return;
  const i = rng.pick(b.descs);
  const l = q.layout;
  const target = rng.pick([l.desc, l.desc + 16 * rng.int(l.size), l.avail, l.avail + 2, l.used, l.used + 4, RAM_BASE + 0x1_0000 + 16 * rng.int(64)]);
  set(g, b.table, i, 'addr', target);
  if (rng.chance(0.5)) set(g, b.table, i, 'len', 1 + rng.int(64));
  if (rng.chance(0.5)) set(g, b.table, i, 'flags', get(g, b.table, i, 'flags') | F_WRITE);
}
