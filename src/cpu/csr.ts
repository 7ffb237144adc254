// Control and status registers (privileged architecture 1.12, Zicntr, Sstc, PMP).
// Values travel as (low, high) words: csrRead returns the low word and leaves the high
// word in `csrHi`.

import type { Hart } from './hart.js';
import { MSTATUS, PRIV } from './hart.js';
import { PMP_ENTRIES } from './pmp.js';
import { Slot, slotIndex } from './state.js';
import { Cause, Mip, Ms } from './trap.js';

export let csrHi = 0;

export const enum Csr {
  Fflags = 0x001, Frm = 0x002, Fcsr = 0x003,
  Cycle = 0xc00, Time = 0xc01, Instret = 0xc02, HpmCounter31 = 0xc1f,
  Sstatus = 0x100, Sie = 0x104, Stvec = 0x105, Scounteren = 0x106, Senvcfg = 0x10a,
  Sscratch = 0x140, Sepc = 0x141, Scause = 0x142, Stval = 0x143, Sip = 0x144, Stimecmp = 0x14d,
  Satp = 0x180,
  Mvendorid = 0xf11, Marchid = 0xf12, Mimpid = 0xf13, Mhartid = 0xf14, Mconfigptr = 0xf15,
  Mstatus = 0x300, Misa = 0x301, Medeleg = 0x302, Mideleg = 0x303, Mie = 0x304, Mtvec = 0x305,
  Mcounteren = 0x306, Menvcfg = 0x30a, Mcountinhibit = 0x320, MhpmEvent3 = 0x323, MhpmEvent31 = 0x33f,
  Mscratch = 0x340, Mepc = 0x341, Mcause = 0x342, Mtval = 0x343, Mip = 0x344,
  Pmpcfg0 = 0x3a0, Pmpcfg15 = 0x3af, Pmpaddr0 = 0x3b0, Pmpaddr63 = 0x3ef,
  Mseccfg = 0x747,
  Tselect = 0x7a0, Tdata1 = 0x7a1, Tdata3 = 0x7a3,
  Mcycle = 0xb00, Minstret = 0xb02, MhpmCounter3 = 0xb03, MhpmCounter31 = 0xb1f,
}

const I = (s: Slot) => slotIndex(s);
const FCSR = I(Slot.Fcsr), MEDELEG = I(Slot.Medeleg), MIDELEG = I(Slot.Mideleg), MIE = I(Slot.Mie);
const MIP = I(Slot.Mip), MTVEC = I(Slot.Mtvec), STVEC = I(Slot.Stvec), SATP = I(Slot.Satp);
const MCOUNTEREN = I(Slot.Mcounteren), SCOUNTEREN = I(Slot.Scounteren), MENVCFG = I(Slot.Menvcfg);
const SENVCFG = I(Slot.Senvcfg), STIMECMP = I(Slot.Stimecmp), MCOUNTINHIBIT = I(Slot.Mcountinhibit);
const CYCLE = I(Slot.Cycle), INSTRET = I(Slot.Instret);

/** Writable mstatus bits (low word). */
const MSTATUS_MASK = Ms.SIE | Ms.MIE | Ms.SPIE | Ms.MPIE | Ms.SPP | Ms.MPP | Ms.FS | Ms.MPRV | Ms.SUM | Ms.MXR | Ms.TVM | Ms.TW | Ms.TSR;
/** The sstatus view of mstatus (low word): SIE SPIE UBE SPP VS FS XS SUM MXR. */
const SSTATUS_MASK = 0x000de762;
const DELEGABLE_EXCEPTIONS = 0xb3ff;
const SUPERVISOR_INTERRUPTS = Mip.SSIP | Mip.STIP | Mip.SEIP;
const ALL_INTERRUPTS = 0xaaa;
/** menvcfg.STCE (bit 63) enables Sstc. */
export const STCE = 0x80000000 | 0;

function illegal(h: Hart): never {
  return h.raise(Cause.IllegalInsn);
}

