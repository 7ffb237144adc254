// One RISC-V hart: its state buffer, software TLB and the slow paths the interpreter
// leaves to (TLB misses, MMIO, page-crossing accesses). The instruction loop itself is
// in interp.ts; CSRs in csr.ts; privilege transitions in priv.ts; page walks in mmu.ts.

import { buildRvcTable } from '../isa/rvc.js';
import { GuestMemory, NO_BUS, PhysBus } from './memory.js';
import { translate } from './mmu.js';
import { Access, Pmp } from './pmp.js';
import { HartState, Slot, slotIndex } from './state.js';
import { Cause, Ms, TRAP } from './trap.js';

/** The platform's clock: mtime in ticks of the timebase (10 MHz on the virt board). */
export interface TimeSource {
  mtime(): number;
}

/** Firmware emulated by the VMM in place of M-mode code (rvisor's own SBI): it sees every
 *  trap that would enter M-mode and may handle it, leaving the hart where it should resume. */
export interface MachineModeFirmware {
  /** Returns true when the trap was handled (pc and registers updated), false to take it in M-mode. */
  onTrap(h: Hart, cause: number, interrupt: boolean, pcLo: number, pcHi: number, tvalLo: number, tvalHi: number): boolean;
}

export const TLB_SIZE = 256;
/**
 * Translation contexts, so that privilege changes (every trap and xRET) and Linux's
 * toggling of sstatus.SUM around user accesses need no flush: each context has its own
 * sets, and only satp, SFENCE.VMA, MXR, PMP and remapping flush them all.
 */
export const enum TlbContext {
  User = 0,
  Supervisor = 1,
  SupervisorSum = 2,
  Machine = 3,
}
/** TLB sets: one per (context, access kind); set index = context * 3 + Access. */
const TLB_SETS = 4 * 3;
/** Never equal to a page address, nor to one masked with -4096 | (size - 1) as translated
 *  code compares it (bit 11 is never kept). */
export const INVALID_TAG = 0x800;

/**
 * A hart's area in guest RAM's WebAssembly.Memory (GuestMemory.allocPrivate), so that
 * translated code reaches state, TLB and RAM through one memory: the state buffer at 0,
 * 64 bytes of scratch for the translator, then the three TLB arrays.
 */
export const HART_SCRATCH = 1024;
/** The doorbell word (Hart.ring) and the attention word (Hart.poke), in the last two
 *  words of the translator's scratch; its exit flag is at +12 (jit/regs.ts). */
export const HART_DOORBELL = HART_SCRATCH + 60;
export const HART_ATTENTION = HART_SCRATCH + 56;
const HART_JIT_EXIT = HART_SCRATCH + 12;
export const HART_TLB = 1088;
/** Bytes of one TLB array (tag low, tag high, host offset), in that order from HART_TLB. */
export const TLB_ARRAY_BYTES = TLB_SETS * TLB_SIZE * 4;
const HART_AREA_BYTES = HART_TLB + 3 * TLB_ARRAY_BYTES;

export const PC = slotIndex(Slot.Pc);
export const PRIV = slotIndex(Slot.Priv);
export const MSTATUS = slotIndex(Slot.Mstatus);

let sharedRvcTable: Int32Array | undefined;

export interface HartOptions {
  hartId?: number;
  bus?: PhysBus;
  time?: TimeSource;
  /** Adopt this hart area of a shared memory, state and TLB as they are (the hart's own
   *  thread, over an area its board allocated), instead of allocating and resetting one. */
  area?: number;
}

export class Hart {
  readonly s: HartState;
  readonly x: Int32Array;
  readonly w: Int32Array;
  readonly mem: GuestMemory;
  bus: PhysBus;
  time: TimeSource;
  readonly pmp = new Pmp();
  /** RVC parcel -> 32-bit instruction (0 = illegal). */
  readonly rvc: Int32Array;

  // Software TLB: guest-virtual page -> host byte offset, per access kind. An entry exists
  // only once every permission check for that kind passed for the whole page, and (for
  // writes) the page is marked in the dirty log.
  readonly tlbTagLo: Int32Array;
  readonly tlbTagHi: Int32Array;
  readonly tlbHost: Int32Array;
  /** Per-set views of the TLB arrays, so the interpreter indexes a set without an offset. */
  readonly tlbSets: { tagLo: Int32Array; tagHi: Int32Array; host: Int32Array }[];
  /** Offset of this hart's area in mem.wasm (see HART_SCRATCH), or -1 when the state
   *  lives in its own buffer (the private area was full) and the translator cannot run. */
  readonly area: number;
  /** The page instructions are being fetched from (a one-entry cache in front of the TLB). */
  fetchTagLo = INVALID_TAG;
  fetchTagHi = 0;
  fetchHost = 0;

