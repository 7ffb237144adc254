// Test harness for the CPU: assemble a program, load it at the start of RAM, run it in
// M-mode one instruction at a time until the pc reaches a stop symbol, and inspect the
// hart afterwards. Also a small page-table builder for the MMU tests.

import { assemble } from '../../src/isa/asm.js';
import { parseXReg } from '../../src/isa/regs.js';
import { Hart, TimeSource } from '../../src/cpu/hart.js';
import { execute } from '../../src/cpu/interp.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { Slot } from '../../src/cpu/state.js';

export const RAM_BASE = 0x80000000;
const DEFAULT_RAM = 4 << 20;

export interface Machine {
  h: Hart;
  mem: GuestMemory;
  /** Address of a label of the program (throws if it does not exist). */
  sym(name: string): bigint;
}

export interface LoadOptions {
  ramSize?: number;
  time?: TimeSource;
}

export interface RunOptions {
  /** Stop symbols: the run ends when the pc reaches one of them (default `done`). */
  until?: string | string[];
  /** Calls to execute(h, 1) before giving up (default 10000). */
  maxSteps?: number;
  /** End the run (instead of failing) when the hart waits in WFI with nothing to wake it. */
  stopWhenWaiting?: boolean;
}

export interface RunResult {
  /** The stop symbol reached, or 'waiting'. */
  stoppedAt: string;
  /** Calls made to execute. */
  steps: number;
  /** Instructions retired (the sum of execute's results). */
  retired: number;
}

/** Assembles `source` and loads it at 0x80000000 in a fresh hart (M-mode, pc = _start or base). */
export function load(source: string, opts: LoadOptions = {}): Machine {
  const mem = new GuestMemory(RAM_BASE, opts.ramSize ?? DEFAULT_RAM);
  const h = new Hart(mem, { time: opts.time });
  const prog = assemble(source, { base: BigInt(RAM_BASE) });
  for (const s of prog.sections) mem.write(Number(s.addr), s.bytes);
  h.pc = prog.entry;
  const sym = (name: string): bigint => {
    const v = prog.symbols.get(name);
    if (v === undefined) throw new Error(`no symbol '${name}' in the program`);
    return v;
  };
  return { h, mem, sym };
}

/** Steps the hart until the pc reaches a stop symbol. */
export function run(m: Machine, opts: RunOptions = {}): RunResult {
  const names = opts.until === undefined ? ['done'] : typeof opts.until === 'string' ? [opts.until] : opts.until;
  const stops = new Map(names.map((n) => [m.sym(n), n]));
  const maxSteps = opts.maxSteps ?? 10000;
  let retired = 0;
  for (let steps = 0; steps < maxSteps; steps++) {
    const at = stops.get(m.h.pc);
    if (at !== undefined && !m.h.waiting) return { stoppedAt: at, steps, retired };
    retired += execute(m.h, 1);
    if (m.h.waiting && opts.stopWhenWaiting) return { stoppedAt: 'waiting', steps: steps + 1, retired };
  }
  throw new Error(`did not reach ${names.join('/')} in ${maxSteps} steps: ${describe(m.h)}`);
}

/** load() then run(). */
export function runAsm(source: string, opts: LoadOptions & RunOptions = {}): Machine & RunResult {
  const m = load(source, opts);
  return { ...m, ...run(m, opts) };
}

function hex(v: bigint): string {
  return '0x' + BigInt.asUintN(64, v).toString(16);
}

/** The hart's position and last trap, for failure messages. */
export function describe(h: Hart): string {
  return `pc=${hex(h.pc)} priv=${h.priv} waiting=${h.waiting} mcause=${hex(h.s.get64(Slot.Mcause))} ` +
    `mepc=${hex(h.s.get64(Slot.Mepc))} mtval=${hex(h.s.get64(Slot.Mtval))} scause=${hex(h.s.get64(Slot.Scause))} ` +
    `sepc=${hex(h.s.get64(Slot.Sepc))}`;
}