/** mstatus with SD computed from FS. */
function readMstatus(h: Hart): number {
  const lo = h.w[MSTATUS];
  csrHi = (h.w[MSTATUS + 1] & 0x7fffffff) | ((lo & Ms.FS) === Ms.FS ? 0x80000000 : 0);
  return lo;
}

function counterAllowed(h: Hart, csr: number): boolean {
  const priv = h.w[PRIV];
  const bit = 1 << (csr & 31);
  if (priv < 3 && !(h.w[MCOUNTEREN] & bit)) return false;
  if (priv === 0 && !(h.w[SCOUNTEREN] & bit)) return false;
  return true;
}

function timePair(h: Hart): number {
  const t = h.time.mtime();
  csrHi = Math.floor(t / 4294967296) | 0;
  return t | 0;
}

function pair(h: Hart, index: number): number {
  csrHi = h.w[index + 1];
  return h.w[index];
}

/** Reads a CSR, raising illegal-instruction when it does not exist or is not accessible. */
export function csrRead(h: Hart, csr: number): number {
  const w = h.w;
  const priv = w[PRIV];
  if (((csr >>> 8) & 3) > priv) illegal(h);
  csrHi = 0;
  switch (csr) {
    case Csr.Fflags: case Csr.Frm: case Csr.Fcsr: {
      if (!(w[MSTATUS] & Ms.FS)) illegal(h);
      const flags = w[FCSR], frm = w[FCSR + 1];
      return csr === Csr.Fflags ? flags : csr === Csr.Frm ? frm : flags | (frm << 5);
    }
    case Csr.Cycle: if (!counterAllowed(h, csr)) illegal(h); return pair(h, CYCLE);
    case Csr.Instret: if (!counterAllowed(h, csr)) illegal(h); return pair(h, INSTRET);
    case Csr.Time: if (!counterAllowed(h, csr)) illegal(h); return timePair(h);
    case Csr.Sstatus: {
      const lo = readMstatus(h);
      csrHi &= 0x80000003;
      return lo & SSTATUS_MASK;
    }
    case Csr.Sie: return w[MIE] & w[MIDELEG];
    case Csr.Sip: return readMip(h) & w[MIDELEG];
    case Csr.Stvec: return pair(h, STVEC);
    case Csr.Scounteren: return w[SCOUNTEREN];
    case Csr.Senvcfg: return w[SENVCFG];
    case Csr.Sscratch: return pair(h, I(Slot.Sscratch));
    case Csr.Sepc: return pair(h, I(Slot.Sepc));
    case Csr.Scause: return pair(h, I(Slot.Scause));
    case Csr.Stval: return pair(h, I(Slot.Stval));
    case Csr.Stimecmp:
      if (priv < 3 && (!(w[MENVCFG + 1] & STCE) || !(w[MCOUNTEREN] & 2))) illegal(h);
      return pair(h, STIMECMP);
    case Csr.Satp:
      if (priv === 1 && (w[MSTATUS] & Ms.TVM)) illegal(h);
      return pair(h, SATP);
    case Csr.Mvendorid: case Csr.Marchid: case Csr.Mimpid: case Csr.Mconfigptr: return 0;
    case Csr.Mhartid: return w[I(Slot.Mhartid)];
    case Csr.Mstatus: return readMstatus(h);
    case Csr.Misa: return pair(h, I(Slot.Misa));
    case Csr.Medeleg: return w[MEDELEG];
    case Csr.Mideleg: return w[MIDELEG];
    case Csr.Mie: return w[MIE];
    case Csr.Mip: return readMip(h);
    case Csr.Mtvec: return pair(h, MTVEC);
    case Csr.Mcounteren: return w[MCOUNTEREN];
    case Csr.Menvcfg: return pair(h, MENVCFG);
    case Csr.Mcountinhibit: return w[MCOUNTINHIBIT];
    case Csr.Mscratch: return pair(h, I(Slot.Mscratch));
    case Csr.Mepc: return pair(h, I(Slot.Mepc));
    case Csr.Mcause: return pair(h, I(Slot.Mcause));
    case Csr.Mtval: return pair(h, I(Slot.Mtval));
    case Csr.Mcycle: return pair(h, CYCLE);
    case Csr.Minstret: return pair(h, INSTRET);
    case Csr.Mseccfg: case Csr.Tselect: return 0;
  }
  if (csr > Csr.Instret && csr <= Csr.HpmCounter31) {
    if (!counterAllowed(h, csr)) illegal(h);
    return 0;
  }
  if ((csr >= Csr.MhpmCounter3 && csr <= Csr.MhpmCounter31) || (csr >= Csr.MhpmEvent3 && csr <= Csr.MhpmEvent31)) return 0;
  if (csr >= Csr.Tdata1 && csr <= Csr.Tdata3) return 0;
  if (csr >= Csr.Pmpcfg0 && csr <= Csr.Pmpcfg15) {
    if (csr & 1) illegal(h);
    const first = (csr - Csr.Pmpcfg0) * 4;
    if (first >= PMP_ENTRIES) return 0;
    const c = h.pmp.cfg;
    csrHi = c[first + 4] | (c[first + 5] << 8) | (c[first + 6] << 16) | (c[first + 7] << 24);
    return c[first] | (c[first + 1] << 8) | (c[first + 2] << 16) | (c[first + 3] << 24);
  }
  if (csr >= Csr.Pmpaddr0 && csr <= Csr.Pmpaddr63) {
    const i = csr - Csr.Pmpaddr0;
    if (i >= PMP_ENTRIES) return 0;
    csrHi = h.pmp.addrHi[i];
    return h.pmp.addrLo[i];
  }
  return illegal(h);
}