  /** The pending exception, set just before TRAP is thrown. */
  trapCause = 0;
  trapTvalLo = 0;
  trapTvalHi = 0;
  /** High word of the last slow-path load. */
  ldHi = 0;
  /** Set by WFI with nothing pending; cleared when an interrupt becomes pending. */
  waiting = false;
  /** Asks the interpreter to leave its loop at the next instruction boundary. */
  stopRequested = false;
  readonly busOut = new Int32Array(2);
  /** Virtual M-mode firmware, when the machine runs without real firmware. */
  firmware: MachineModeFirmware | undefined;
  /** One int32 in the hart's area that its thread sleeps on (see ring()). */
  readonly doorbell: Int32Array;
  /** Non-zero: another thread wants this hart's thread to look up from running guest
   *  code (an interrupt, a remote fence): execute() and runJit() return early. */
  readonly attention: Int32Array;
  private readonly jitExit: Int32Array;

  constructor(mem: GuestMemory, opts: HartOptions = {}) {
    this.area = opts.area ?? mem.allocPrivate(HART_AREA_BYTES);
    const buf = this.area >= 0 ? mem.wasm.buffer : new ArrayBuffer(HART_AREA_BYTES);
    const base = this.area >= 0 ? this.area : 0;
    this.s = new HartState(buf, base);
    const n = TLB_SETS * TLB_SIZE;
    this.tlbTagLo = new Int32Array(buf, base + HART_TLB, n);
    // An adopted area's TLB is its thread's, in use: a view must not flush it.
    if (opts.area === undefined) this.tlbTagLo.fill(INVALID_TAG);
    this.tlbTagHi = new Int32Array(buf, base + HART_TLB + TLB_ARRAY_BYTES, n);
    this.tlbHost = new Int32Array(buf, base + HART_TLB + 2 * TLB_ARRAY_BYTES, n);
    this.tlbSets = Array.from({ length: TLB_SETS }, (_, i) => ({
      tagLo: this.tlbTagLo.subarray(i * TLB_SIZE, (i + 1) * TLB_SIZE),
      tagHi: this.tlbTagHi.subarray(i * TLB_SIZE, (i + 1) * TLB_SIZE),
      host: this.tlbHost.subarray(i * TLB_SIZE, (i + 1) * TLB_SIZE),
    }));
    this.x = this.s.x;
    this.w = this.s.w;
    this.doorbell = this.area >= 0 ? new Int32Array(buf, base + HART_DOORBELL, 1) : new Int32Array(0);
    this.attention = this.area >= 0 ? new Int32Array(buf, base + HART_ATTENTION, 1) : new Int32Array(1);
    this.jitExit = this.area >= 0 ? new Int32Array(buf, base + HART_JIT_EXIT, 1) : new Int32Array(1);
    this.mem = mem;
    this.bus = opts.bus ?? NO_BUS;
    this.time = opts.time ?? { mtime: () => 0 };
    this.rvc = sharedRvcTable ??= buildRvcTable();
    mem.onRemap.push(() => this.flushTlb());
    if (opts.area === undefined) this.reset(opts.hartId ?? 0);
  }

  reset(hartId: number): void {
    this.s.w.fill(0);
    const w = this.w;
    w[PRIV] = 3;
    // MXL = 64 in misa; UXL = SXL = 64 in mstatus.
    w[slotIndex(Slot.Misa)] = misaExtensions();
    w[slotIndex(Slot.Misa) + 1] = 0x80000000 | 0;
    w[MSTATUS + 1] = 0xa;
    w[slotIndex(Slot.Mhartid)] = hartId;
    w[slotIndex(Slot.Reservation) + 1] = -1;
    w[slotIndex(Slot.Stimecmp)] = -1;
    w[slotIndex(Slot.Stimecmp) + 1] = -1;
    this.pmp.reset();
    this.waiting = false;
    this.flushTlb();
  }

  get pc(): bigint {
    return this.s.get64(Slot.Pc);
  }

  set pc(v: bigint) {
    this.s.set64(Slot.Pc, v);
  }

  get priv(): number {
    return this.w[PRIV];
  }

  set priv(p: number) {
    this.w[PRIV] = p;
    this.invalidateFetch();
  }

