// The translator's hard cases: self-modifying code, a fault in the middle of a translated
// block (state exact at the faulting instruction), an interrupt arriving while a
// translated loop spins, and a satp change under translated code. Every program also runs
// on the interpreter, and both must end in the same state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Hart } from '../../src/cpu/hart.js';
import { execute } from '../../src/cpu/interp.js';
import { Slot } from '../../src/cpu/state.js';
import { jitOf, runJit } from '../../src/jit/index.js';
import {
  INTERRUPT, Machine, PT_POOL, PTE_A, PTE_R, PTE_W, PTE_X, PageTables, RAM_BASE, SATP_SV39, load, mtrap, paged, poke64, reg, slot,
} from '../support/run-asm.js';

type Exec = (h: Hart, budget: number) => number;

/** Runs until the pc rests on one of the stop symbols (each a `j .` loop). */
function runTo(m: Machine, exec: Exec, stops: string[], budget = 1000): string {
  for (let i = 0; i < 10_000; i++) {
    exec(m.h, budget);
    for (const s of stops) if (m.h.pc === m.sym(s)) return s;
  }
  throw new Error(`never reached ${stops.join('/')}: pc 0x${m.h.pc.toString(16)}`);
}

/** Loads the program twice; returns (interpreter machine, translator machine). */
function both(make: () => Machine): [Machine, Machine] {
  const a = make();
  const b = make();
  jitOf(b.mem).threshold = 1;
  return [a, b];
}

/** Registers and trap state. Instret is compared where the programs read it (s11): at a
 *  spin loop the two executors have looped a different number of times. */
function sameState(a: Machine, b: Machine): void {
  for (let r = 1; r < 32; r++) assert.equal(b.h.s.getX(r), a.h.s.getX(r), `x${r}`);
  for (const s of [Slot.Pc, Slot.Mcause, Slot.Mepc, Slot.Mtval]) {
    assert.equal(slot(b.h, s), slot(a.h, s), `slot ${s}`);
  }
}

const SMC = `
    la t0, mtrap
    csrw mtvec, t0
    li s1, 0
    li s2, 5
loop:
    jal ra, func
    add s1, s1, a0
    addi s2, s2, -1
    bnez s2, loop
    la t0, func
    la t1, patch
    lw t2, 0(t1)
    sw t2, 0(t0)
    fence.i
    jal ra, func
    add s1, s1, a0
    csrr s11, minstret
done: j done
mtrap: j mtrap
    .align 4
func:
    addi a0, zero, 1
    ret
patch:
    addi a0, zero, 100
`;

test('a store over translated code, then FENCE.I, runs the new code', () => {
  const [a, b] = both(() => load(SMC));
  assert.equal(runTo(a, execute, ['done', 'mtrap']), 'done');
  assert.equal(runTo(b, runJit, ['done', 'mtrap']), 'done');
  assert.equal(reg(b.h, 's1'), 105n);
  sameState(a, b);
  const c = jitOf(b.mem).counters;
  assert.ok(c.invalidations >= 1, 'the store invalidated the page');
  assert.ok(c.cacheHits > 0);
});

const FAULT = `
    la t0, mtrap
    csrw mtvec, t0
    j body
body:
    li a1, 7
    li t1, 0x1000
    addi a2, a1, 1
fault:
    ld a3, 0(t1)
    li a4, 9
done: j done
mtrap:
    csrr s11, minstret
spin: j spin
`;

test('an access fault in the middle of a translated block: pc, tval, registers, instret exact', () => {
  const [a, b] = both(() => load(FAULT));
  assert.equal(runTo(a, execute, ['done', 'spin']), 'spin');
  assert.equal(runTo(b, runJit, ['done', 'spin']), 'spin');
  assert.equal(reg(b.h, 's11'), 7n, 'seven instructions retired before the fault');
  assert.equal(jitOf(b.mem).counters.faults, 1, 'the fault was raised in translated code');
  assert.deepEqual(mtrap(b.h), { cause: 5n, epc: b.sym('fault'), tval: 0x1000n });
  assert.equal(reg(b.h, 'a2'), 8n);
  assert.equal(reg(b.h, 'a4'), 0n);
  sameState(a, b);
  assert.ok(jitOf(b.mem).counters.cacheHits > 0);
});

const VA = 0x40001000n;

test('a load page fault in translated S-mode code is exact', () => {
  const make = () => paged(SATP_SV39, `
    j 1f
  1:
    li a1, 7
    li t1, ${VA}
    addi a2, a1, 1
  fault:
    ld a3, 8(t1)
    li a4, 9`, () => undefined);
  const [a, b] = both(make);
  assert.equal(runTo(a, execute, ['done', 'mtrap']), 'mtrap');
  assert.equal(runTo(b, runJit, ['done', 'mtrap']), 'mtrap');
  assert.deepEqual(mtrap(b.h), { cause: 13n, epc: b.sym('fault'), tval: VA + 8n });
  sameState(a, b);
  assert.equal(jitOf(b.mem).counters.faults, 1, 'the fault was raised in translated code');
});

