// Guest-physical RAM: host frames in one WebAssembly.Memory, reached through a P2M table
// (guest RAM page -> host frame) and tracked by a per-page dirty log. Today P2M is the
// identity; ballooning, sharing and swap will change P2M entries and flush TLBs, never
// the CPU.

import { atomicOps, type AtomicOps } from './atomics.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
const WASM_PAGE = 65536;
/** Bytes past RAM in the same WebAssembly.Memory for per-hart areas (state, TLB) and the
 *  translator's lookup table, so that
 *  translated code reaches registers, TLB and RAM through the one memory it imports. */
const PRIVATE_BYTES = 16 * WASM_PAGE;

/** P2M value for a guest page with no host frame behind it. */
export const NO_FRAME = -1;

/** What another thread needs to see the same guest memory (GuestMemory.attach): all of
 *  it lives in shared buffers, so P2M changes, the dirty log and private-area
 *  allocations are seen by every thread. */
export interface SharedGuestMemory {
  wasm: WebAssembly.Memory;
  base: number;
  size: number;
  p2m: SharedArrayBuffer;
  dirty: SharedArrayBuffer;
  /** One int32: the next free byte of the private area (allocated with Atomics.add). */
  privateNext: SharedArrayBuffer;
  /** Per host page: how many threads hold translated code of it (see codePages). */
  codeUnion: SharedArrayBuffer;
  /** Per host page: writes to it while it held code; then one int32, their total. */
  codeGen: SharedArrayBuffer;
}

export interface GuestMemoryOptions {
  /** A shared WebAssembly.Memory, for harts on several threads (needs SharedArrayBuffer). */
  shared?: boolean;
  /** Bytes past RAM for per-hart areas and translator tables (default: 1 MiB). */
  privateBytes?: number;
}

export class GuestMemory {
  readonly wasm: WebAssembly.Memory;
  readonly shared: boolean;
  /** Guest-physical address of the first byte of RAM. */
  readonly base: number;
  readonly size: number;
  readonly pages: number;
  /** P2M: host frame number of each guest RAM page, or NO_FRAME. */
  readonly p2m: Int32Array;
  /** Dirty log: 1 for each guest RAM page written since the log was last cleared. */
  readonly dirty: Uint8Array;
  /** 1 for each page that takeDirty took from the log: with the log, every page anything
   *  wrote since this memory was created (this thread's takes; the VM's thread takes). */
  private readonly taken: Uint8Array;
  u8!: Uint8Array;
  i8!: Int8Array;
  u16!: Uint16Array;
  i16!: Int16Array;
  i32!: Int32Array;
  dv!: DataView;
  /** Called when mappings or write tracking change so that TLBs drop stale entries. */
  onRemap: (() => void)[] = [];
  /** Host offset of the private area after RAM, its end, and the next free byte in it
   *  (one int32, shared between threads when the memory is). */
  readonly privateBase: number;
  private readonly privateEnd: number;
  private readonly privateNext: Int32Array;
  /** Pages holding translated code (set by the translator): no TLB write entry may map
   *  them, so every write reaches markDirty, which reports it through onCodeWrite. On a
   *  shared memory this is the union of every thread's translator (a count per page),
   *  and a write to such a page also bumps its generation in codeGen, which the other
   *  threads' translators compare at their next fence (Jit.syncForeignWrites). */
  codePages: Uint8Array | undefined;
  onCodeWrite: ((page: number) => void) | undefined;
  /** Shared memory only: per host page, writes to it while it held code; the last word
   *  (at index codeWrites) is the total, so a translator sees at once whether any came. */
  readonly codeGen: Int32Array | undefined;
  readonly codeWrites: number;
  /** FENCE.I was executed (the interpreter's; the translator syncs with other threads). */
  onFenceI: (() => void) | undefined;

