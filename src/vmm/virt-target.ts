// The GDB stub's DebugTarget over real harts. Registers come from the state buffers,
// memory through a side-effect-free page walk. Breakpoints, watchpoints and single steps
// are checked by runHart(), which the machine's run loop calls instead of execute()
// while `armed` is true: it runs one instruction at a time (execute(h, 1)), so the
// interpreter and the translator need no debug hooks and run at full speed otherwise.

import type { Hart } from '../cpu/hart.js';
import { execute } from '../cpu/interp.js';
import type { Breakpoint, BreakKind, DebugTarget, StopReason, WatchKind } from './gdb/target.js';
import type { RegRef } from './gdb/registers.js';
import { debugRead, debugWrite } from './guest-walk.js';
import { readHartRegister, writeHartRegister } from './hart-regs.js';
import { decodeAccess, type MemAccess } from './mem-access.js';

/** What the debugger needs from the machine's run loop. */
export interface RunControl {
  /** No hart may execute until resume() (the run loop checks between slices). */
  pause(): void;
  resume(): void;
  /** GDB's kill: end the VM. */
  kill(): void;
}

interface Watch { kind: WatchKind; addr: bigint; len: number }

export class HartDebugTarget implements DebugTarget {
  private halted = false;
  /** The hart a single step is pending for; the others do not run meanwhile. */
  private stepHart: number | undefined;
  /** Per hart, the pc at which it was resumed: a breakpoint there must not fire again
   *  before the hart has moved (GDB resumes from a breakpoint by continuing). */
  private resumePc: (bigint | undefined)[];
  private readonly breaks = new Map<bigint, Set<BreakKind>>();
  private watches: Watch[] = [];
  private readonly listeners = new Set<(r: StopReason) => void>();

  private readonly currentHarts: () => readonly Hart[];

  /** `harts` as a function: the harts of whichever machine is current (a VM rebuilds its
   *  machine on reset and loadvm; breakpoints and the debugger's connection carry over). */
  constructor(harts: readonly Hart[] | (() => readonly Hart[]), private readonly run: RunControl, private readonly exec: (h: Hart, budget: number) => number = execute) {
    this.currentHarts = typeof harts === 'function' ? harts : () => harts;
    this.resumePc = this.hs.map(() => undefined);
  }

  private get hs(): readonly Hart[] {
    return this.currentHarts();
  }

  get harts(): number {
    return this.hs.length;
  }

  /** The run loop must call runHart() (not execute()/the JIT) while this is true. */
  get armed(): boolean {
    return this.stepHart !== undefined || this.breaks.size > 0 || this.watches.length > 0;
  }

  /** Whether hart `i` may run now. */
  mayRun(i: number): boolean {
    return !this.halted && (this.stepHart === undefined || this.stepHart === i);
  }

  readRegister(hart: number, reg: RegRef): bigint | undefined {
    return readHartRegister(this.hs[hart], reg);
  }

  writeRegister(hart: number, reg: RegRef, value: bigint): boolean {
    return writeHartRegister(this.hs[hart], reg, value);
  }

  readMemory(hart: number, addr: bigint, len: number): Uint8Array {
    return debugRead(this.hs[hart], addr, len);
  }

  writeMemory(hart: number, addr: bigint, data: Uint8Array): boolean {
    return debugWrite(this.hs[hart], addr, data);
  }

  addBreakpoint(bp: Breakpoint): boolean {
    const addr = BigInt.asUintN(64, bp.addr);
    if (bp.kind === 'sw' || bp.kind === 'hw') {
      const kinds = this.breaks.get(addr) ?? new Set<BreakKind>();
      kinds.add(bp.kind);
      this.breaks.set(addr, kinds);
      return true;
    }
    if (bp.len <= 0) return false;
    this.watches.push({ kind: bp.kind, addr, len: bp.len });
    return true;
  }

  removeBreakpoint(bp: Breakpoint): boolean {
    const addr = BigInt.asUintN(64, bp.addr);
    if (bp.kind === 'sw' || bp.kind === 'hw') {
      const kinds = this.breaks.get(addr);
      if (!kinds?.delete(bp.kind)) return false;
      if (kinds.size === 0) this.breaks.delete(addr);
      return true;
    }
    const i = this.watches.findIndex((w) => w.kind === bp.kind && w.addr === addr && w.len === bp.len);
    if (i < 0) return false;
    this.watches.splice(i, 1);
    return true;
  }

