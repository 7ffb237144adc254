// Atomicity across host threads: every hart increments shared counters K times, by
// AMOs, by LR/SC retry loops, and by plain loads and stores under a spinlock, and the
// totals must be exactly N*K. The 64-bit counters start just below 2^32, so the carry
// into the high word has to be part of the same atomic step. Hart 0 checks the totals
// in the program (the exit code names the counter that is wrong) and the test reads
// them back from the shared memory. A control shows the harness can see a wrong total:
// the same increments as a plain lw/addi/sw do lose updates when harts overlap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXECS, HART_COUNTS, assertExit, pending, runLitmus, type Litmus } from '../support/smp-litmus.js';

const K = 200_000;
/** The control runs longer (about 50 ms of guest time a hart): on a loaded host the
 *  threads must still overlap. */
const K_PLAIN = 1_000_000;
const NEAR_CARRY = 0xffff0000n;

/** Hart 0's check that the doubleword at `label` holds `expect`, else exit code `code`. */
function expectDword(label: string, expect: bigint, code: number): string {
  return `
    la   t0, ${label}
    ld   t1, 0(t0)
    li   t2, ${expect}
    beq  t1, t2, 8f
    li   a0, ${code}
8:`;
}

/** Hart 0's check that the word at `label` holds `expect` (sign-extended by lw). */
function expectWord(label: string, expect: bigint, code: number): string {
  return `
    la   t0, ${label}
    lw   t1, 0(t0)
    li   t2, ${BigInt.asIntN(32, expect)}
    beq  t1, t2, 8f
    li   a0, ${code}
8:`;
}

const amoCounters = (harts: number): Litmus => ({
  body: `
    la   s0, count_w
    la   s1, count_d
    li   s2, ${K}
    li   t1, 1
4:  amoadd.w zero, t1, (s0)
    amoadd.d zero, t1, (s1)
    addi s2, s2, -1
    bnez s2, 4b`,
  check: expectWord('count_w', BigInt(harts * K), 2) + expectDword('count_d', NEAR_CARRY + BigInt(harts * K), 3),
  data: `
count_w: .word 0
  .balign 64
count_d: .dword ${NEAR_CARRY}`,
});

/** One increment of the counter at (reg) by an LR/SC retry loop; SC failures counted in s4. */
function lrscIncrement(width: 'w' | 'd', reg: string, label: number): string {
  return `
${label}:  lr.${width} t1, (${reg})
    addi t1, t1, 1
    sc.${width} t2, t1, (${reg})
    snez t3, t2
    add  s4, s4, t3
    bnez t2, ${label}b`;
}

const lrscCounters = (harts: number): Litmus => ({
  body: `
    la   s0, count_w
    la   s1, count_d
    li   s2, ${K}
    li   s4, 0
4:  ${lrscIncrement('w', 's0', 5)}
    ${lrscIncrement('d', 's1', 6)}
    addi s2, s2, -1
    bnez s2, 4b
    # How often SC failed on this hart: evidence that the harts did contend.
    la   t0, sc_failures
    slli t1, s11, 3
    add  t0, t0, t1
    sd   s4, 0(t0)`,
  check: expectWord('count_w', BigInt(harts * K), 2) + expectDword('count_d', NEAR_CARRY + BigInt(harts * K), 3),
  data: `
count_w: .word 0
  .balign 64
count_d: .dword ${NEAR_CARRY}
  .balign 64
sc_failures: .zero 64`,
});

/** A test-and-test-and-set lock: acquire with amoswap.w.aq, release with fence rw,w and
 *  a plain store (the usual RISC-V release); the counter is a plain ld/addi/sd. */
const spinlockCounter = (harts: number): Litmus => ({
  body: `
    la   s0, lock
    la   s1, count_d
    li   s2, ${K}
    li   s3, 1
4:  lw   t1, 0(s0)
    bnez t1, 4b
    amoswap.w.aq t1, s3, (s0)
    bnez t1, 4b
    ld   t1, 0(s1)
    addi t1, t1, 1
    sd   t1, 0(s1)
    fence rw, w
    sw   zero, 0(s0)
    addi s2, s2, -1
    bnez s2, 4b`,
  check: expectDword('count_d', NEAR_CARRY + BigInt(harts * K), 3),
  data: `
lock:    .word 0
  .balign 64
count_d: .dword ${NEAR_CARRY}`,
});

const plainCounter: Litmus = {
  body: `
    la   s0, count_w
    li   s2, ${K_PLAIN}
4:  lw   t1, 0(s0)
    addi t1, t1, 1
    sw   t1, 0(s0)
    addi s2, s2, -1
    bnez s2, 4b`,
  data: 'count_w: .word 0',
};

for (const exec of EXECS) {
  const opts = { timeout: 120_000, todo: pending(exec) };
  for (const harts of HART_COUNTS) {
    const name = `${exec}, ${harts} harts, K = ${K}`;

    // Interpreted only: translated, a hart's million increments take a few milliseconds,
    // and on two cores the OS may run the harts one after the other (no overlap to see).
    if (exec === 'interp') test(`the control: plain lw/addi/sw increments from every hart lose updates (${exec}, ${harts} harts, K = ${K_PLAIN})`, opts, async () => {
      const { board, result } = await runLitmus(plainCounter, harts, { exec });
      assertExit(result);
      const total = board.peek64(board.sym('count_w')) & 0xffffffffn;
      assert.ok(total < BigInt(harts * K_PLAIN), `${total} of ${harts * K_PLAIN}: the harts did not overlap, or stores are atomic increments`);
      assert.ok(total >= BigInt(K_PLAIN), `${total}: at least one hart's own increments stay`);
    });

    test(`amoadd.w and amoadd.d from every hart lose no update (${name})`, opts, async () => {
      const { board, result } = await runLitmus(amoCounters(harts), harts, { exec });
      assertExit(result);
      assert.equal(board.peek64(board.sym('count_w')) & 0xffffffffn, BigInt(harts * K));
      assert.equal(board.peek64(board.sym('count_d')), NEAR_CARRY + BigInt(harts * K));
      assert.equal(result.kind === 'exit' && result.code, 0, 'hart 0 found the same totals');
    });

    test(`LR/SC retry loops (.w and .d) from every hart lose no update (${name})`, opts, async (t) => {
      const { board, result } = await runLitmus(lrscCounters(harts), harts, { exec });
      assertExit(result);
      const failures = Array.from({ length: harts }, (_, i) => board.peek64(board.sym('sc_failures') + BigInt(8 * i)));
      t.diagnostic(`SC failures per hart: ${failures.join(', ')} (${Math.round(result.ms)} ms)`);
      assert.equal(board.peek64(board.sym('count_w')) & 0xffffffffn, BigInt(harts * K));
      assert.equal(board.peek64(board.sym('count_d')), NEAR_CARRY + BigInt(harts * K));
      assert.equal(result.kind === 'exit' && result.code, 0, 'hart 0 found the same totals');
    });

    test(`a spinlock (amoswap.w.aq / fence rw,w + sw) keeps a plain ld/addi/sd increment exact (${name})`, opts, async () => {
      const { board, result } = await runLitmus(spinlockCounter(harts), harts, { exec });
      assertExit(result);
      assert.equal(board.peek64(board.sym('count_d')), NEAR_CARRY + BigInt(harts * K));
      assert.equal(board.peek64(board.sym('lock')) & 0xffffffffn, 0n, 'the lock is free at the end');
      assert.equal(result.kind === 'exit' && result.code, 0, 'hart 0 found the same totals');
    });
  }
}
