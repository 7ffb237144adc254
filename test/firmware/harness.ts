// Test machine for the SBI: RAM at 0x80000000, a few harts on one fake clock, the Sbi
// with a platform that records what the guest did, and hart 0 booted into an S-mode
// program assembled by the project's assembler.

import { assemble } from '../../src/isa/asm.js';
import { Hart } from '../../src/cpu/hart.js';
import { execute } from '../../src/cpu/interp.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { bootHartInSMode, Sbi, type SbiPlatform } from '../../src/firmware/sbi.js';
import { describe } from '../support/run-asm.js';

export const RAM_BASE = 0x80000000;
/** A device tree address for a1 at boot (nothing is there; the tests only compare it). */
export const DTB = 0x801f0000n;

export class FakePlatform implements SbiPlatform {
  out: number[] = [];
  input: number[] = [];
  resets: [number, number][] = [];
  t = 0;
  consoleWrite(bytes: Uint8Array): void {
    this.out.push(...bytes);
  }
  consoleRead(): number {
    return this.input.shift() ?? -1;
  }
  systemReset(type: number, reason: number): void {
    this.resets.push([type, reason]);
  }
  mtime(): number {
    return this.t;
  }
  get text(): string {
    return new TextDecoder().decode(Uint8Array.from(this.out));
  }
}

export interface SbiMachine {
  mem: GuestMemory;
  harts: Hart[];
  sbi: Sbi;
  platform: FakePlatform;
  sym(name: string): bigint;
}

/** SBI call: a7 = eid, a6 = fid, ecall (arguments already in a0..a5). */
export function call(eid: number, fid = 0): string {
  return `
    li a7, ${eid}
    li a6, ${fid}
    ecall`;
}

export function boot(source: string, harts = 2): SbiMachine {
  const mem = new GuestMemory(RAM_BASE, 2 << 20);
  const platform = new FakePlatform();
  const hs: Hart[] = [];
  for (let i = 0; i < harts; i++) hs.push(new Hart(mem, { hartId: i, time: platform }));
  const prog = assemble(source, { base: BigInt(RAM_BASE) });
  for (const s of prog.sections) mem.write(Number(s.addr), s.bytes);
  const sbi = new Sbi(hs, platform);
  bootHartInSMode(hs[0], prog.entry, 0, DTB);
  const sym = (name: string): bigint => {
    const v = prog.symbols.get(name);
    if (v === undefined) throw new Error(`no symbol '${name}'`);
    return v;
  };
  return { mem, harts: hs, sbi, platform, sym };
}

/**
 * Runs every running hart one instruction at a time, round robin, until hart `hart`
 * reaches `until` (and is not waiting there).
 */
export function run(m: SbiMachine, until: string | string[] = 'done', hart = 0, maxSteps = 20000): string {
  const names = typeof until === 'string' ? [until] : until;
  const stops = new Map(names.map((n) => [m.sym(n), n]));
  for (let step = 0; step < maxSteps; step++) {
    const h = m.harts[hart];
    const at = stops.get(h.pc);
    if (at !== undefined && !h.waiting && m.sbi.isRunning(hart)) return at;
    m.harts.forEach((x, i) => {
      if (m.sbi.isRunning(i)) execute(x, 1);
    });
  }
  throw new Error(`hart ${hart} did not reach ${names.join('/')}: ${describe(m.harts[hart])}`);
}

/** Runs until no running hart can make progress (all wait or are stopped). */
export function runIdle(m: SbiMachine, maxSteps = 20000): void {
  for (let step = 0; step < maxSteps; step++) {
    let busy = false;
    m.harts.forEach((x, i) => {
      if (!m.sbi.isRunning(i)) return;
      execute(x, 1);
      if (!x.waiting) busy = true;
    });
    if (!busy) return;
  }
  throw new Error('harts never went idle');
}