/** Sets the `mask` bits of mip to those of `v`, atomically: devices on another thread
 *  set and clear other bits (SEIP, MTIP...) concurrently, and none may be lost. */
function writeMipBits(w: Int32Array, mask: number, v: number): void {
  Atomics.or(w, MIP, v & mask);
  Atomics.and(w, MIP, ~mask | v);
}

/** mip with the Sstc timer folded in. */
export function readMip(h: Hart): number {
  const w = h.w;
  if (w[MENVCFG + 1] & STCE) {
    const t = h.time.mtime();
    // Unsigned: 2^64 - 1 (the reset value, and what Linux writes for "no timer") never fires.
    const cmp = (w[STIMECMP + 1] >>> 0) * 4294967296 + (w[STIMECMP] >>> 0);
    // Atomic: a device on another thread may be setting another bit of mip meanwhile.
    if (t >= cmp) { if (!(w[MIP] & Mip.STIP)) Atomics.or(w, MIP, Mip.STIP); } else if (w[MIP] & Mip.STIP) Atomics.and(w, MIP, ~Mip.STIP);
  }
  return w[MIP];
}

/** Writes a CSR. The caller has already read it (csrRead), so existence and the
 *  privilege level are checked; this checks writability. */
export function csrWrite(h: Hart, csr: number, lo: number, hi: number): void {
  const w = h.w;
  if ((csr >>> 10) === 3) illegal(h);
  switch (csr) {
    case Csr.Fflags: w[FCSR] = lo & 0x1f; dirtyFp(h); return;
    case Csr.Frm: w[FCSR + 1] = lo & 7; dirtyFp(h); return;
    case Csr.Fcsr: w[FCSR] = lo & 0x1f; w[FCSR + 1] = (lo >>> 5) & 7; dirtyFp(h); return;
    case Csr.Sstatus:
      writeMstatus(h, (w[MSTATUS] & ~SSTATUS_MASK) | (lo & SSTATUS_MASK));
      return;
    case Csr.Sie: w[MIE] = (w[MIE] & ~w[MIDELEG]) | (lo & w[MIDELEG]); return;
    case Csr.Sip: {
      writeMipBits(w, Mip.SSIP & w[MIDELEG], lo);
      return;
    }
    case Csr.Stvec: writeTvec(h, STVEC, lo, hi); return;
    case Csr.Scounteren: w[SCOUNTEREN] = lo; return;
    case Csr.Senvcfg: w[SENVCFG] = lo & 1; return;
    case Csr.Sscratch: set(h, I(Slot.Sscratch), lo, hi); return;
    case Csr.Sepc: set(h, I(Slot.Sepc), lo & ~1, hi); return;
    case Csr.Scause: set(h, I(Slot.Scause), lo, hi); return;
    case Csr.Stval: set(h, I(Slot.Stval), lo, hi); return;
    case Csr.Stimecmp: set(h, STIMECMP, lo, hi); return;
    case Csr.Satp: {
      const mode = hi >>> 28;
      if (mode !== 0 && mode !== 8 && mode !== 9 && mode !== 10) return;
      set(h, SATP, lo, hi);
      h.flushTlb();
      return;
    }
    case Csr.Mstatus: writeMstatus(h, lo); return;
    case Csr.Misa: return;
    case Csr.Medeleg: w[MEDELEG] = lo & DELEGABLE_EXCEPTIONS; return;
    case Csr.Mideleg: w[MIDELEG] = lo & SUPERVISOR_INTERRUPTS; return;
    case Csr.Mie: w[MIE] = lo & ALL_INTERRUPTS; return;
    case Csr.Mip: {
      let mask = SUPERVISOR_INTERRUPTS;
      if (w[MENVCFG + 1] & STCE) mask &= ~Mip.STIP;
      writeMipBits(w, mask, lo);
      return;
    }
    case Csr.Mtvec: writeTvec(h, MTVEC, lo, hi); return;
    case Csr.Mcounteren: w[MCOUNTEREN] = lo; return;
    case Csr.Menvcfg: w[MENVCFG] = lo & 1; w[MENVCFG + 1] = hi & STCE; return;
    case Csr.Mcountinhibit: w[MCOUNTINHIBIT] = lo & ~2; return;
    case Csr.Mscratch: set(h, I(Slot.Mscratch), lo, hi); return;
    case Csr.Mepc: set(h, I(Slot.Mepc), lo & ~1, hi); return;
    case Csr.Mcause: set(h, I(Slot.Mcause), lo, hi); return;
    case Csr.Mtval: set(h, I(Slot.Mtval), lo, hi); return;
    case Csr.Mcycle: set(h, CYCLE, lo, hi); return;
    case Csr.Minstret: set(h, INSTRET, lo, hi); return;
  }
  if (csr >= Csr.Pmpcfg0 && csr <= Csr.Pmpcfg15) {
    const first = (csr - Csr.Pmpcfg0) * 4;
    if (first >= PMP_ENTRIES) return;
    for (let i = 0; i < 8; i++) h.pmp.writeCfg(first + i, i < 4 ? (lo >>> (8 * i)) & 0xff : (hi >>> (8 * (i - 4))) & 0xff);
    h.flushTlb();
    return;
  }
  if (csr >= Csr.Pmpaddr0 && csr <= Csr.Pmpaddr63) {
    const i = csr - Csr.Pmpaddr0;
    if (i < PMP_ENTRIES) h.pmp.writeAddr(i, lo, hi);
    h.flushTlb();
    return;
  }
  // Counters, events, triggers, mseccfg: present but read-only zero here.
}

function set(h: Hart, index: number, lo: number, hi: number): void {
  h.w[index] = lo;
  h.w[index + 1] = hi;
}

function writeTvec(h: Hart, index: number, lo: number, hi: number): void {
  // Only direct (0) and vectored (1) modes exist; other modes leave the register alone.
  if ((lo & 3) >= 2) return;
  set(h, index, lo, hi);
}

function writeMstatus(h: Hart, v: number): void {
  const w = h.w;
  const old = w[MSTATUS];
  let nv = (old & ~MSTATUS_MASK) | (v & MSTATUS_MASK);
  // MPP = 2 is reserved: keep the previous mode.
  if (((nv >>> Ms.MPP_SHIFT) & 3) === 2) nv = (nv & ~Ms.MPP) | (old & Ms.MPP);
  w[MSTATUS] = nv;
  // SUM and the privilege MPRV selects pick a TLB context; MXR changes what a context allows.
  if ((old ^ nv) & Ms.MXR) h.flushTlb();
}

function dirtyFp(h: Hart): void {
  h.w[MSTATUS] |= Ms.FS;
}
