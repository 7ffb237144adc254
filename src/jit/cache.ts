// The translation cache of one guest RAM (shared by its harts: translated code takes the
// hart's state and TLB addresses as arguments). Entries are keyed by host offset, i.e.
// physical address, so satp writes and SFENCE.VMA cost nothing here: the runtime maps the
// pc through the fetch TLB before every entry. When a block of a page gets hot, the page's
// blocks not yet compiled form one module (earlier ones stay as they are), each block a
// function in its own slot of the dispatcher's table. A write to the page (seen by
// GuestMemory.markDirty, since code pages get no TLB write entries) drops the page.
//
// Pages out of use go (V8 keeps each module's bytes and machine code until its functions
// leave the table): every ageMs of host time, those not entered during the last period;
// and when the modules reach maxCodeBytes, the ones entered least recently until half the
// bound is left. A booted, idle guest so holds its working set, not every page its boot
// ran (a Debian boot compiles some 60 MB of modules, which V8 turns into about 190 MB of
// machine code). A period rather than a smaller bound: the boot reuses much of its code
// only seconds later, and a 16 MB bound made it recompile 65 MB more and boot 40% slower.

import { HART_SCRATCH, Hart } from '../cpu/hart.js';
import type { GuestMemory } from '../cpu/memory.js';
import { CallFn, LOOKUP_BYTES, LOOKUP_ENTRIES, dispatcherModule } from './dispatch.js';
import { BLOCK_EXPORT, BlockCode, CompiledBlock, buildModule } from './module.js';
import { scanBlock } from './scan.js';
import { slowPaths } from './slow.js';


export interface Entry {
  /** Instructions the interpreter runs for this entry while it is cold. */
  interpCount: number;
  /** Translatable instructions from here (0: never translated). */
  trans: number;
  hits: number;
  /** Instructions the interpreter runs from here when the entry repeats back to back
   *  (a loop the translator cannot take, e.g. FP): grows so the loop stays in execute(). */
  stretch: number;
  /** The block function's slot in the dispatcher's table once compiled (else -1). */
  slot: number;
}

interface Page {
  /** By offset in the page / 2; a Map, since a page holds a few dozen entries of 2048. */
  entries: Map<number, Entry>;
  /** Writes to the page are watched (it holds or is getting translations). */
  compiled: boolean;
  /** An asynchronous compilation is under way. */
  pending: boolean;
  /** Size of the modules compiled for the page. */
  codeBytes: number;
  /** The value of the cache's clock when the runtime last entered the page. */
  usedAt: number;
}

export interface JitCounters {
  blocksTranslated: number;
  modulesCompiled: number;
  compileMs: number;
  /** Size of the modules compiled. */
  wasmBytes: number;
  /** Entries into translated code from the runtime loop. */
  cacheHits: number;
  /** Blocks run by the interpreter (cold or untranslatable). */
  interpreted: number;
  /** ... of which began with an instruction the translator leaves to the interpreter. */
  untranslatable: number;
  invalidations: number;
  /** Pages dropped by aging or a trim (out of use). */
  evictions: number;
  flushes: number;
  /** Exceptions raised by translated code (slow-path loads and stores). */
  faults: number;
  /** Modules the engine refused to compile (their blocks are interpreted). */
  compileErrors: number;
}


export class Jit {
  /** Executions of an entry before its page is (re)compiled. */
  threshold = 50;
  /** Size of live modules at which the cache is trimmed (see the top of this file). */
  maxCodeBytes = 64 << 20;
  /** Pages not entered for this long (host time) are dropped. */
  ageMs = 10_000;
  /** Compile in the background (WebAssembly.compile) and install the module when the host's
   *  event loop next runs: for machines that yield to it; synchronous callers (tests,
   *  runSync) would never see the result. */
  asyncCompile = false;
  /** Asynchronous compilations under way: their modules are installed when the host's
   *  event loop runs, so the machine yields to it sooner while there are any. */
  pendingCompiles = 0;
  readonly counters: JitCounters = {
    blocksTranslated: 0, modulesCompiled: 0, compileMs: 0, wasmBytes: 0, cacheHits: 0, interpreted: 0, untranslatable: 0, invalidations: 0, evictions: 0, flushes: 0, faults: 0, compileErrors: 0,
  };
  private pages = new Map<number, Page>();
  /** The last page looked up (most block boundaries stay in one page). */
  private lastPn = -1;
  private lastPage: Page | undefined;
  /** Size of the modules of the pages in the cache. */
  private codeBytes = 0;
  /** Counts compilations: the time by which pages' last use is told. */
  private clock = 0;
  /** The clock at the start of the aging period, and when (host ms) that was. */
  private periodStart = 0;
  private agedAt = performance.now();
  /** Size of the modules aging dropped since the engine was last asked to collect. */
  private agedBytes = 0;
  private readonly harts = new Set<Hart>();
  private readonly code: Uint8Array;
  /** The hart running translated code, and its scratch words (slow-path results, exit flag). */
  cur: Hart | undefined;
  scr: Int32Array = new Int32Array(16);
  private readonly imports: WebAssembly.Imports;
  private readonly table = new WebAssembly.Table({ element: 'anyfunc', initial: 1024 });
  private nextSlot = 0;
  /** Counts flushes, which take back every table slot. */
  private generation = 0;
  /** Slots of invalidated pages, emptied so their modules can be collected. */
  private freeSlots: number[] = [];
  readonly call: CallFn;
  /** The dispatcher's lookup table (see dispatch.ts), 4 words per entry. */
  private readonly lookupBase: number;
  private readonly lookup: Int32Array;

