// What the GDB stub needs from the machine it debugs. All-stop model: halt() stops every
// hart before it returns (the VMM is single-threaded, so the run loop only has to check
// a flag between slices); resume() lets them run and the target reports the next stop
// through onStop. Breakpoints are "stop before executing the instruction at ADDR" checks
// done by the target: the stub never patches guest memory.

import type { RegRef } from './registers.js';

export type BreakKind = 'sw' | 'hw';
export type WatchKind = 'write' | 'read' | 'access';

export type Breakpoint =
  | { kind: BreakKind; addr: bigint; len: number }
  | { kind: WatchKind; addr: bigint; len: number };

export type StopReason =
  /** A hart reached a breakpoint (pc = addr, the instruction not yet executed). */
  | { kind: 'break'; hart: number; type: BreakKind }
  /** A hart is about to access watched memory at `addr` (pc is at the accessing
   *  instruction, not yet executed: GDB steps over it and compares values). */
  | { kind: 'watch'; hart: number; type: WatchKind; addr: bigint }
  /** A single step finished. */
  | { kind: 'step'; hart: number }
  /** Stopped by something other than the debugger (QMP stop, console). */
  | { kind: 'paused'; hart: number }
  /** The guest powered off (GDB's W packet) with this status. */
  | { kind: 'exit'; code: number };

export interface DebugTarget {
  /** Number of harts; GDB thread ids are hart index + 1. */
  readonly harts: number;
  /** undefined when the hart has no such register (the stub answers "unavailable"). */
  readRegister(hart: number, reg: RegRef): bigint | undefined;
  writeRegister(hart: number, reg: RegRef, value: bigint): boolean;
  /** Reads through the hart's current translation (satp, privilege). Returns fewer bytes
   *  than asked when an address is unmapped or not RAM; debugger reads never touch MMIO. */
  readMemory(hart: number, addr: bigint, len: number): Uint8Array;
  writeMemory(hart: number, addr: bigint, data: Uint8Array): boolean;
  /** false when the kind is not supported or no slot is left. */
  addBreakpoint(bp: Breakpoint): boolean;
  removeBreakpoint(bp: Breakpoint): boolean;
  clearBreakpoints(): void;
  /** Runs every hart, or single-steps only hart `step` (the others stay stopped). */
  resume(step?: number): void;
  /** Stops every hart now. */
  halt(): void;
  /** True between resume() and the next stop. */
  isRunning(): boolean;
  /** GDB's `k`: end the VM. */
  kill(): void;
  onStop(listener: (reason: StopReason) => void): () => void;
}
