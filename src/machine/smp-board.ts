// The bare-metal board with several harts, each meant to run on its own thread over one
// shared guest memory (for SMP tests and benchmarks): RAM at 0x80000000, one ELF that
// every hart starts at with its own mhartid, HTIF's tohost ending the run. This side
// builds everything in the thread that starts the run; smp-hart.ts is each hart's loop
// in its thread, and the host layer owns the threads.

import { Hart } from '../cpu/hart.js';
import { GuestMemory, type SharedGuestMemory } from '../cpu/memory.js';
import { LOOKUP_BYTES } from '../jit/dispatch.js';
import { RAM_BASE, loadBareMetal } from './baremetal.js';
import { SmpControl } from './smp-control.js';

export interface SmpBoardOptions {
  harts: number;
  memSize: number;
}

export type ExecMode = 'interp' | 'jit';

/** What a hart's thread needs (structured-cloneable: postMessage / workerData). */
export interface SmpJob {
  mem: SharedGuestMemory;
  control: SharedArrayBuffer;
  harts: number;
  /** Each hart's area in the shared memory (state and TLB), by hart index. */
  areas: number[];
  tohost: number;
  fromhost: number | undefined;
  exec: ExecMode;
  /** A hart that retires this many instructions ends the run (default: no limit). */
  maxInstructions?: number;
  /** performance.timeOrigin + performance.now() when the board was built: every thread
   *  counts mtime from this one instant, so harts agree on the time. */
  epochMs: number;
}

/** Room per hart in the private area: its state and TLB (about 37 KiB), and the lookup
 *  table of the translator its thread creates (each thread has its own for now). */
const PRIVATE_PER_HART = 64 * 1024 + LOOKUP_BYTES;

export class SmpBoard {
  readonly mem: GuestMemory;
  readonly control: SmpControl;
  readonly harts: Hart[];
  /** The program's symbols, to find its data after the run (the memory is shared). */
  readonly symbols: Map<string, bigint>;
  private readonly tohost: number;
  private readonly fromhost: number | undefined;
  private readonly epochMs = performance.timeOrigin + performance.now();

  constructor(elf: Uint8Array, opts: SmpBoardOptions) {
    if (!Number.isInteger(opts.harts) || opts.harts < 1) throw new RangeError('an SMP board needs at least one hart');
    this.mem = new GuestMemory(RAM_BASE, opts.memSize, { shared: true, privateBytes: opts.harts * PRIVATE_PER_HART + (1 << 20) });
    const p = loadBareMetal(this.mem, elf);
    this.tohost = p.tohost;
    this.fromhost = p.fromhost;
    this.symbols = p.symbols;
    // Reset here, adopted as they are by their threads (Hart's `area` option).
    this.harts = Array.from({ length: opts.harts }, (_, i) => {
      const h = new Hart(this.mem, { hartId: i });
      if (h.area < 0) throw new RangeError('the private area of guest memory is full');
      h.pc = p.entry;
      return h;
    });
    this.control = SmpControl.create(opts.harts);
  }

  /** The descriptor each hart thread is started with. */
  job(exec: ExecMode, maxInstructions?: number): SmpJob {
    return {
      mem: this.mem.share(),
      control: this.control.buffer,
      harts: this.harts.length,
      areas: this.harts.map((h) => h.area),
      tohost: this.tohost,
      fromhost: this.fromhost,
      exec,
      maxInstructions,
      epochMs: this.epochMs,
    };
  }

  /** A doubleword of guest RAM (read after the run, or racily during it). */
  peek64(pa: bigint | number): bigint {
    const b = this.mem.read(Number(pa), 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  /** The address of a symbol of the program (throws when it has none by that name). */
  sym(name: string): bigint {
    const v = this.symbols.get(name);
    if (v === undefined) throw new Error(`the program has no symbol '${name}'`);
    return v;
  }
}