  /** Drives an interrupt input (a mip bit such as MTIP or SEIP) from a platform device,
   *  which may run on another thread than the hart: the update is atomic, and a raised
   *  line rings the hart's doorbell, waking its thread from WFI. */
  setInterrupt(mipBit: number, level: boolean): void {
    const i = slotIndex(Slot.Mip);
    if (level) {
      if (this.w[i] & mipBit) return;
      Atomics.or(this.w, i, mipBit);
      // On its own thread the hart may be running guest code: make it look now.
      if (this.mem.shared) this.poke();
      else this.ring();
    } else if (this.w[i] & mipBit) {
      Atomics.and(this.w, i, ~mipBit);
    }
  }

  /** Asks the hart's thread to return from guest code at the next block boundary and
   *  look at what it was asked (attention), and wakes it if it sleeps. Translated code
   *  sees the exit flag; the runtime clears that flag before each call, so it looks at
   *  attention after clearing (runJit). */
  poke(): void {
    Atomics.store(this.attention, 0, 1);
    Atomics.store(this.jitExit, 0, 1);
    this.ring();
  }

  /** Wakes the hart's thread if it sleeps in WFI (or parked): bumps the doorbell word
   *  that its thread waits on. Without threads nobody waits and this costs an add. */
  ring(): void {
    if (this.doorbell.length === 0) return;
    Atomics.add(this.doorbell, 0, 1);
    if (this.mem.shared) Atomics.notify(this.doorbell, 0);
  }

  flushTlb(): void {
    this.tlbTagLo.fill(INVALID_TAG);
    this.fetchTagLo = INVALID_TAG;
    this.superRegions.clear();
    this.hugeLeaves = false;
  }

  /** SFENCE.VMA with an address: drops that page's entries in every set, unless a
   *  superpage (whose other 4 KiB entries hold the same leaf) may map it, as QEMU does. */
  flushTlbPage(vaLo: number, vaHi: number): void {
    if (this.hugeLeaves || this.superRegions.has(regionKey(vaLo, vaHi))) {
      this.flushTlb();
      return;
    }
    const tag = vaLo & -4096;
    const i = (vaLo >>> 12) & (TLB_SIZE - 1);
    for (let t = i; t < TLB_SETS * TLB_SIZE; t += TLB_SIZE) {
      if (this.tlbTagLo[t] === tag && this.tlbTagHi[t] === vaHi) this.tlbTagLo[t] = INVALID_TAG;
    }
    this.fetchTagLo = INVALID_TAG;
  }

  /** Drops every write entry that maps host page `page` (it now holds translated code,
   *  and writes to it must take the slow path so that they invalidate the translation). */
  dropWriteEntries(page: number): void {
    for (let c = 0; c < 4; c++) {
      const first = Hart.tlbSet(c, Access.Write);
      for (let t = first; t < first + TLB_SIZE; t++) {
        if (this.tlbTagLo[t] !== INVALID_TAG && (this.tlbHost[t] + (this.tlbTagLo[t] & 0xfff)) >>> 12 === page) this.tlbTagLo[t] = INVALID_TAG;
      }
    }
  }

  /** Drops the fetch page (the privilege changed, so fetches use another context). */
  invalidateFetch(): void {
    this.fetchTagLo = INVALID_TAG;
  }

  /** The TLB context of loads and stores now. */
  dataContext(): TlbContext {
    const p = this.dataPriv();
    if (p === 3) return TlbContext.Machine;
    if (p === 0) return TlbContext.User;
    return this.w[MSTATUS] & Ms.SUM ? TlbContext.SupervisorSum : TlbContext.Supervisor;
  }

  /** First TLB index of the set for (context, access). */
  static tlbSet(context: TlbContext, access: Access): number {
    return (context * 3 + access) * TLB_SIZE;
  }

  /** Records an exception and unwinds to the interpreter loop. */
  raise(cause: number, tvalLo = 0, tvalHi = 0): never {
    this.trapCause = cause;
    this.trapTvalLo = tvalLo;
    this.trapTvalHi = tvalHi;
    throw TRAP;
  }

  /** Privilege used for loads and stores (MPRV makes M-mode act as MPP). */
  dataPriv(): number {
    const p = this.w[PRIV];
    const ms = this.w[MSTATUS];
    if (p === 3 && (ms & Ms.MPRV)) return (ms >>> Ms.MPP_SHIFT) & 3;
    return p;
  }

  /** Level of the leaf PTE of the last translate() (0: a 4 KiB page or no paging). */
  leafLevel = 0;
  /** 1 GiB regions of the address space holding TLB entries made from 2 MiB and 1 GiB
   *  pages; larger leaves (512 GiB and up) span many regions, so any entry from one makes
   *  every flush by address a full flush. */
  private readonly superRegions = new Set<number>();
  private hugeLeaves = false;