  clearBreakpoints(): void {
    this.breaks.clear();
    this.watches = [];
  }

  resume(step?: number): void {
    this.halted = false;
    this.stepHart = step;
    this.resumePc = this.hs.map((h) => BigInt.asUintN(64, h.pc));
    this.run.resume();
  }

  halt(): void {
    this.halted = true;
    this.stepHart = undefined;
    this.run.pause();
  }

  isRunning(): boolean {
    return !this.halted;
  }

  kill(): void {
    this.halted = true;
    this.run.kill();
  }

  onStop(listener: (reason: StopReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The machine stopped for another reason (QMP stop, Ctrl-A): tell a waiting GDB. */
  notifyPaused(hart = 0): void {
    if (this.halted) return;
    this.halted = true;
    this.stepHart = undefined;
    this.emit({ kind: 'paused', hart });
  }

  /** The machine was resumed by something else (QMP cont): let the harts run. A
   *  no-op when the debugger itself resumed it (that path already cleared `halted`). */
  notifyResumed(): void {
    if (!this.halted) return;
    this.halted = false;
    this.stepHart = undefined;
    this.resumePc = this.hs.map((h) => BigInt.asUintN(64, h.pc));
  }

  /** The guest powered off: GDB's W packet. */
  notifyExit(code: number): void {
    this.halted = true;
    this.emit({ kind: 'exit', code });
  }

  private stop(reason: StopReason): void {
    this.halted = true;
    this.stepHart = undefined;
    this.run.pause();
    this.emit(reason);
  }

  private emit(reason: StopReason): void {
    for (const l of [...this.listeners]) l(reason);
  }

  /** Runs up to `budget` instructions of hart `i` with the debug checks; returns the
   *  instructions retired. Stops early when a check fires (the machine is then paused
   *  and the stop reported), when the hart waits in WFI, or when it is asked to stop.
   *  Breakpoints and watchpoints fire before the instruction executes: GDB's RISC-V
   *  support declares watchpoints "non-steppable" (the trigger precedes the access, as
   *  with the debug spec's triggers) and steps over the access itself before comparing
   *  values. The first instruction after a resume is never checked, so a client that
   *  continues without stepping over does not stop at the same place again. */
  runHart(i: number, budget: number): number {
    if (!this.mayRun(i)) return 0;
    const h = this.hs[i];
    let retired = 0;
    for (let k = 0; k < budget && !this.halted && !h.stopRequested; k++) {
      // Breakpoints are kept as unsigned addresses; the state holds pc sign-extended.
      const pc = BigInt.asUintN(64, h.pc);
      if (this.resumePc[i] !== pc) {
        const kinds = this.breaks.get(pc);
        if (kinds) return this.stop({ kind: 'break', hart: i, type: kinds.has('sw') ? 'sw' : 'hw' }), retired;
        const access = this.watches.length ? decodeAccess(h) : undefined;
        const hit = access && this.watchHit(access);
        if (hit) return this.stop({ kind: 'watch', hart: i, ...hit }), retired;
      }
      const wasWaiting = h.waiting;
      retired += this.exec(h, 1);
      // Still asleep in WFI: let the run loop idle until an interrupt.
      if (wasWaiting && h.waiting) break;
      this.resumePc[i] = undefined;
      if (this.stepHart === i) return this.stop({ kind: 'step', hart: i }), retired;
    }
    return retired;
  }

  private watchHit(a: MemAccess): { type: WatchKind; addr: bigint } | undefined {
    const start = BigInt.asUintN(64, a.addr);
    const end = start + BigInt(a.size);
    for (const w of this.watches) {
      const kindOk = w.kind === 'access' ? true : w.kind === 'write' ? a.write : a.read;
      if (kindOk && start < w.addr + BigInt(w.len) && w.addr < end) return { type: w.kind, addr: start > w.addr ? start : w.addr };
    }
    return undefined;
  }
}
