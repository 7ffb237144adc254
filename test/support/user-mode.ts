// A tiny Linux-user emulation on top of one Hart, for tests that want to run the same
// static ELF under rvisor and under qemu-riscv64 (user mode) and compare what they print.
//
// The program runs in U-mode with one PMP entry opening all of memory. Every trap would
// land in M-mode; a MachineModeFirmware hook stops the hart there instead and the loop
// below looks at the cause: an ECALL from U is a Linux system call that we emulate in
// TypeScript (write to stdout, exit; everything else is ENOSYS), anything else ends the
// run with a report, since user programs under test are not expected to trap.

import { readElf } from '../../src/isa/elf.js';
import { Hart } from '../../src/cpu/hart.js';
import { execute } from '../../src/cpu/interp.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { Slot } from '../../src/cpu/state.js';

export const RAM_BASE = 0x80000000;
export const DEFAULT_RAM_SIZE = 16 << 20;

const SYS_WRITE = 64;
const SYS_EXIT = 93;
const SYS_EXIT_GROUP = 94;
const ENOSYS = -38n;
const CAUSE_ECALL_U = 8n;
const FS_INITIAL = 1n << 13n;
/** Instructions per call into the interpreter; a trap returns early anyway. */
const SLICE = 1 << 20;

const CAUSE_NAMES: Record<number, string> = {
  0: 'instruction address misaligned', 1: 'instruction access fault', 2: 'illegal instruction',
  3: 'breakpoint', 4: 'load address misaligned', 5: 'load access fault',
  6: 'store/AMO address misaligned', 7: 'store/AMO access fault', 9: 'ecall from S-mode',
  11: 'ecall from M-mode', 12: 'instruction page fault', 13: 'load page fault', 15: 'store/AMO page fault',
};

export interface UserFault {
  cause: bigint;
  pc: bigint;
  tval: bigint;
  message: string;
}

export interface UserRunResult {
  /** Set when the program called exit or exit_group. */
  exitCode?: number;
  /** Everything written to fd 1. */
  stdout: Uint8Array;
  /** Instructions retired (ecalls included). */
  instructions: number;
  /** Set when the program trapped for a reason other than a system call. */
  fault?: UserFault;
  /** True when the instruction limit stopped the program. */
  limitReached: boolean;
}

export interface UserRunOptions {
  ramSize?: number;
  /** Stop after this many instructions (default 100 million). */
  maxInstructions?: number;
  /** Called after each write(1, ...) has been captured, with the bytes written; tests use
   *  it to inspect or patch guest state between records. */
  onWrite?: (bytes: Uint8Array, hart: Hart) => void;
  /** The executor (default: the interpreter's execute; the translator tests pass runJit). */
  exec?: (h: Hart, budget: number) => number;
}

/** Loads a static ELF into a fresh hart and RAM, ready to start in U-mode at its entry. */
export function loadUserElf(elf: Uint8Array, ramSize = DEFAULT_RAM_SIZE): Hart {
  const image = readElf(elf);
  const mem = new GuestMemory(RAM_BASE, ramSize);
  for (const seg of image.segments) {
    if (seg.data.length > 0) mem.write(Number(seg.paddr), seg.data);
  }
  const h = new Hart(mem, { hartId: 0 });
  // NAPOT with all address bits set covers the whole physical address space.
  h.pmp.writeAddr(0, -1, -1);
  h.pmp.writeCfg(0, 0x1f);
  h.s.set64(Slot.Mstatus, h.s.get64(Slot.Mstatus) | FS_INITIAL);
  h.s.setX(2, BigInt(RAM_BASE + ramSize));
  h.pc = image.entry;
  h.priv = 0;
  return h;
}

/** Runs a loaded hart until exit, a fault, or the instruction limit. */
export function runUser(h: Hart, opts: UserRunOptions = {}): UserRunResult {
  const limit = opts.maxInstructions ?? 100_000_000;
  const out = new OutputBuffer();
  let instructions = 0;
  // Traps that would enter M-mode stop the hart here instead, as a kernel's entry would.
  const seen: { trap?: { cause: bigint; epc: bigint; tval: bigint } } = {};
  h.firmware = {
    onTrap(hart, cause, _interrupt, pcLo, pcHi, tvalLo, tvalHi) {
      const pair = (lo: number, hi: number) => (BigInt(hi) << 32n) | BigInt(lo >>> 0);
      seen.trap = { cause: BigInt(cause), epc: pair(pcLo, pcHi), tval: pair(tvalLo, tvalHi) };
      hart.stopRequested = true;
      return true;
    },
  };
  while (instructions < limit) {
    instructions += (opts.exec ?? execute)(h, Math.min(SLICE, limit - instructions));
    if (!seen.trap) continue;
    const { cause, epc, tval } = seen.trap;
    seen.trap = undefined;
    h.stopRequested = false;
    if (cause !== CAUSE_ECALL_U) {
      const name = CAUSE_NAMES[Number(cause)] ?? `cause ${cause}`;
      const message = `${name} at pc 0x${hex(epc)} (tval 0x${hex(tval)})`;
      return { stdout: out.bytes(), instructions, fault: { cause, pc: epc, tval, message }, limitReached: false };
    }
    // The ecall retired; the slice count already includes it.
    const nr = Number(h.s.getX(17));
    const a0 = h.s.getX(10), a1 = h.s.getX(11), a2 = h.s.getX(12);
    let ret = ENOSYS;
    if (nr === SYS_EXIT || nr === SYS_EXIT_GROUP) {
      return { exitCode: Number(BigInt.asUintN(8, a0)), stdout: out.bytes(), instructions, limitReached: false };
    }
    if (nr === SYS_WRITE) {
      if (a0 === 1n) {
        const bytes = h.mem.read(Number(a1), Number(a2));
        out.push(bytes);
        opts.onWrite?.(bytes, h);
        ret = a2;
      } else {
        ret = -9n; // EBADF: only stdout exists here
      }
    }
    h.s.setX(10, ret);
    h.pc = epc + 4n;
  }
  return { stdout: out.bytes(), instructions, limitReached: true };
}

/** loadUserElf + runUser. */
export function runUserElf(elf: Uint8Array, opts: UserRunOptions = {}): UserRunResult {
  return runUser(loadUserElf(elf, opts.ramSize), opts);
}

function hex(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

/** Appends without copying on every write; joined once at the end. */
class OutputBuffer {
  private chunks: Uint8Array[] = [];
  private length = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  bytes(): Uint8Array {
    const all = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      all.set(c, o);
      o += c.length;
    }
    return all;
  }
}