/** An integer register by ABI or x name, as an unsigned 64-bit value. */
export function reg(h: Hart, name: string): bigint {
  const r = parseXReg(name);
  if (r === undefined) throw new Error(`no register '${name}'`);
  return BigInt.asUintN(64, h.s.getX(r));
}

/** An integer register as a signed 64-bit value. */
export function sreg(h: Hart, name: string): bigint {
  return BigInt.asIntN(64, reg(h, name));
}

/** A CSR's stored value (the slot behind it), unsigned. */
export function slot(h: Hart, s: Slot): bigint {
  return BigInt.asUintN(64, h.s.get64(s));
}

/** Trap state after an exception or interrupt taken into M-mode. */
export function mtrap(h: Hart): { cause: bigint; epc: bigint; tval: bigint } {
  return { cause: slot(h, Slot.Mcause), epc: slot(h, Slot.Mepc), tval: slot(h, Slot.Mtval) };
}

/** Trap state after a trap taken into S-mode. */
export function strap(h: Hart): { cause: bigint; epc: bigint; tval: bigint } {
  return { cause: slot(h, Slot.Scause), epc: slot(h, Slot.Sepc), tval: slot(h, Slot.Stval) };
}

/** Interrupt bit of mcause/scause on RV64. */
export const INTERRUPT = 1n << 63n;

/** Reads a little-endian doubleword of guest RAM. */
export function peek64(mem: GuestMemory, pa: bigint | number): bigint {
  const b = mem.read(Number(pa), 8);
  return new DataView(b.buffer).getBigUint64(0, true);
}

export function poke64(mem: GuestMemory, pa: bigint | number, v: bigint): void {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  mem.write(Number(pa), b);
}

/**
 * Assembly that grants S and U modes access to all memory through the lowest-priority
 * PMP entry (15, NAPOT over the whole address space, RWX), as firmware does. Without an
 * active entry S/U accesses fail (16 entries are implemented). Clobbers t0.
 */
export const PMP_ALLOW_ALL = `
    li t0, -1
    csrw pmpaddr15, t0
    li t0, 0x1f00000000000000
    csrs pmpcfg2, t0`;

/**
 * Assembly that leaves M-mode for `mode` ('U' or 'S') at `label` through mret
 * (clobbers t0). Unless `pmp` is false it first opens all memory to S/U with
 * PMP_ALLOW_ALL. Anything else in mstatus is left alone.
 */
export function enterMode(mode: 'U' | 'S', label: string, pmp = true): string {
  return `
    ${pmp ? PMP_ALLOW_ALL : ''}
    li t0, 0x1800
    csrc mstatus, t0
    ${mode === 'S' ? 'li t0, 0x800\n    csrs mstatus, t0' : ''}
    la t0, ${label}
    csrw mepc, t0
    mret`;
}

// ---- page tables ----

export const PTE_V = 1n, PTE_R = 2n, PTE_W = 4n, PTE_X = 8n, PTE_U = 16n, PTE_G = 32n, PTE_A = 64n, PTE_D = 128n;

export const SATP_SV39 = 8n, SATP_SV48 = 9n, SATP_SV57 = 10n;

/**
 * Builds radix page tables in guest RAM. Tables are allocated from `pool` upward, one
 * 4 KiB page each; the root is the first.
 */
export class PageTables {
  readonly root: bigint;
  readonly levels: number;
  private next: bigint;

  constructor(private readonly mem: GuestMemory, readonly mode: bigint, pool: bigint) {
    if (pool % 4096n !== 0n) throw new Error('page-table pool must be page aligned');
    this.levels = mode === SATP_SV39 ? 3 : mode === SATP_SV48 ? 4 : 5;
    this.root = pool;
    this.next = pool + 4096n;
    mem.write(Number(pool), new Uint8Array(4096));
  }

  /** satp value selecting these tables (ASID 0). */
  get satp(): bigint {
    return (this.mode << 60n) | (this.root >> 12n);
  }

  private vpn(va: bigint, level: number): bigint {
    return (va >> BigInt(12 + 9 * level)) & 511n;
  }