  /** Host offset for an access that does not cross a page, filling the TLB when allowed;
   *  -1 when the address is not RAM (the physical address is then in `mmioPa`). */
  mmioPa = 0;
  private hostFor(vaLo: number, vaHi: number, size: number, access: Access): number {
    const priv = access === Access.Fetch ? this.w[PRIV] : this.dataPriv();
    const context = access === Access.Fetch ? fetchContext(priv) : this.dataContext();
    const t = Hart.tlbSet(context, access) + ((vaLo >>> 12) & (TLB_SIZE - 1));
    if (access === Access.Fetch && this.tlbTagLo[t] === (vaLo & -4096) && this.tlbTagHi[t] === vaHi) {
      // A fetch-TLB hit: the page was checked when the entry was made.
      this.fetchTagLo = vaLo & -4096;
      this.fetchTagHi = vaHi;
      this.fetchHost = this.tlbHost[t];
      return this.fetchHost + (vaLo & 0xfff);
    }
    const pa = translate(this, vaLo, vaHi, access, priv);
    const host = this.mem.hostOffset(pa);
    if (!this.pmp.check(pa, size, access, priv)) this.raise(accessFault(access), vaLo, vaHi);
    if (host < 0) {
      this.mmioPa = pa;
      return -1;
    }
    const pagePa = pa - (vaLo & 0xfff);
    // Pages with translated code get no write entry: their writes must reach markDirty.
    const codePages = this.mem.codePages;
    const code = access === Access.Write && codePages !== undefined && codePages[host >>> 12] !== 0;
    this.codeWrite = code;
    this.codeWritePa = pa;
    if (!code && this.pmp.check(pagePa, 4096, access, priv)) {
      if (access === Access.Write) this.mem.markDirty(pa);
      if (this.leafLevel > 2) this.hugeLeaves = true;
      else if (this.leafLevel > 0) this.superRegions.add(regionKey(vaLo, vaHi));
      this.tlbTagLo[t] = vaLo & -4096;
      this.tlbTagHi[t] = vaHi;
      this.tlbHost[t] = host - (vaLo & 0xfff);
      // Another thread may have translated the page meanwhile and dropped write entries
      // before this one was in: looking again after installing it closes that window.
      if (access === Access.Write && this.mem.shared && Atomics.load(codePages as Uint8Array, host >>> 12) !== 0) {
        this.tlbTagLo[t] = INVALID_TAG;
        this.codeWrite = true;
        this.mem.markDirty(pa);
      }
      if (access === Access.Fetch) {
        this.fetchTagLo = vaLo & -4096;
        this.fetchTagHi = vaHi;
        this.fetchHost = host - (vaLo & 0xfff);
      }
    } else if (access === Access.Write) {
      this.mem.markDirty(pa);
    }
    return host;
  }

  /** Loads `size` bytes (zero-extended; high word in ldHi) on a TLB miss. */
  loadSlow(vaLo: number, vaHi: number, size: number): number {
    if ((vaLo & 0xfff) + size > 4096) return this.crossingLoad(vaLo, vaHi, size);
    const host = this.hostFor(vaLo, vaHi, size, Access.Read);
    const m = this.mem;
    this.ldHi = 0;
    if (host < 0) {
      if (!this.bus.read(this.mmioPa, size, this.busOut)) this.raise(Cause.LoadAccessFault, vaLo, vaHi);
      const lo = this.busOut[0];
      if (size === 8) { this.ldHi = this.busOut[1]; return lo; }
      return size === 4 ? lo : lo & ((1 << (size * 8)) - 1);
    }
    switch (size) {
      case 1: return m.u8[host];
      case 2: return m.dv.getUint16(host, true);
      case 4: return m.dv.getInt32(host, true);
      default:
        this.ldHi = m.dv.getInt32(host + 4, true);
        return m.dv.getInt32(host, true);
    }
  }

  private crossingLoad(vaLo: number, vaHi: number, size: number): number {
    let lo = 0, hi = 0;
    for (let i = size - 1; i >= 0; i--) {
      const aLo = (vaLo + i) | 0;
      const aHi = (aLo >>> 0) < (vaLo >>> 0) ? (vaHi + 1) | 0 : vaHi;
      const b = this.loadSlow(aLo, aHi, 1);
      if (i >= 4) hi |= b << ((i - 4) * 8);
      else lo |= b << (i * 8);
    }
    this.ldHi = hi;
    return lo;
  }

  /** Set by the last write lookup: the page holds translated code, and the address. */
  private codeWrite = false;
  private codeWritePa = 0;

