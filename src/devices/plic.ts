// SiFive PLIC as on QEMU virt: two contexts per hart (2h: M-mode -> MEIP, 2h+1: S-mode ->
// SEIP), 7 priority levels, level-triggered sources behind a simple gateway.

import type { HartInterrupts, IrqLine, MmioDevice } from './mmio.js';
import { StateReader } from './snapshot.js';

/** The PLIC is specified for naturally aligned 32-bit accesses only. */
export const PLIC_WIDTHS = 4;

/** Interrupt sources on QEMU virt (1..95; source 0 means "none"). */
export const PLIC_SOURCES = 95;

const MEIP = 1 << 11;
const SEIP = 1 << 9;
const MAX_PRIORITY = 7;

const PENDING_BASE = 0x1000;
const ENABLE_BASE = 0x2000;
const ENABLE_STRIDE = 0x80;
const CONTEXT_BASE = 0x20_0000;
const CONTEXT_STRIDE = 0x1000;

/** Registers and gateway state; what each context drives follows from them. Bit sets are
 *  32-bit words (source n is bit n%32 of word n/32), enables `words` per context. */
export interface PlicState {
  sources: number;
  /** Priority of sources 0..sources (source 0 is always 0). */
  priority: number[];
  level: number[];
  claimed: number[];
  enable: number[];
  threshold: number[];
}

export class Plic implements MmioDevice {
  private readonly sources: number;
  private readonly words: number;
  private readonly contexts: number;
  private readonly priority: Uint8Array;
  /** Input line levels, one bit per source. */
  private readonly level: Uint32Array;
  /** Claimed and not yet completed: the gateway holds these back. */
  private readonly claimed: Uint32Array;
  private readonly enable: Uint32Array;
  private readonly threshold: Uint8Array;
  /** Last level driven into each context's hart, so only changes reach the harts. */
  private readonly output: Uint8Array;

  /**
   * @param harts the harts' interrupt inputs, in hart-id order
   * @param sources the highest source number (riscv,ndev)
   */
  constructor(
    private readonly harts: readonly HartInterrupts[],
    sources = PLIC_SOURCES,
  ) {
    if (sources < 1 || sources > 1023) throw new RangeError(`PLIC: ${sources} sources`);
    this.sources = sources;
    this.words = (sources >> 5) + 1;
    this.contexts = harts.length * 2;
    this.priority = new Uint8Array(sources + 1);
    this.level = new Uint32Array(this.words);
    this.claimed = new Uint32Array(this.words);
    this.enable = new Uint32Array(this.words * this.contexts);
    this.threshold = new Uint8Array(this.contexts);
    this.output = new Uint8Array(this.contexts);
    for (let c = 0; c < this.contexts; c++) this.drive(c, false);
  }

  /** The interrupt wire of source `n`, for a device to drive. */
  line(n: number): IrqLine {
    if (n < 1 || n > this.sources) throw new RangeError(`PLIC has no source ${n}`);
    const w = n >> 5, bit = 1 << (n & 31);
    return {
      set: (high: boolean) => {
        const was = this.level[w];
        const now = high ? was | bit : was & ~bit;
        if (now === was) return;
        this.level[w] = now;
        this.update();
      },
    };
  }

  read(offset: number, _size: number): number {
    if (offset < PENDING_BASE) {
      const src = offset >> 2;
      return src <= this.sources ? this.priority[src] : 0;
    }
    if (offset < ENABLE_BASE) {
      const w = (offset - PENDING_BASE) >> 2;
      return w < this.words ? this.pendingWord(w) >>> 0 : 0;
    }
    if (offset < CONTEXT_BASE) {
      const i = this.enableIndex(offset);
      return i < 0 ? 0 : this.enable[i] >>> 0;
    }
    const ctx = ((offset - CONTEXT_BASE) / CONTEXT_STRIDE) | 0;
    if (ctx >= this.contexts) return 0;
    switch (offset & (CONTEXT_STRIDE - 1)) {
      case 0:
        return this.threshold[ctx];
      case 4:
        return this.claim(ctx);
      default:
        return 0;
    }
  }