  /**
   * Maps `va` to `pa` with a leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB, 3 = 512 GiB...).
   * `flags` are the PTE's low bits (V is added). Returns the PTE's physical address.
   */
  map(va: bigint, pa: bigint, flags: bigint, level = 0): bigint {
    const addr = this.pteAddress(va, level, true);
    poke64(this.mem, addr, ((pa >> 12n) << 10n) | flags | PTE_V);
    return addr;
  }

  /** Writes a raw PTE value at the leaf position for `va` at `level`. */
  setRaw(va: bigint, level: number, pte: bigint): bigint {
    const addr = this.pteAddress(va, level, true);
    poke64(this.mem, addr, pte);
    return addr;
  }

  /** Physical address of the PTE for `va` at `level` (walking existing tables). */
  pteAddress(va: bigint, level: number, create = false): bigint {
    let table = this.root;
    for (let l = this.levels - 1; l > level; l--) {
      const addr = table + this.vpn(va, l) * 8n;
      let pte = peek64(this.mem, addr);
      if ((pte & PTE_V) === 0n) {
        if (!create) throw new Error(`no table for va ${hex(va)} at level ${l}`);
        const t = this.next;
        this.next += 4096n;
        this.mem.write(Number(t), new Uint8Array(4096));
        pte = ((t >> 12n) << 10n) | PTE_V;
        poke64(this.mem, addr, pte);
      } else if ((pte & (PTE_R | PTE_X)) !== 0n) {
        throw new Error(`va ${hex(va)} is already covered by a leaf at level ${l}`);
      }
      table = ((pte >> 10n) & ((1n << 44n) - 1n)) << 12n;
    }
    return table + this.vpn(va, level) * 8n;
  }

  read(va: bigint, level = 0): bigint {
    return peek64(this.mem, this.pteAddress(va, level));
  }
}

// ---- a machine with paging on ----

/** Where the MMU tests keep page tables (1 MiB) and data (1 MiB) in the default 4 MiB RAM. */
export const PT_POOL = 0x80200000n;
export const DATA_PA = 0x80300000n;

export interface PagedOptions {
  /** Privilege the body runs in (default S). 'M' with mstatusBits = MPRV runs it untranslated. */
  mode?: 'S' | 'U' | 'M';
  /** Extra mstatus bits set before leaving M (SUM, MXR, MPRV...). */
  mstatusBits?: bigint;
  time?: TimeSource;
  ramSize?: number;
}

/**
 * A program that turns on paging with `mode` (Sv39/48/57), then runs `body` in S-mode
 * (by default) and ends at `done`; exceptions go to `mtrap` (nothing is delegated).
 * Before it runs, `map` fills the page tables; RAM is identity-mapped by a 1 GiB
 * supervisor RWX page so that the code, tables and data are reachable.
 */
export function paged(satpMode: bigint, body: string, map: (pt: PageTables, m: Machine) => void, opts: PagedOptions = {}): Machine & { pt: PageTables } {
  const mode = opts.mode ?? 'S';
  const m = load(`
    la t0, mtrap
    csrw mtvec, t0
    ${PMP_ALLOW_ALL}
    la t0, satp_value
    ld t0, 0(t0)
    csrw satp, t0
    sfence.vma
    li t0, ${opts.mstatusBits ?? 0n}
    csrs mstatus, t0
    ${mode === 'M' ? '' : enterMode(mode, 'body', false)}
  body:
    ${body}
  done: j done
  .align 2
  mtrap: j mtrap
  .data
  satp_value: .dword 0`, { time: opts.time, ramSize: opts.ramSize });
  const pt = new PageTables(m.mem, satpMode, PT_POOL);
  pt.map(BigInt(RAM_BASE), BigInt(RAM_BASE), PTE_R | PTE_W | PTE_X | PTE_A | PTE_D, 2);
  poke64(m.mem, m.sym('satp_value'), pt.satp);
  map(pt, m);
  return { ...m, pt };
}