  constructor(base: number, size: number, opts: GuestMemoryOptions = {}, from?: SharedGuestMemory) {
    if (size <= 0 || size % PAGE_SIZE !== 0) throw new RangeError('RAM size must be a positive multiple of 4 KiB');
    // Host offsets are int32 on the hot path.
    if (size > 0x80000000) throw new RangeError('RAM above 2 GiB is not supported yet');
    this.base = base;
    this.size = size;
    this.pages = size / PAGE_SIZE;
    this.privateBase = Math.ceil(size / WASM_PAGE) * WASM_PAGE;
    this.shared = from !== undefined || opts.shared === true;
    if (from) {
      this.wasm = from.wasm;
      this.privateEnd = from.wasm.buffer.byteLength;
      this.p2m = new Int32Array(from.p2m);
      this.dirty = new Uint8Array(from.dirty);
      this.privateNext = new Int32Array(from.privateNext);
      this.codePages = new Uint8Array(from.codeUnion);
      this.codeGen = new Int32Array(from.codeGen);
    } else {
      const privateBytes = Math.ceil((opts.privateBytes ?? PRIVATE_BYTES) / WASM_PAGE) * WASM_PAGE;
      const wasmPages = (this.privateBase + privateBytes) / WASM_PAGE;
      this.privateEnd = this.privateBase + privateBytes;
      this.wasm = new WebAssembly.Memory({ initial: wasmPages, maximum: wasmPages, shared: this.shared });
      const buffer = (bytes: number) => (this.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
      this.p2m = new Int32Array(buffer(this.pages * 4));
      for (let i = 0; i < this.pages; i++) this.p2m[i] = i;
      this.dirty = new Uint8Array(buffer(this.pages));
      this.privateNext = new Int32Array(buffer(4));
      this.privateNext[0] = this.privateBase;
      if (this.shared) {
        const hostPages = this.privateEnd >>> PAGE_SHIFT;
        this.codePages = new Uint8Array(new SharedArrayBuffer(hostPages));
        this.codeGen = new Int32Array(new SharedArrayBuffer((hostPages + 1) * 4));
      }
    }
    this.codeWrites = this.codeGen ? this.codeGen.length - 1 : 0;
    this.taken = new Uint8Array(this.pages);
    this.refreshViews();
  }

  private atomicsCache: AtomicOps | undefined;

  /** Host-atomic AMOs and compare-and-swap over this memory (the interpreter's). */
  get atomics(): AtomicOps {
    return (this.atomicsCache ??= atomicOps(this.wasm, this.shared));
  }

  /** The same guest memory in another thread, from what share() handed over. */
  static attach(d: SharedGuestMemory): GuestMemory {
    return new GuestMemory(d.base, d.size, {}, d);
  }

  /** What attach() needs in another thread (a shared memory only). */
  share(): SharedGuestMemory {
    if (!this.shared) throw new Error('guest memory is not shared: create it with { shared: true }');
    return {
      wasm: this.wasm,
      base: this.base,
      size: this.size,
      p2m: this.p2m.buffer as SharedArrayBuffer,
      dirty: this.dirty.buffer as SharedArrayBuffer,
      privateNext: this.privateNext.buffer as SharedArrayBuffer,
      codeUnion: (this.codePages as Uint8Array).buffer as SharedArrayBuffer,
      codeGen: (this.codeGen as Int32Array).buffer as SharedArrayBuffer,
    };
  }

  private refreshViews(): void {
    const buf = this.wasm.buffer;
    this.u8 = new Uint8Array(buf);
    this.i8 = new Int8Array(buf);
    this.u16 = new Uint16Array(buf);
    this.i16 = new Int16Array(buf);
    this.i32 = new Int32Array(buf);
    this.dv = new DataView(buf);
  }

  /** Host byte offset of a guest-physical address in RAM, or -1 when it is not RAM. */
  hostOffset(pa: number): number {
    const rel = pa - this.base;
    if (rel < 0 || rel >= this.size) return -1;
    const frame = this.p2m[Math.floor(rel / PAGE_SIZE)];
    if (frame === NO_FRAME) return -1;
    return frame * PAGE_SIZE + (rel % PAGE_SIZE);
  }

  /** Reserves `bytes` (64-byte aligned) in the private area; -1 when it is full. */
  allocPrivate(bytes: number): number {
    const step = (bytes + 63) & ~63;
    const at = Atomics.add(this.privateNext, 0, step);
    if (at + bytes > this.privateEnd) {
      Atomics.sub(this.privateNext, 0, step);
      return -1;
    }
    return at;
  }

  isRam(pa: number, size: number): boolean {
    return pa >= this.base && pa + size <= this.base + this.size;
  }

  markDirty(pa: number): void {
    const page = Math.floor((pa - this.base) / PAGE_SIZE);
    this.dirty[page] = 1;
    if (this.codePages !== undefined && this.codePages[page]) {
      if (this.codeGen) {
        Atomics.add(this.codeGen, page, 1);
        Atomics.add(this.codeGen, this.codeWrites, 1);
      }
      this.onCodeWrite?.(page);
    }
  }

  /** Whether anything may have written guest page `page` since this memory was created;
   *  a page never written is still zero (a fresh WebAssembly.Memory is). */
  everWritten(page: number): boolean {
    return this.dirty[page] !== 0 || this.taken[page] !== 0;
  }

  /** Returns the dirty pages' indices and clears the log; writable TLB entries are dropped. */
  takeDirty(): number[] {
    const out: number[] = [];
    const d = this.dirty;
    // indexOf scans natively: a migration takes the log with its guest paused, and a
    // JavaScript loop over 128 Ki pages runs cold there (2 ms, against 50 us).
    for (let i = d.indexOf(1); i >= 0; i = d.indexOf(1, i + 1)) {
      out.push(i);
      d[i] = 0;
      this.taken[i] = 1;
    }
    for (const f of this.onRemap) f();
    return out;
  }

  /** Pages in the log now, without taking them. */
  dirtyCount(): number {
    let n = 0;
    for (let i = this.dirty.indexOf(1); i >= 0; i = this.dirty.indexOf(1, i + 1)) n++;
    return n;
  }

  /** Copies bytes into guest-physical RAM (loaders, devices); marks pages dirty. */
  write(pa: number, data: Uint8Array): void {
    if (!this.isRam(pa, data.length)) throw new RangeError(`write of ${data.length} bytes at 0x${pa.toString(16)} is outside RAM`);
    for (let done = 0; done < data.length;) {
      const off = this.hostOffset(pa + done);
      const n = Math.min(PAGE_SIZE - ((pa + done) % PAGE_SIZE), data.length - done);
      this.u8.set(data.subarray(done, done + n), off);
      this.markDirty(pa + done);
      done += n;
    }
  }

  read(pa: number, len: number): Uint8Array {
    if (!this.isRam(pa, len)) throw new RangeError(`read of ${len} bytes at 0x${pa.toString(16)} is outside RAM`);
    const out = new Uint8Array(len);
    for (let done = 0; done < len;) {
      const off = this.hostOffset(pa + done);
      const n = Math.min(PAGE_SIZE - ((pa + done) % PAGE_SIZE), len - done);
      out.set(this.u8.subarray(off, off + n), done);
      done += n;
    }
    return out;
  }
}

/** Physical accesses that miss RAM go here (the machine's MMIO bus). */
export interface PhysBus {
  /** Reads `size` bytes (1, 2, 4 or 8) at a non-RAM address into out[0] (low word) and
   *  out[1] (high word). Returns false when nothing answers there (an access fault). */
  read(pa: number, size: number, out: Int32Array): boolean;
  write(pa: number, size: number, lo: number, hi: number): boolean;
}

export const NO_BUS: PhysBus = {
  read: () => false,
  write: () => false,
};