  write(offset: number, _size: number, value: number): void {
    if (offset < PENDING_BASE) {
      const src = offset >> 2;
      if (src >= 1 && src <= this.sources) {
        this.priority[src] = Math.min(value >>> 0, MAX_PRIORITY);
        this.update();
      }
      return;
    }
    // Pending bits are read-only: only the gateways set them.
    if (offset < ENABLE_BASE) return;
    if (offset < CONTEXT_BASE) {
      const i = this.enableIndex(offset);
      if (i < 0) return;
      // Source 0 does not exist, and bits past the last source are not implemented.
      let v = value;
      if (i % this.words === 0) v &= ~1;
      if (i % this.words === this.words - 1) v &= this.lastWordMask();
      this.enable[i] = v;
      this.update();
      return;
    }
    const ctx = ((offset - CONTEXT_BASE) / CONTEXT_STRIDE) | 0;
    if (ctx >= this.contexts) return;
    switch (offset & (CONTEXT_STRIDE - 1)) {
      case 0:
        this.threshold[ctx] = Math.min(value >>> 0, MAX_PRIORITY);
        this.update();
        break;
      case 4:
        this.complete(ctx, value >>> 0);
        break;
    }
  }

  save(): PlicState {
    return {
      sources: this.sources, priority: [...this.priority], level: [...this.level], claimed: [...this.claimed],
      enable: [...this.enable], threshold: [...this.threshold],
    };
  }

  /** Validates, applies, then drives every context's output to the restored state (the
   *  harts' MEIP/SEIP inputs may hold another machine state's levels). */
  restore(state: unknown): void {
    const r = StateReader.of(state, 'plic');
    if (r.int('sources', 1, 1023) !== this.sources) r.fail('sources', `this PLIC has ${this.sources} sources`);
    const priority = r.ints('priority', this.sources + 1, 0, MAX_PRIORITY);
    if (priority[0] !== 0) r.fail('priority[0]', 'source 0 does not exist and has no priority');
    const last = this.lastWordMask() >>> 0;
    const words = (name: string, count: number) => r.ints(name, count, 0, 0xffff_ffff).map((v, i) => {
      // Bit 0 of word 0 (source 0) and bits past the last source are not implemented.
      const w = i % this.words;
      if ((w === 0 && v & 1) || (w === this.words - 1 && (v & ~last) !== 0)) r.fail(`${name}[${i}]`, 'has bits of sources that do not exist');
      return v | 0;
    });
    const level = words('level', this.words), claimed = words('claimed', this.words), enable = words('enable', this.words * this.contexts);
    const threshold = r.ints('threshold', this.contexts, 0, MAX_PRIORITY);
    this.priority.set(priority);
    this.level.set(level);
    this.claimed.set(claimed);
    this.enable.set(enable);
    this.threshold.set(threshold);
    for (let c = 0; c < this.contexts; c++) this.drive(c, this.best(c) !== 0);
  }

  /** Index into `enable` for an offset in the enable block, or -1 if unimplemented. */
  private enableIndex(offset: number): number {
    const rel = offset - ENABLE_BASE;
    const ctx = (rel / ENABLE_STRIDE) | 0;
    const w = (rel % ENABLE_STRIDE) >> 2;
    if (ctx >= this.contexts || w >= this.words) return -1;
    return ctx * this.words + w;
  }

  private lastWordMask(): number {
    const bits = (this.sources & 31) + 1;
    return bits === 32 ? -1 : (1 << bits) - 1;
  }

  /** Level-triggered gateway: pending while the line is high and not claimed. */
  private pendingWord(w: number): number {
    return this.level[w] & ~this.claimed[w];
  }

  /** The source this context would claim now (0 if none): highest priority above the
   *  threshold, lowest number among equals. */
  private best(ctx: number): number {
    let best = 0, bestPrio = this.threshold[ctx];
    const base = ctx * this.words;
    for (let w = 0; w < this.words; w++) {
      let bits = this.pendingWord(w) & this.enable[base + w];
      while (bits) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        const src = (w << 5) | b;
        if (this.priority[src] > bestPrio) {
          best = src;
          bestPrio = this.priority[src];
        }
      }
    }
    return best;
  }

  private claim(ctx: number): number {
    const src = this.best(ctx);
    if (src) {
      this.claimed[src >> 5] |= 1 << (src & 31);
      this.update();
    }
    return src;
  }

  private complete(ctx: number, src: number): void {
    if (src < 1 || src > this.sources) return;
    const w = src >> 5, bit = 1 << (src & 31);
    // The spec ignores completions for sources the context does not have enabled.
    if (!(this.enable[ctx * this.words + w] & bit)) return;
    this.claimed[w] &= ~bit;
    this.update();
  }

  private update(): void {
    for (let c = 0; c < this.contexts; c++) {
      const level = this.best(c) !== 0;
      if (level !== (this.output[c] === 1)) this.drive(c, level);
    }
  }

  private drive(ctx: number, level: boolean): void {
    this.output[ctx] = level ? 1 : 0;
    this.harts[ctx >> 1].setInterrupt(ctx & 1 ? SEIP : MEIP, level);
  }
}