  /** Harts of other threads on a shared memory: when this cache translates a page, their
   *  write entries for it go too (their TLBs are in the shared memory). */
  peers: readonly Hart[] = [];
  /** Shared memory: the page's write generation when this cache translated it. */
  private readonly genAt = new Map<number, number>();
  /** The total of code writes when this cache last looked (syncForeignWrites). */
  private seenWrites = 0;

  constructor(readonly mem: GuestMemory) {
    this.code = new Uint8Array(mem.wasm.buffer.byteLength >>> 12);
    // On a shared memory the memory's own union of all threads' code pages stays.
    if (!mem.shared) mem.codePages = this.code;
    mem.onCodeWrite = (page) => { if (this.code[page]) this.invalidate(page); };
    mem.onFenceI = () => this.syncForeignWrites();
    this.imports = { e: { m: mem.wasm, ...slowPaths(this) } };
    this.lookupBase = mem.allocPrivate(LOOKUP_BYTES);
    this.lookup = new Int32Array(mem.wasm.buffer, Math.max(this.lookupBase, 0), this.lookupBase < 0 ? 0 : LOOKUP_BYTES / 4);
    const d = new WebAssembly.Instance(new WebAssembly.Module(dispatcherModule(this.lookupBase, mem.shared)), { e: { m: mem.wasm, t: this.table } });
    this.call = d.exports.call as CallFn;
  }