test('a timer interrupt is taken while a translated loop spins', () => {
  const m = load(`
    la t0, handler
    csrw mtvec, t0
    li t0, 0x80
    csrs mie, t0
    csrsi mstatus, 8
loop:
    addi a0, a0, 1
    j loop
handler: j handler`);
  jitOf(m.mem).threshold = 1;
  runJit(m.h, 200_000);
  assert.ok(reg(m.h, 'a0') > 50_000n, 'the loop ran');
  assert.ok(jitOf(m.mem).counters.cacheHits > 0);
  m.h.setInterrupt(0x80, true);
  const n = runJit(m.h, 10);
  assert.ok(n <= 10);
  assert.equal(m.h.pc, m.sym('handler'));
  assert.equal(mtrap(m.h).cause, INTERRUPT | 7n);
});

test('a satp change under translated code fetches through the new mapping', () => {
  const CODE_VA = 0x10000000n;
  const make = () => {
    const m = paged(SATP_SV39, `
    j over
    .align 12
  code1:
    addi a0, zero, 1
    ret
    .align 12
  code2:
    addi a0, zero, 2
    ret
  over:
    li s1, ${CODE_VA}
    li s3, 4
  1:
    jalr ra, 0(s1)
    add s2, s2, a0
    addi s3, s3, -1
    bnez s3, 1b
    la t0, satp_value
    ld t0, 8(t0)
    csrw satp, t0
    sfence.vma
    jalr ra, 0(s1)
    add s2, s2, a0`, (pt, mm) => { pt.map(CODE_VA, mm.sym('code1'), PTE_R | PTE_X | PTE_A); });
    const pt2 = new PageTables(m.mem, SATP_SV39, PT_POOL + 0x40000n);
    pt2.map(BigInt(RAM_BASE), BigInt(RAM_BASE), PTE_R | PTE_W | PTE_X | PTE_A | 128n, 2);
    pt2.map(CODE_VA, m.sym('code2'), PTE_R | PTE_X | PTE_A);
    poke64(m.mem, m.sym('satp_value') + 8n, pt2.satp);
    return m;
  };
  const [a, b] = both(make);
  assert.equal(runTo(a, execute, ['done', 'mtrap']), 'done');
  assert.equal(runTo(b, runJit, ['done', 'mtrap']), 'done');
  assert.equal(reg(b.h, 's2'), 6n);
  sameState(a, b);
  assert.ok(jitOf(b.mem).counters.cacheHits > 0);
});

test('auipc and jal far from the host offset: pc-relative values are exact 64-bit sums', () => {
  const [a, b] = both(() => load(`
    la t0, mtrap
    csrw mtvec, t0
    j far
    .align 12
far:
    auipc a0, 0x7ffff
    auipc a1, 0x80000
    jal a2, next
next:
    addi a3, a2, 4
    csrr s11, minstret
done: j done
mtrap: j mtrap`));
  assert.equal(runTo(a, execute, ['done', 'mtrap']), 'done');
  assert.equal(runTo(b, runJit, ['done', 'mtrap']), 'done');
  assert.equal(reg(b.h, 'a0'), b.sym('far') + 0x7ffff000n);
  sameState(a, b);
});

test('a fault after the dispatcher chained across pages: pc and instret exact', () => {
  // The store's address becomes bad only in the last iteration (no new block to
  // translate), so the fault comes from a block the dispatcher reached from another page.
  const [a, b] = both(() => load(`
    la t0, mtrap
    csrw mtvec, t0
    li s2, 3
    la s4, buf
    li s5, 0x1000
    j body
body:
    addi a1, a1, 1
    j far
    .align 12
far:
    addi a2, a2, 1
    addi s2, s2, -1
    seqz t2, s2
    neg t2, t2
    xor t4, s4, s5
    and t4, t4, t2
    xor t1, s4, t4
fault:
    sd a3, 0(t1)
    bnez s2, body
done: j done
mtrap:
    csrr s11, minstret
spin: j spin
    .align 12
buf: .dword 0`));
  assert.equal(runTo(a, execute, ['done', 'spin']), 'spin');
  const jit = jitOf(b.mem);
  let calls = 0;
  const call = jit.call;
  (jit as { call: typeof call }).call = (...args) => { calls++; return call(...args); };
  assert.equal(runTo(b, runJit, ['done', 'spin']), 'spin');
  assert.deepEqual(mtrap(b.h), { cause: 7n, epc: b.sym('fault'), tval: 0x1000n });
  sameState(a, b);
  assert.equal(jit.counters.faults, 1, 'the fault was raised in translated code');
  assert.ok(calls < jit.counters.blocksTranslated + 3, `${calls} entries from the runtime: the dispatcher chained`);
});

