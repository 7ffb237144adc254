// The virt board ends the run of a guest that can no longer make progress (stall.ts), and
// never that of a guest that can: S-mode programs on rvisor's SBI, with limits of 0.3 s
// and 100 instructions instead of 10 s and 300 million (so that only the guest's state
// decides). Guest time is the host's clock, so each case runs for well under a second.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import { VIRT } from '../../src/machine/virt-map.js';
import { type VirtExit, VirtMachine } from '../../src/machine/virt.js';

const KERNEL_BASE = 0x80200000n;
const WINDOW = 0.3 * VIRT.timebaseHz;
/** Timer period of the healthy programs: 10 ms; they run 60 periods, twice the window. */
const TICK = VIRT.timebaseHz / 100;
const TICKS = 60;

const sbi = (eid: number, fid = 0) => `li a7, ${eid}\n  li a6, ${fid}\n  ecall`;
const SET_TIMER = sbi(0x54494d45);
const SHUTDOWN = `li a0, 0\n  li a1, 0\n  ${sbi(0x53525354)}`;
/** a0 = now + one tick (clobbers t6). */
const NEXT_TICK = `rdtime a0\n  li t6, ${TICK}\n  add a0, a0, t6`;

function boot(body: string, opts: { harts?: number; panicked?: boolean } = {}): { machine: VirtMachine; run: Promise<VirtExit> } {
  const kernel = writeElf(assemble(`.text\n_start:\n  ${body}\n`, { base: KERNEL_BASE }));
  const machine = new VirtMachine({
    memSize: 16 << 20,
    harts: opts.harts ?? 1,
    kernel,
    append: '',
    console: () => {},
    rngSeed: new Uint8Array(32),
    stall: { ticks: WINDOW, instructions: 100 },
  });
  if (opts.panicked) machine.endOnKernelSpin();
  // Should the watch fail to end a run, or end one too late, the run still ends (and the
  // test fails): a guard, never how a case ends.
  const guard = setTimeout(() => machine.stop(), 10_000);
  return { machine, run: machine.run().finally(() => clearTimeout(guard)) };
}

const hung = { kind: 'stalled', how: 'hung' };
const poweroff = { kind: 'poweroff', code: 0 };

test('interrupts off and a spin: hung', async () => {
  assert.deepEqual(await boot(`
  csrw sie, zero
  csrci sstatus, 2
1: j 1b`).run, hung);
});

test('WFI with no interrupt enabled, even on two harts (the other never started): hung', async () => {
  assert.deepEqual(await boot(`
  csrw sie, zero
1: wfi
  j 1b`, { harts: 2 }).run, hung);
});

test('WFI with only the timer interrupt enabled and no timer armed: hung', async () => {
  assert.deepEqual(await boot(`
  li t0, 0x20
  csrw sie, t0
1: wfi
  j 1b`).run, hung);
});

test('a timer interrupt pending but masked by SIE, and a spin: hung', async () => {
  assert.deepEqual(await boot(`
  li t0, 0x20
  csrw sie, t0
  csrci sstatus, 2
  rdtime a0
  ${SET_TIMER}
1: j 1b`).run, hung);
});

test('every hart stopped through HSM: hung', async () => {
  assert.deepEqual(await boot(sbi(0x48534d, 1)).run, hung);
});

/** Idle as Linux idles: WFI with SIE clear and the timer armed, for twice the window. */
const IDLE = `
  li t0, 0x20
  csrw sie, t0
  csrci sstatus, 2
  li s0, 0
loop:
  ${NEXT_TICK}
  ${SET_TIMER}
  wfi
  addi s0, s0, 1
  li t0, ${TICKS}
  blt s0, t0, loop
  ${SHUTDOWN}`;

test('idle in WFI with SIE clear and the timer armed: not hung', async () => {
  assert.deepEqual(await boot(IDLE).run, poweroff);
});

test('interrupts off, but writing to the UART: not hung', async () => {
  assert.deepEqual(await boot(`
  csrw sie, zero
  csrci sstatus, 2
  li s1, 0x10000000
  li s0, 0
loop:
  rdtime t0
  li t1, ${TICK}
  add t0, t0, t1
wait:
  rdtime t1
  bltu t1, t0, wait
  li t1, 0x2e
  sb t1, 0(s1)
  addi s0, s0, 1
  li t1, ${TICKS}
  blt s0, t1, loop
  ${SHUTDOWN}`).run, poweroff);
});

/** A kernel busy with interrupts on: the timer handler counts ticks, the main loop spins. */
const BUSY = `
  la t0, handler
  csrw stvec, t0
  li t0, 0x20
  csrw sie, t0
  li s0, 0
  ${NEXT_TICK}
  ${SET_TIMER}
  csrsi sstatus, 2
spin:
  li t0, ${TICKS}
  blt s0, t0, spin
  ${SHUTDOWN}
.align 2
handler:
  addi s0, s0, 1
  ${NEXT_TICK}
  ${SET_TIMER}
  sret`;

test('a kernel spinning with interrupts on is busy, not hung', async () => {
  assert.deepEqual(await boot(BUSY).run, poweroff);
});

test('after a panic, a guest that idles is not in a panic loop', async () => {
  assert.deepEqual(await boot(IDLE, { panicked: true }).run, poweroff);
});

test('after a panic, the same spin is the panic loop and ends the run', async () => {
  assert.deepEqual(await boot(BUSY, { panicked: true }).run, { kind: 'stalled', how: 'spinning' });
});

test('with a debugger attached the watch is off', async () => {
  const { machine, run } = boot(`
  csrw sie, zero
  csrci sstatus, 2
1: j 1b`);
  machine.debugGate = { armed: false, mayRun: () => true, runHart: () => {} };
  // Three windows of guest time, then the test ends the run itself.
  const start = machine.time.mtime();
  const check = setInterval(() => {
    if (machine.time.mtime() - start > 3 * WINDOW) machine.stop();
  }, 10);
  try {
    assert.deepEqual(await run, { kind: 'stopped' });
  } finally {
    clearInterval(check);
  }
});