  private allocSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (this.nextSlot === this.table.length) this.table.grow(this.table.length);
    return this.nextSlot++;
  }

  /** Makes the block at host offset `pa` reachable from the dispatcher's loop. */
  publish(pa: number, e: Entry): void {
    if (this.lookup.length === 0) return;
    const i = ((pa >>> 1) & (LOOKUP_ENTRIES - 1)) * 4;
    this.lookup[i] = pa + 1;
    this.lookup[i + 1] = e.slot;
    this.lookup[i + 3] = e.trans;
  }

  /** The runtime calls this now and then: once a period has passed, drops the pages not
   *  entered during it. */
  age(now: number): void {
    if (now - this.agedAt < this.ageMs) return;
    this.agedAt = now;
    this.collectUsedMarks();
    for (const [pn, p] of [...this.pages]) {
      if (p.usedAt >= this.periodStart) continue;
      this.agedBytes += p.codeBytes;
      this.drop(pn);
      this.counters.evictions++;
    }
    this.periodStart = ++this.clock;
    if (this.agedBytes >= RECLAIM_BYTES && reclaimHook) {
      this.agedBytes = 0;
      reclaimHook();
    }
  }

  /** Pages the dispatcher chained into since the last look count as used now. */
  private collectUsedMarks(): void {
    for (const [pn, p] of this.pages) {
      if (p.codeBytes === 0) continue;
      for (const [i, e] of p.entries) {
        if (e.slot >= 0 && this.takeUsedMark((pn << 12) + 2 * i)) p.usedAt = this.clock;
      }
    }
  }

  /** Whether the dispatcher chained into the block at `pa` since the last call. */
  private takeUsedMark(pa: number): boolean {
    if (this.lookup.length === 0) return false;
    const i = ((pa >>> 1) & (LOOKUP_ENTRIES - 1)) * 4;
    if (this.lookup[i] !== pa + 1 || this.lookup[i + 2] === 0) return false;
    this.lookup[i + 2] = 0;
    return true;
  }

  private unpublish(pa: number): void {
    if (this.lookup.length === 0) return;
    const i = ((pa >>> 1) & (LOOKUP_ENTRIES - 1)) * 4;
    if (this.lookup[i] === pa + 1) this.lookup[i] = 0;
  }

  /** Makes `h` the hart that translated code runs on (and one whose TLB this cache manages). */
  enter(h: Hart): void {
    if (this.cur === h) return;
    this.harts.add(h);
    this.cur = h;
    this.scr = new Int32Array(this.mem.wasm.buffer, h.area + HART_SCRATCH, 16);
  }

  /** The entry at host offset `host`, scanned on first sight. */
  entry(host: number): Entry {
    const pn = host >>> 12;
    let p = pn === this.lastPn ? this.lastPage : this.pages.get(pn);
    if (p === undefined) {
      p = { entries: new Map(), compiled: false, pending: false, codeBytes: 0, usedAt: this.clock };
      this.pages.set(pn, p);
    }
    this.lastPn = pn;
    this.lastPage = p;
    p.usedAt = this.clock;
    const i = (host & 0xfff) >>> 1;
    let e = p.entries.get(i);
    if (e === undefined) {
      const s = scanBlock(this.mem.u16, (this.cur as Hart).rvc, host);
      e = { interpCount: s.interpCount, trans: s.insns.length, hits: 0, stretch: s.interpCount, slot: -1 };
      p.entries.set(i, e);
    }
    return e;
  }

  /** Translates the known blocks of the page holding `host` that have no translation yet
   *  into one module. */
  compile(host: number): void {
    const pn = host >>> 12;
    const p = this.pages.get(pn);
    if (p === undefined || p.pending) return;
    const t0 = performance.now();
    if (this.codeBytes >= this.maxCodeBytes) this.trim(pn);
    this.clock++;
    // From here on writes to the page invalidate it (and so the module being built);
    // marked before the page is read, so that another thread's write in between counts.
    if (!p.compiled) this.markCode(pn);
    const blocks: BlockCode[] = [];
    const owners: Entry[] = [];
    const rvc = (this.cur as Hart).rvc;
    p.entries.forEach((e, i) => {
      if (e === undefined || e.trans === 0 || e.slot >= 0) return;
      const pa = (pn << 12) + 2 * i;
      // Decoded afresh: the page was not watched for writes before it held code.
      const s = scanBlock(this.mem.u16, rvc, pa);
      e.interpCount = s.interpCount;
      e.trans = s.insns.length;
      if (e.trans === 0) return;
      blocks.push({ pa, insns: s.insns, lens: s.lens, slot: this.allocSlot() });
      owners.push(e);
    });
    if (blocks.length === 0) return;
    p.compiled = true;
    const compiled = (pa: number): CompiledBlock | undefined => {
      if (pa >>> 12 !== pn) return undefined;
      const e = p.entries.get((pa & 0xfff) >>> 1);
      return e !== undefined && e.slot >= 0 ? e : undefined;
    };
    const bytes = buildModule(blocks, compiled, this.lookup.length > 0 ? this.lookupBase : -1, this.mem.shared);
    this.counters.wasmBytes += bytes.length;
    p.codeBytes += bytes.length;
    this.codeBytes += bytes.length;
    this.counters.blocksTranslated += blocks.length;
    this.counters.modulesCompiled++;
    const generation = this.generation;
    const install = (mod: WebAssembly.Module) => {
      // A flush meanwhile gave every slot out afresh: these are not ours any more.
      if (this.generation !== generation) return;
      if (this.pages.get(pn) !== p) {
        // Invalidated meanwhile: the slots were never filled.
        for (const bl of blocks) this.freeSlots.push(bl.slot);
        return;
      }
      let exp: WebAssembly.Exports;
      try {
        exp = new WebAssembly.Instance(mod, this.imports).exports;
      } catch {
        refused();
        return;
      }
      owners.forEach((e, i) => {
        e.slot = blocks[i].slot;
        this.table.set(e.slot, exp[BLOCK_EXPORT(i)]);
        this.publish(blocks[i].pa, e);
      });
    };
    /** A module the engine refuses (a translator bug, never the guest's doing): its
     *  blocks stay with the interpreter, which is exact, rather than ending the VMM. */
    const refused = () => {
      this.counters.compileErrors++;
      if (this.generation !== generation) return;
      for (const bl of blocks) this.freeSlots.push(bl.slot);
      for (const e of owners) e.trans = 0;
    };
    if (this.asyncCompile) {
      // Compiled on the engine's background threads while the interpreter goes on.
      p.pending = true;
      this.pendingCompiles++;
      WebAssembly.compile(bytes).then((mod) => {
        p.pending = false;
        this.pendingCompiles--;
        const t1 = performance.now();
        install(mod);
        this.counters.compileMs += performance.now() - t1;
      }, () => {
        p.pending = false;
        this.pendingCompiles--;
        refused();
      });
    } else {
      let mod: WebAssembly.Module;
      try {
        mod = new WebAssembly.Module(bytes);
      } catch {
        refused();
        return;
      }
      install(mod);
    }
    this.counters.compileMs += performance.now() - t0;
  }

  /** A write reached a page with translated code: forget the page. */
  invalidate(page: number): void {
    this.drop(page);
    this.counters.invalidations++;
  }

  /** Forgets the page's entries and translations (their modules become garbage). */
  private drop(page: number): void {
    const p = this.pages.get(page);
    if (p !== undefined) {
      p.entries.forEach((e, i) => {
        if (e.slot < 0) return;
        this.unpublish((page << 12) + 2 * i);
        // Safe while its code runs: the exit flag below stops chaining into other slots.
        this.table.set(e.slot, null);
        this.freeSlots.push(e.slot);
      });
      this.codeBytes -= p.codeBytes;
      this.pages.delete(page);
    }
    this.lastPn = -1;
    this.unmarkCode(page);
    // Translated code still running returns at its next block boundary.
    this.scr[3] = 1;
  }

  /** The cache is full: drops the pages entered least recently (never `keep`, the one
   *  being compiled) until half the bound is left. Pages without code go with them. */
  private trim(keep: number): void {
    this.collectUsedMarks();
    const byAge = [...this.pages].filter(([pn]) => pn !== keep).sort(([, p], [, q]) => p.usedAt - q.usedAt);
    for (const [pn] of byAge) {
      if (this.codeBytes <= this.maxCodeBytes / 2) break;
      this.drop(pn);
      this.counters.evictions++;
    }
  }

  /** Page `pn` holds translated code from now on: no write entry may map it, in any
   *  hart's TLB (other threads' too), and on a shared memory it joins the union. */
  private markCode(pn: number): void {
    if (this.code[pn]) return;
    this.code[pn] = 1;
    const shared = this.mem.shared ? this.mem.codePages : undefined;
    if (shared && this.mem.codeGen) {
      Atomics.add(shared, pn, 1);
      this.genAt.set(pn, Atomics.load(this.mem.codeGen, pn));
    }
    for (const h of this.harts) h.dropWriteEntries(pn);
    for (const h of this.peers) h.dropWriteEntries(pn);
  }

  private unmarkCode(pn: number): void {
    if (!this.code[pn]) return;
    this.code[pn] = 0;
    const shared = this.mem.shared ? this.mem.codePages : undefined;
    if (shared) {
      Atomics.sub(shared, pn, 1);
      this.genAt.delete(pn);
    }
  }

  /** Shared memory: forgets the translations of pages that other threads (or devices)
   *  wrote since they were made. A fence (FENCE.I, a remote fence) calls it, so the
   *  hart sees code another hart wrote before the fence, as RISC-V requires. */
  syncForeignWrites(): void {
    const gen = this.mem.codeGen;
    if (!gen) return;
    const writes = Atomics.load(gen, this.mem.codeWrites);
    if (writes === this.seenWrites) return;
    this.seenWrites = writes;
    for (const [pn, at] of [...this.genAt]) if (Atomics.load(gen, pn) !== at) this.invalidate(pn);
  }

  /** The counters under the names `info jit` shows. */
  stats(): Record<string, number> {
    const c = this.counters;
    return {
      'blocks translated': c.blocksTranslated,
      'modules compiled': c.modulesCompiled,
      'wasm bytes': c.wasmBytes,
      'compile ms (main thread)': Math.round(c.compileMs * 10) / 10,
      'entries into translated code': c.cacheHits,
      'blocks interpreted': c.interpreted,
      '... untranslatable': c.untranslatable,
      'faults in translated code': c.faults,
      'invalidations': c.invalidations,
      'pages evicted': c.evictions,
      'flushes': c.flushes,
      'code bytes held': this.codeBytes,
      'pages held': this.pages.size,
      'modules refused by the engine': c.compileErrors,
    };
  }

  /** Drops every translation. */
  flush(): void {
    this.generation++;
    this.pages.clear();
    this.lastPn = -1;
    if (this.mem.shared) for (const pn of [...this.genAt.keys()]) this.unmarkCode(pn);
    this.code.fill(0);
    for (let i = 0; i < this.nextSlot; i++) this.table.set(i, null);
    this.nextSlot = 0;
    this.freeSlots = [];
    this.lookup.fill(0);
    this.codeBytes = 0;
    this.counters.flushes++;
    this.scr[3] = 1;
  }
}

/** Modules dropped by aging before the engine is asked to collect them. */
const RECLAIM_BYTES = 8 << 20;
let reclaimHook: (() => void) | undefined;

/** How this thread's host asks its engine for a full collection. V8 frees a module's
 *  machine code only when a major GC finds the module unreachable, and an idle guest
 *  allocates too little to cause one: without this, aged-out code stays resident. */
export function setCodeReclaim(hook: (() => void) | undefined): void {
  reclaimHook = hook;
}

const jits = new WeakMap<GuestMemory, Jit>();

/** The translation cache of a guest RAM (created on first use). */
export function jitOf(mem: GuestMemory): Jit {
  let j = jits.get(mem);
  if (j === undefined) {
    j = new Jit(mem);
    jits.set(mem, j);
  }
  return j;
}
