// Multi-hart litmus programs for the SMP bare-metal runner: a frame that every test
// fills with a body (run by every hart) and a check (run by hart 0 once all harts have
// finished the body), assembled by the project's assembler and run with each hart on
// its own thread. The result comes back twice: the check's verdict through tohost, and
// the memory itself, which the test reads after the run (it is shared with the harts).

import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { jitOf } from '../../src/jit/index.js';
import { SmpBoard, type ExecMode } from '../../src/machine/smp-board.js';
import { runSmp, type SmpResult, type SmpRunOptions } from '../../src/host/smp/run-smp.js';

export const EXECS: ExecMode[] = ['interp', 'jit'];
export const HART_COUNTS = [2, 4];

/** Why a mode's tests are expected to fail for now (node:test's `todo`: they still run
 *  and report), or undefined. The translator is being taught shared memory elsewhere:
 *  until its modules import a shared memory, they cannot be instantiated over one. */
export function pending(exec: ExecMode): string | undefined {
  if (exec !== 'jit') return undefined;
  try {
    jitOf(new GuestMemory(0x80000000, 1 << 16, { shared: true }));
    return undefined;
  } catch (e) {
    return `the translator cannot run on a shared memory yet (${e instanceof Error ? e.message : String(e)})`;
  }
}

export interface Litmus {
  /** Run by every hart, with s11 = its mhartid and s10 = the number of harts. May use
   *  every register but s10 and s11. */
  body: string;
  /** Run by hart 0 after every hart finished the body: leaves 0 in a0 for a pass, or a
   *  failure code (the run's exit code). */
  check?: string;
  /** Data, after the frame's own (each item should start on its own 64-byte line). */
  data?: string;
}

/**
 * The whole program: a start barrier, the body, an arrival barrier (harts other than 0 then park in WFI,
 * so they free the host's cores for the check), hart 0's check, and tohost = 1 (pass)
 * or code << 1 | 1.
 */
export function litmusProgram(t: Litmus, harts: number): string {
  return `
  .text
  .globl _start
_start:
    csrr s11, mhartid
    li   s10, ${harts}
    # Worker threads start many milliseconds apart: wait for all of them, so the bodies
    # really run at the same time.
    la   t0, started
    li   t1, 1
    amoadd.w.aqrl zero, t1, (t0)
0:  lw   t1, 0(t0)
    blt  t1, s10, 0b
    fence r, rw
${t.body}
    # Everyone arrives; hart 0 waits for all of them, the others park.
    la   t0, arrived
    li   t1, 1
    amoadd.w.aqrl zero, t1, (t0)
    bnez s11, park
1:  lw   t1, 0(t0)
    blt  t1, s10, 1b
    fence r, rw
    li   a0, 0
${t.check ?? ''}
    beqz a0, 2f
    slli a0, a0, 1
    ori  a0, a0, 1
    j    3f
2:  li   a0, 1
3:  la   t0, tohost
    sd   a0, 0(t0)
park:
    wfi
    j    park

  .data
  .balign 64
tohost:   .dword 0
  .balign 64
fromhost: .dword 0
  .balign 64
started:  .word 0
  .balign 64
arrived:  .word 0
  .balign 64
${t.data ?? ''}
`;
}

/** A board for `t` with `harts` harts (1 MiB of RAM, unless the data needs more). */
export function litmusBoard(t: Litmus, harts: number, memSize = 1 << 20): SmpBoard {
  const elf = writeElf(assemble(litmusProgram(t, harts), { base: 0x80000000n }));
  return new SmpBoard(elf, { harts, memSize });
}

export async function runLitmus(t: Litmus, harts: number, opts: SmpRunOptions & { memSize?: number }): Promise<{ board: SmpBoard; result: SmpResult }> {
  const board = litmusBoard(t, harts, opts.memSize);
  const result = await runSmp(board, opts);
  return { board, result };
}

/** Asserts that the run ended through tohost (with any code), showing the whole result
 *  otherwise: a fault, crash or timeout says more than the counters it left. */
export function assertExit(r: SmpResult): asserts r is SmpResult & { kind: 'exit' } {
  const show = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v));
  assert.equal(r.kind, 'exit', `the run did not end through tohost: ${show}`);
}

/** A sense-reversing barrier over the harts (s10 of them): `count` and `sense` are
 *  words of the program's data, `local` a register that holds this hart's sense (0 at
 *  first) and only this code changes. Clobbers t0-t2; `id` makes its labels unique. */
export function barrier(id: string, count: string, sense: string, local: string): string {
  return `
    xori ${local}, ${local}, 1
    la   t0, ${count}
    li   t1, 1
    amoadd.w.aqrl t2, t1, (t0)
    addi t2, t2, 1
    bne  t2, s10, ${id}_wait
    # The last to arrive resets the count, then releases the others.
    sw   zero, 0(t0)
    la   t0, ${sense}
    fence rw, w
    sw   ${local}, 0(t0)
    j    ${id}_done
${id}_wait:
    la   t0, ${sense}
${id}_spin:
    lw   t1, 0(t0)
    bne  t1, ${local}, ${id}_spin
    fence r, rw
${id}_done:`;
}