test('AMOs in translated code match the interpreter, and a misaligned one traps exactly', () => {
  const ops = ['amoswap', 'amoadd', 'amoxor', 'amoand', 'amoor', 'amomin', 'amomax', 'amominu', 'amomaxu'];
  const body = ops.flatMap((op, k) => [
    `li t2, ${k % 2 ? '0x80000000fffffff0' : '-7'}`,
    `${op}.w a${k % 6}, t2, (s4)`,
    `${op}.d t${3 + (k % 3)}, t2, (s5)`,
    `lw s6, 0(s4)`, `ld s7, 0(s5)`, `add s8, s8, s6`, `xor s8, s8, s7`,
    `add s9, s9, a${k % 6}`, `xor s9, s9, t${3 + (k % 3)}`,
  ]).join('\n    ');
  const [a, b] = both(() => load(`
    la t0, mtrap
    csrw mtvec, t0
    la s4, buf
    addi s5, s4, 8
    li t0, 0x7ffffff9
    sw t0, 0(s4)
    li t0, 0x8000000000000011
    sd t0, 0(s5)
    j body
body:
    ${body}
    addi t1, s4, 2
fault:
    amoadd.w a0, t2, (t1)
done: j done
mtrap:
    csrr s11, minstret
spin: j spin
    .align 12
buf: .dword 0, 0`));
  assert.equal(runTo(a, execute, ['done', 'spin']), 'spin');
  assert.equal(runTo(b, runJit, ['done', 'spin']), 'spin');
  assert.deepEqual(mtrap(b.h), { cause: 6n, epc: b.sym('fault'), tval: b.sym('buf') + 2n });
  sameState(a, b);
  assert.equal(jitOf(b.mem).counters.faults, 1, 'the fault was raised in translated code');
});

test('calls and returns within a page chain inside translated code', () => {
  const src = `
    li s2, 1000
loop:
    jal ra, func
    add s1, s1, a0
    addi s2, s2, -1
    bnez s2, loop
done: j done
mtrap: j mtrap
func:
    addi a0, s2, 3
    ret`;
  const [a, b] = both(() => load(src));
  const jit = jitOf(b.mem);
  jit.threshold = 5;
  let calls = 0;
  const call = jit.call;
  (jit as { call: typeof call }).call = (...args) => { calls++; return call(...args); };
  for (let i = 0; i < 20; i++) {
    execute(a.h, 1000);
    assert.equal(runJit(b.h, 1000), 1000);
  }
  assert.equal(reg(b.h, 's1'), 503500n);
  sameState(a, b);
  assert.equal(slot(b.h, Slot.Instret), slot(a.h, Slot.Instret));
  assert.ok(calls <= 20, `${calls} entries into translated code for 20 slices`);
});

test('a CSR write inside a translated block that changes the data context ends the block', () => {
  const MPRV_MPP_S = (1n << 17n) | (1n << 11n);
  const make = () => {
    const m = paged(SATP_SV39, `
    j 1f
  1:
    li t0, ${MPRV_MPP_S}
    li t1, ${VA}
    csrs mstatus, t0
    ld a0, 8(t1)
    csrc mstatus, t0
    addi a1, a0, 1`, (pt) => { pt.map(VA, 0x80300000n, PTE_R | PTE_W | PTE_A | 128n); }, { mode: 'M' });
    poke64(m.mem, 0x80300008n, 0x1234_5678_9abcn);
    return m;
  };
  const [a, b] = both(make);
  assert.equal(runTo(a, execute, ['done', 'mtrap']), 'done');
  assert.equal(runTo(b, runJit, ['done', 'mtrap']), 'done');
  assert.equal(reg(b.h, 'a0'), 0x1234_5678_9abcn);
  sameState(a, b);
});

test('enabling interrupts inside a translated block takes a pending one right after', () => {
  const src = `
    la t0, handler
    csrw mtvec, t0
    li t0, 0x80
    csrs mie, t0
    j 1f
1:
    addi a1, a1, 1
    csrsi mstatus, 8
after:
    addi a0, a0, 1
    addi a0, a0, 1
done: j done
handler: j handler`;
  const [a, b] = both(() => load(src));
  for (const m of [a, b]) m.h.setInterrupt(0x80, true);
  assert.equal(runTo(a, execute, ['done', 'handler']), 'handler');
  assert.equal(runTo(b, runJit, ['done', 'handler']), 'handler');
  assert.equal(mtrap(b.h).epc, b.sym('after'));
  assert.equal(reg(b.h, 'a0'), 0n);
  sameState(a, b);
});