  /** Stores on a TLB miss. */
  storeSlow(vaLo: number, vaHi: number, size: number, lo: number, hi: number): void {
    if ((vaLo & 0xfff) + size > 4096) {
      // Translate every byte first so that a fault leaves memory untouched.
      for (let i = 0; i < size; i++) this.probeWrite((vaLo + i) | 0, (((vaLo + i) | 0) >>> 0) < (vaLo >>> 0) ? (vaHi + 1) | 0 : vaHi);
      for (let i = 0; i < size; i++) {
        const aLo = (vaLo + i) | 0;
        const aHi = (aLo >>> 0) < (vaLo >>> 0) ? (vaHi + 1) | 0 : vaHi;
        const b = i >= 4 ? hi >>> ((i - 4) * 8) : lo >>> (i * 8);
        this.storeSlow(aLo, aHi, 1, b & 0xff, 0);
      }
      return;
    }
    const host = this.hostFor(vaLo, vaHi, size, Access.Write);
    if (host < 0) {
      if (!this.bus.write(this.mmioPa, size, lo, hi)) this.raise(Cause.StoreAccessFault, vaLo, vaHi);
      return;
    }
    this.writeHost(host, size, lo, hi);
    // A write to code on a shared memory counts again once it has landed: a translator on
    // another thread that re-read the page between the first count and the store sees
    // this one (the first dropped this thread's own translation before the store).
    if (this.codeWrite && this.mem.shared) this.mem.markDirty(this.codeWritePa);
  }

  private probeWrite(vaLo: number, vaHi: number): void {
    const priv = this.dataPriv();
    const pa = translate(this, vaLo, vaHi, Access.Write, priv);
    if (!this.pmp.check(pa, 1, Access.Write, priv)) this.raise(Cause.StoreAccessFault, vaLo, vaHi);
  }

  writeHost(host: number, size: number, lo: number, hi: number): void {
    const dv = this.mem.dv;
    switch (size) {
      case 1: this.mem.u8[host] = lo; break;
      case 2: dv.setUint16(host, lo, true); break;
      case 4: dv.setInt32(host, lo, true); break;
      default: dv.setInt32(host, lo, true); dv.setInt32(host + 4, hi, true);
    }
  }

  /** Host offset of RAM for an atomic read-modify-write (AMOs and SC need write permission). */
  amoHost(vaLo: number, vaHi: number, size: number): number {
    if (vaLo & (size - 1)) this.raise(Cause.StoreMisaligned, vaLo, vaHi);
    const host = this.hostFor(vaLo, vaHi, size, Access.Write);
    if (host < 0) this.raise(Cause.StoreAccessFault, vaLo, vaHi);
    return host;
  }

  /** Host offset of the instruction parcel at pc (fills the fetch cache when it can). */
  fetchSlow(pcLo: number, pcHi: number): number {
    const host = this.hostFor(pcLo, pcHi, 2, Access.Fetch);
    if (host < 0) this.raise(Cause.InsnAccessFault, pcLo, pcHi);
    return host;
  }

  /** The upper half of a 32-bit instruction that starts in the last two bytes of a page. */
  fetchUpperHalf(pcLo: number, pcHi: number): number {
    const aLo = (pcLo + 2) | 0;
    const aHi = (aLo >>> 0) < (pcLo >>> 0) ? (pcHi + 1) | 0 : pcHi;
    const saveLo = this.fetchTagLo, saveHi = this.fetchTagHi, saveHost = this.fetchHost;
    const host = this.fetchSlow(aLo, aHi);
    this.fetchTagLo = saveLo; this.fetchTagHi = saveHi; this.fetchHost = saveHost;
    return this.mem.u16[host >>> 1];
  }
}

/** The 1 GiB region of a virtual address, as a number. */
function regionKey(vaLo: number, vaHi: number): number {
  return vaHi * 4 + (vaLo >>> 30);
}

function fetchContext(priv: number): TlbContext {
  return priv === 3 ? TlbContext.Machine : priv === 0 ? TlbContext.User : TlbContext.Supervisor;
}

export function accessFault(access: Access): number {
  return access === Access.Fetch ? Cause.InsnAccessFault : access === Access.Write ? Cause.StoreAccessFault : Cause.LoadAccessFault;
}

export function pageFault(access: Access): number {
  return access === Access.Fetch ? Cause.InsnPageFault : access === Access.Write ? Cause.StorePageFault : Cause.LoadPageFault;
}

/** misa extension bits for RV64IMAFDC with S and U modes. */
function misaExtensions(): number {
  const bit = (c: string) => 1 << (c.charCodeAt(0) - 65);
  return bit('I') | bit('M') | bit('A') | bit('F') | bit('D') | bit('C') | bit('S') | bit('U');
}
