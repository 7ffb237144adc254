// Control inside translated code: the dispatcher chaining across pages, calls and returns
// within a page, AMOs, and CSR instructions run from inside a block (which must end it when
// the data context changes or an interrupt becomes pending).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execute } from '../../src/cpu/interp.js';
import { Slot } from '../../src/cpu/state.js';
import { jitOf, runJit } from '../../src/jit/index.js';
import { type Machine, PTE_A, PTE_R, PTE_W, SATP_SV39, load, mtrap, paged, poke64, reg, slot } from '../support/run-asm.js';
import { both, runTo, sameState } from './machines.js';

const VA = 0x40001000n;

/** Runs `body` (after a trap vector is set, with `buf` page-aligned after the code and
 *  holding `data`) on the interpreter and on the translator until it traps into `mtrap`;
 *  both must end in the same state. Returns (interpreter, translator). */
function bothToTrap(body: string, data: string): [Machine, Machine] {
  const [a, b] = both(() => load(`
    la t0, mtrap
    csrw mtvec, t0
    ${body}
done: j done
mtrap:
    csrr s11, minstret
spin: j spin
    .align 12
buf: .dword ${data}`));
  assert.equal(runTo(a, execute, ['done', 'spin']), 'spin');
  assert.equal(runTo(b, runJit, ['done', 'spin']), 'spin');
  sameState(a, b);
  return [a, b];
}

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
  const [, b] = bothToTrap(`
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
    amoadd.w a0, t2, (t1)`, '0, 0');
  assert.deepEqual(mtrap(b.h), { cause: 6n, epc: b.sym('fault'), tval: b.sym('buf') + 2n });
  assert.equal(jitOf(b.mem).counters.faults, 1, 'the fault was raised in translated code');
});

test('LR/SC in translated code match the interpreter, and a misaligned LR traps exactly', () => {
  const [, b] = bothToTrap(`
    la s4, buf
    addi s5, s4, 8
    li s3, 40
loop:
    lr.w a0, (s4)
    addi a0, a0, 3
    sc.w a1, a0, (s4)
    add s8, s8, a1
    lr.d a2, (s5)
    sc.d a3, a0, (s4)
    add s8, s8, a3
    sc.d a3, a2, (s5)
    add s8, s8, a3
    lr.d a4, (s5)
    xori a4, a4, 5
    sc.d a5, a4, (s5)
    add s9, s9, a5
    addi s3, s3, -1
    bnez s3, loop
    addi t1, s4, 4
fault:
    lr.d a0, (t1)`, '0x7ffffff9, 0x11');
  assert.deepEqual(mtrap(b.h), { cause: 4n, epc: b.sym('fault'), tval: b.sym('buf') + 4n });
  assert.equal(jitOf(b.mem).counters.faults, 1, 'the fault was raised in translated code');
});

test('FP loads and stores in translated code match the interpreter; with mstatus.FS off they trap', () => {
  const [a, b] = bothToTrap(`
    li t0, 0x2000
    csrs mstatus, t0
    la s4, buf
    li s3, 30
loop:
    fld f1, 0(s4)
    flw f2, 8(s4)
    fsd f2, 16(s4)
    fsw f1, 24(s4)
    ld a0, 16(s4)
    lwu a1, 24(s4)
    add s8, s8, a0
    add s9, s9, a1
    addi s3, s3, -1
    bnez s3, loop
    csrr s10, mstatus
    li t0, 0x6000
    csrc mstatus, t0
fault:
    fld f3, 0(s4)`, '0x1122334455667788, 0xaabbccdd99887766, 0, 0');
  assert.equal(reg(b.h, 's8'), 30n * 0xffffffff99887766n & 0xffffffffffffffffn);
  assert.equal(reg(b.h, 's10') & 0x6000n, 0x6000n, 'FS dirty after FP loads');
  assert.equal(mtrap(b.h).cause, 2n);
  assert.equal(mtrap(b.h).epc, b.sym('fault'));
  assert.equal(slot(b.h, Slot.Mstatus), slot(a.h, Slot.Mstatus));
  assert.ok(jitOf(b.mem).counters.blocksTranslated > 0);
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

test('a module the engine refuses leaves its blocks to the interpreter, and the run goes on', () => {
  const program = () => load(`
    li s3, 200
loop:
    addi s8, s8, 3
    xor s9, s9, s8
    addi s3, s3, -1
    bnez s3, loop
done: j done`);
  const [a, b] = both(program);
  jitOf(b.mem); // the dispatcher is built before the engine starts refusing
  const real = WebAssembly.Module;
  (WebAssembly as { Module: unknown }).Module = function refuse() { throw new WebAssembly.CompileError('refused for the test'); };
  try {
    assert.equal(runTo(a, execute, ['done']), 'done');
    assert.equal(runTo(b, runJit, ['done']), 'done');
  } finally {
    (WebAssembly as { Module: unknown }).Module = real;
  }
  sameState(a, b);
  const c = jitOf(b.mem).counters;
  assert.ok(c.compileErrors > 0, 'the refusal was counted');
  assert.equal(c.cacheHits, 0, 'nothing ran translated');
});

test('a flush while a compilation is pending does not give its table slots out twice', async () => {
  const m = load(`
    li s3, 100000
loop:
    addi s8, s8, 1
    addi s3, s3, -1
    bnez s3, loop
done: j done`);
  const ref = load(`
    li s3, 100000
loop:
    addi s8, s8, 1
    addi s3, s3, -1
    bnez s3, loop
done: j done`);
  const jit = jitOf(m.mem);
  jit.threshold = 1;
  jit.asyncCompile = true;
  runJit(m.h, 50);
  assert.equal(jit.pendingCompiles, 1);
  jit.flush();
  // Translate afresh (synchronously) while the first compilation is still under way.
  jit.asyncCompile = false;
  runJit(m.h, 50);
  assert.ok(jit.counters.blocksTranslated >= 2);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(jit.pendingCompiles, 0);
  // The late module's slot is in use by the new translation: it must not be free.
  assert.deepEqual((jit as unknown as { freeSlots: number[] }).freeSlots, []);
  assert.equal(runTo(m, runJit, ['done'], 100_000), 'done');
  assert.equal(runTo(ref, execute, ['done'], 100_000), 'done');
  sameState(ref, m);
});
