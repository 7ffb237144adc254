// The bare-metal board of `rvisor run --bios none`: one hart, RAM at 0x80000000, and an
// HTIF tohost/fromhost pair found by ELF symbol, as Spike and QEMU's `spike` board give
// the standard ISA test programs.

import { Hart, type TimeSource } from '../cpu/hart.js';
import { execute } from '../cpu/interp.js';
import { GuestMemory } from '../cpu/memory.js';
import { runJit } from '../jit/index.js';
import { hostClock } from './clock.js';
import { Htif } from './htif.js';
import { LoadError, loadElf } from './loader.js';

export const RAM_BASE = 0x80000000;
/** Instructions per slice between HTIF polls. */
const SLICE = 100_000;
/** Host time between yields to the event loop, so output and signals get through. */
const YIELD_MS = 20;

export interface BareMetalOptions {
  memSize: number;
  output: (bytes: Uint8Array) => void;
  /** Stop with an error after this many instructions (default: no limit). */
  maxInstructions?: number;
  time?: TimeSource;
  /** The interpreter (default) or the WebAssembly translator. */
  exec?: 'interp' | 'jit';
}

export type RunResult =
  | { kind: 'exit'; code: number; instructions: number }
  | { kind: 'limit'; instructions: number }
  | { kind: 'stopped'; instructions: number };

/** A bare-metal program in RAM: where it starts and its HTIF words (fromhost optional). */
export interface BareMetalProgram {
  entry: bigint;
  tohost: number;
  fromhost: number | undefined;
  symbols: Map<string, bigint>;
}

/** Loads an ELF for `--bios none` (one hart or several): it must have a `tohost` in RAM. */
export function loadBareMetal(mem: GuestMemory, elf: Uint8Array): BareMetalProgram {
  const image = loadElf(mem, elf);
  const tohost = image.symbols.get('tohost');
  if (tohost === undefined) throw new LoadError('the ELF has no `tohost` symbol, so a bare-metal program could never report its result');
  if (!mem.isRam(Number(tohost), 8)) throw new LoadError('`tohost` lies outside RAM');
  const fromhost = image.symbols.get('fromhost');
  return {
    entry: image.entry,
    tohost: Number(tohost),
    fromhost: fromhost !== undefined && mem.isRam(Number(fromhost), 8) ? Number(fromhost) : undefined,
    symbols: image.symbols,
  };
}

export class BareMetalMachine {
  readonly mem: GuestMemory;
  readonly hart: Hart;
  readonly htif: Htif;
  private stopRequested = false;

  constructor(elf: Uint8Array, readonly opts: BareMetalOptions) {
    this.mem = new GuestMemory(RAM_BASE, opts.memSize);
    const time = opts.time ?? hostClock();
    this.hart = new Hart(this.mem, { time });
    const p = loadBareMetal(this.mem, elf);
    this.htif = new Htif(this.mem, p.tohost, p.fromhost, opts.output);
    this.hart.pc = p.entry;
  }

  stop(): void {
    this.stopRequested = true;
  }

  /** Runs synchronously until exit or the instruction limit (for tests and benchmarks). */
  runSync(): RunResult {
    let total = 0;
    const limit = this.opts.maxInstructions ?? Infinity;
    for (;;) {
      const r = this.slice(total, limit);
      total = r.total;
      if (r.result) return r.result;
    }
  }

  async run(): Promise<RunResult> {
    let total = 0;
    const limit = this.opts.maxInstructions ?? Infinity;
    let lastYield = Date.now();
    for (;;) {
      const r = this.slice(total, limit);
      total = r.total;
      if (r.result) return r.result;
      if (this.stopRequested) return { kind: 'stopped', instructions: total };
      const now = Date.now();
      if (this.hart.waiting || now - lastYield >= YIELD_MS) {
        await new Promise((resolve) => setTimeout(resolve, this.hart.waiting ? 1 : 0));
        lastYield = Date.now();
      }
    }
  }

  private slice(total: number, limit: number): { total: number; result?: RunResult } {
    const n = (this.opts.exec === 'jit' ? runJit : execute)(this.hart, Math.min(SLICE, limit - total));
    total += n;
    const ev = this.htif.poll();
    if (ev) return { total, result: { kind: 'exit', code: ev.code, instructions: total } };
    if (total >= limit) return { total, result: { kind: 'limit', instructions: total } };
    return { total };
  }
}
