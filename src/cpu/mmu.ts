// Sv39 / Sv48 / Sv57 page-table walks with hardware A/D updates. Physical addresses are
// doubles (exact below 2^53, far above any RAM this machine has).

import type { Hart } from './hart.js';
import { MSTATUS, accessFault, pageFault } from './hart.js';
import { Access } from './pmp.js';
import { Slot, slotIndex } from './state.js';
import { Ms } from './trap.js';

const SATP = slotIndex(Slot.Satp);
const TWO32 = 4294967296;
/** Pages in a leaf at each level: 512^level. */
const SUPERPAGE_PAGES = [1, 512, 262144, 134217728, 68719476736];

const enum Pte {
  V = 1,
  R = 2,
  W = 4,
  X = 8,
  U = 16,
  G = 32,
  A = 64,
  D = 128,
}

export const enum SatpMode {
  Bare = 0,
  Sv39 = 8,
  Sv48 = 9,
  Sv57 = 10,
}

/** Nine VPN bits starting at bit `p` of the virtual address. */
function vpnBits(lo: number, hi: number, p: number): number {
  if (p >= 32) return (hi >>> (p - 32)) & 511;
  if (p + 9 <= 32) return (lo >>> p) & 511;
  return ((lo >>> p) | (hi << (32 - p))) & 511;
}

/** The low `k` bits of the virtual address (k <= 48) as a double. */
function lowBits(lo: number, hi: number, k: number): number {
  if (k < 32) return (lo & ((1 << k) - 1)) >>> 0;
  return (hi & ((1 << (k - 32)) - 1)) * TWO32 + (lo >>> 0);
}

/** Translates a virtual address for `access` at privilege `priv`; raises the exact fault. */
export function translate(h: Hart, vaLo: number, vaHi: number, access: Access, priv: number): number {
  const w = h.w;
  const mode = w[SATP + 1] >>> 28;
  if (priv === 3 || mode === SatpMode.Bare) {
    // Physical addresses are 56 bits; anything above does not exist.
    if (vaHi < 0 || vaHi >= 0x1000000) h.raise(accessFault(access), vaLo, vaHi);
    h.leafLevel = 0;
    return vaHi * TWO32 + (vaLo >>> 0);
  }
  const levels = mode === SatpMode.Sv39 ? 3 : mode === SatpMode.Sv48 ? 4 : 5;
  // Bits above the top VPN must copy the VPN's top bit.
  const top = vaHi >> (12 + 9 * levels - 1 - 32);
  if (top !== 0 && top !== -1) h.raise(pageFault(access), vaLo, vaHi);

  const mstatus = w[MSTATUS];
  let table = ((w[SATP + 1] & 0xfff) * TWO32 + (w[SATP] >>> 0)) * 4096;
  const mem = h.mem;
  for (let level = levels - 1; level >= 0; level--) {
    const pteAddr = table + vpnBits(vaLo, vaHi, 12 + 9 * level) * 8;
    if (!h.pmp.check(pteAddr, 8, Access.Read, 1)) h.raise(accessFault(access), vaLo, vaHi);
    const host = mem.hostOffset(pteAddr);
    if (host < 0) h.raise(accessFault(access), vaLo, vaHi);
    let lo = mem.i32[host >> 2];
    const hi = mem.i32[(host >> 2) + 1];
    // Reserved bits 63:54 (no Svpbmt/Svnapot), invalid, or write-only.
    if (!(lo & Pte.V) || (lo & (Pte.R | Pte.W)) === Pte.W || (hi & 0xffc00000)) h.raise(pageFault(access), vaLo, vaHi);
    const ppn = (hi & 0x3fffff) * 4194304 + (lo >>> 10);
    if (!(lo & (Pte.R | Pte.X))) {
      if (level === 0) h.raise(pageFault(access), vaLo, vaHi);
      table = ppn * 4096;
      continue;
    }
    // A leaf: permissions first.
    if (access === Access.Fetch) {
      if (!(lo & Pte.X)) h.raise(pageFault(access), vaLo, vaHi);
    } else if (access === Access.Read) {
      if (!(lo & Pte.R) && !((mstatus & Ms.MXR) && (lo & Pte.X))) h.raise(pageFault(access), vaLo, vaHi);
    } else if (!(lo & Pte.W)) {
      h.raise(pageFault(access), vaLo, vaHi);
    }
    if (lo & Pte.U) {
      if (priv === 1 && (access === Access.Fetch || !(mstatus & Ms.SUM))) h.raise(pageFault(access), vaLo, vaHi);
    } else if (priv === 0) {
      h.raise(pageFault(access), vaLo, vaHi);
    }
    // A superpage's PPN must be aligned to its size.
    if (level > 0 && ppn % SUPERPAGE_PAGES[level] !== 0) h.raise(pageFault(access), vaLo, vaHi);
    const want = Pte.A | (access === Access.Write ? Pte.D : 0);
    if ((lo & want) !== want) {
      if (!h.pmp.check(pteAddr, 8, Access.Write, 1)) h.raise(accessFault(access), vaLo, vaHi);
      lo |= want;
      mem.i32[host >> 2] = lo;
      mem.markDirty(pteAddr);
    }
    h.leafLevel = level;
    return ppn * 4096 + lowBits(vaLo, vaHi, 12 + 9 * level);
  }
  // Unreachable: level 0 either returns or faults.
  return h.raise(pageFault(access), vaLo, vaHi);
}
