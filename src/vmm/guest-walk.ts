// Debugger access to guest memory through a hart's current translation. Unlike
// cpu/mmu.ts (the hart's own walk) this one is free of side effects: no A/D updates, no
// faults raised, no permission checks beyond "is it mapped" (a debugger may read what the
// guest could not at this privilege, as QEMU's debug accesses do), no PMP, and never MMIO
// (a device register read has side effects).

import type { Hart } from '../cpu/hart.js';
import { Slot } from '../cpu/state.js';

const PAGE = 4096;

/** Guest-physical address of `va` for the hart now (satp, privilege), or undefined. */
export function debugTranslate(h: Hart, va: bigint): number | undefined {
  va = BigInt.asUintN(64, va);
  const satp = h.s.get64(Slot.Satp);
  const mode = Number(BigInt.asUintN(64, satp) >> 60n);
  if (h.priv === 3 || mode === 0) return va < 1n << 56n ? Number(va) : undefined;
  const levels = mode === 8 ? 3 : mode === 9 ? 4 : mode === 10 ? 5 : 0;
  if (levels === 0) return undefined;
  // Canonical form: the bits above the top VPN copy its top bit.
  const vaBits = BigInt(12 + 9 * levels);
  const top = BigInt.asIntN(64, va) >> (vaBits - 1n);
  if (top !== 0n && top !== -1n) return undefined;
  const mem = h.mem;
  let table = Number(satp & 0xfffffffffffn) * PAGE;
  for (let level = levels - 1; level >= 0; level--) {
    const vpn = Number((va >> BigInt(12 + 9 * level)) & 511n);
    const host = mem.hostOffset(table + vpn * 8);
    if (host < 0) return undefined;
    const lo = mem.i32[host >> 2] >>> 0;
    const hi = mem.i32[(host >> 2) + 1] >>> 0;
    // Invalid, write-only (reserved), or reserved high bits set.
    if (!(lo & 1) || (lo & 6) === 4 || hi & 0xffc00000) return undefined;
    const ppn = (hi & 0x3fffff) * 4194304 + (lo >>> 10);
    if (!(lo & 0xa)) {
      table = ppn * PAGE;
      continue;
    }
    const span = Math.pow(2, 9 * level);
    if (ppn % span !== 0) return undefined;
    const offset = Number(va & ((1n << BigInt(12 + 9 * level)) - 1n));
    return ppn * PAGE + offset;
  }
  return undefined;
}

/** Reads up to `len` bytes at `va`; stops early at the first unmapped or non-RAM page. */
export function debugRead(h: Hart, va: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const at = BigInt.asUintN(64, va + BigInt(done));
    const pa = debugTranslate(h, at);
    const host = pa === undefined ? -1 : h.mem.hostOffset(pa);
    if (host < 0) break;
    const n = Math.min(PAGE - Number(at % BigInt(PAGE)), len - done);
    out.set(h.mem.u8.subarray(host, host + n), done);
    done += n;
  }
  return out.subarray(0, done);
}

/** Writes `data` at `va` (all or nothing: every page is translated before any byte is
 *  written). Goes through GuestMemory.write so the dirty log and translated code see it. */
export function debugWrite(h: Hart, va: bigint, data: Uint8Array): boolean {
  const chunks: { pa: number; from: number; n: number }[] = [];
  for (let done = 0; done < data.length;) {
    const at = BigInt.asUintN(64, va + BigInt(done));
    const pa = debugTranslate(h, at);
    const n = Math.min(PAGE - Number(at % BigInt(PAGE)), data.length - done);
    if (pa === undefined || !h.mem.isRam(pa, n) || h.mem.hostOffset(pa) < 0) return false;
    chunks.push({ pa, from: done, n });
    done += n;
  }
  for (const c of chunks) h.mem.write(c.pa, data.subarray(c.from, c.from + c.n));
  return true;
}
