// The translator's hard cases: self-modifying code, a fault in the middle of a translated
// block (state exact at the faulting instruction), an interrupt arriving while a
// translated loop spins, and a satp change under translated code. Every program also runs
// on the interpreter, and both must end in the same state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execute } from '../../src/cpu/interp.js';
import { jitOf, runJit } from '../../src/jit/index.js';
import {
  INTERRUPT, PT_POOL, PTE_A, PTE_R, PTE_W, PTE_X, PageTables, RAM_BASE, SATP_SV39, load, mtrap, paged, peek64, poke64, reg,
} from '../support/run-asm.js';
import { both, runTo, sameState } from './machines.js';

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

// SC is a compare-and-swap against the value LR loaded (what makes LR/SC atomic when
// harts share memory across threads, and what QEMU does): a store to the reserved word
// between them fails it, in translated code as in the interpreter.
const LRSC = `
    la t0, cell
    li t1, 7
    li t2, 99
    lr.d a0, (t0)
    sd t2, 0(t0)
    sc.d a1, t1, (t0)
    lr.d a2, (t0)
    sc.d a3, t1, (t0)
    la t3, word
    lr.w a4, (t3)
    sw t2, 0(t3)
    sc.w a5, t1, (t3)
    lr.w a6, (t3)
    sc.w a7, t1, (t3)
    li t4, -5
    amomin.w s2, t4, (t3)
    amomaxu.w s3, t1, (t3)
    amomax.d s4, t4, (t0)
    amominu.d s5, t4, (t0)
done: j done
mtrap: j mtrap
.data
cell: .dword 1
word: .dword 0x1234567800000001
`;

test('SC after a store to the reserved word fails (compare-and-swap); AMO min/max on both engines', () => {
  const [a, b] = both(() => load(LRSC));
  assert.equal(runTo(a, execute, ['done', 'mtrap']), 'done');
  assert.equal(runTo(b, runJit, ['done', 'mtrap']), 'done');
  for (const m of [a, b]) {
    assert.deepEqual(['a1', 'a3', 'a5', 'a7'].map((r) => reg(m.h, r)), [1n, 0n, 1n, 0n]);
    // amomin.w: min(7, -5) = -5; amomaxu.w: max(0xfffffffb, 7) unsigned keeps it.
    assert.equal(reg(m.h, 's2'), 7n);
    assert.equal(reg(m.h, 's3'), BigInt.asUintN(64, -5n));
    assert.equal(peek64(m.mem, m.sym('word')), 0x12345678fffffffbn);
    // amomax.d: max(7, -5) = 7; amominu.d: min(7, 2^64 - 5) = 7.
    assert.equal(reg(m.h, 's4'), 7n);
    assert.equal(peek64(m.mem, m.sym('cell')), 7n);
  }
  sameState(a, b);
});
