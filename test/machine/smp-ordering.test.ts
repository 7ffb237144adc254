// Memory ordering across host threads, in pairs of harts (2p, 2p+1: two pairs on 4
// harts, at the same time).
//
// Message passing: the even hart writes data = i, fence w,w, flag = i for i = 1..K; the
// odd one reads flag, fence r,r, data, and counts the times data < flag (it saw the
// flag's store before the data's). A control reads them the wrong way round (data,
// then flag), where data < flag is an ordinary interleaving: the count must rise.
//
// Store buffering: in round i the even hart stores x = i, fence rw,rw, loads y; the odd
// one stores y = i, fence rw,rw, loads x; a sense-reversing barrier over all harts
// separates the rounds. Both loads returning the previous round's value is forbidden
// with the fences (each hart's store would have passed its own load). Each hart keeps
// its load of every round; hart 0 counts the forbidden rounds at the end. On an x86
// host that outcome was not seen even without the fence (the interpreter's work between
// a store and the next load outlasts the store buffer), so the control moves each load
// before its store instead: old/old then shows up, and must be counted.
//
// The controls run on 2 harts only: with 4 threads on 2 cores, the two harts of a pair
// rarely run at the same moment, too rarely for an assertion.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXECS, HART_COUNTS, assertExit, barrier, pending, runLitmus, type Litmus } from '../support/smp-litmus.js';

const K = 200_000;

/** s5 = this hart's pair, s6 = the pair's 128-byte stride offset; t0 = 1 on the odd hart. */
const PAIR = `
    srli s5, s11, 1
    slli s6, s5, 7
    andi t0, s11, 1`;

function messagePassing(readFirst: 'flag' | 'data'): Litmus {
  const [first, second] = readFirst === 'flag' ? ['s1', 's0'] : ['s0', 's1'];
  const [flag, data] = readFirst === 'flag' ? ['t1', 't2'] : ['t2', 't1'];
  return {
    body: `
${PAIR}
    la   s0, mp_data
    add  s0, s0, s6
    la   s1, mp_flag
    add  s1, s1, s6
    li   s3, ${K}
    bnez t0, 5f
    # The writer.
    li   s2, 1
4:  sd   s2, 0(s0)
    fence w, w
    sd   s2, 0(s1)
    addi s2, s2, 1
    ble  s2, s3, 4b
    j    7f
    # The reader, until it sees the last flag.
5:  li   s4, 0
    li   s7, 0
6:  ld   t1, 0(${first})
    fence r, r
    ld   t2, 0(${second})
    addi s7, s7, 1
    bgeu ${data}, ${flag}, 8f
    addi s4, s4, 1
8:  bltu ${flag}, s3, 6b
    la   t0, mp_failures
    slli t1, s5, 3
    add  t1, t0, t1
    sd   s4, 0(t1)
    la   t0, mp_reads
    slli t1, s5, 3
    add  t1, t0, t1
    sd   s7, 0(t1)
7:`,
    // Any failure in any pair fails the run (code 4).
    check: `
    la   t0, mp_failures
    ld   t1, 0(t0)
    ld   t2, 8(t0)
    or   t1, t1, t2
    beqz t1, 9f
    li   a0, 4
9:`,
    data: `
mp_data: .zero 256
  .balign 64
mp_flag: .zero 256
  .balign 64
mp_failures: .zero 64
  .balign 64
mp_reads: .zero 64`,
  };
}

/** `reordered`: each hart loads before it stores, which is what a store passing its
 *  load through a store buffer amounts to (the control). */
function storeBuffering(rounds: number, reordered: boolean): Litmus {
  const store = 'sw   s2, 0(s0)', load = 'lw   t1, 0(s1)';
  return {
    body: `
${PAIR}
    # s0 = my store's target, s1 = my load's source (x and y of the pair, crossed).
    la   s0, sb_x
    la   s1, sb_y
    beqz t0, 4f
    mv   t1, s0
    mv   s0, s1
    mv   s1, t1
4:  add  s0, s0, s6
    add  s1, s1, s6
    # s3 = where this hart keeps its loads: sb_res + hart * rounds * 4.
    la   s3, sb_res
    li   t1, ${rounds * 4}
    mul  t1, t1, s11
    add  s3, s3, t1
    li   s2, 1
    li   s4, ${rounds}
    li   s9, 0
5:  ${barrier('sb', 'bar_count', 'bar_sense', 's9')}
    ${reordered ? `${load}
    ${store}` : `${store}
    fence rw, rw
    ${load}`}
    sw   t1, 0(s3)
    addi s3, s3, 4
    addi s2, s2, 1
    ble  s2, s4, 5b`,
    // Forbidden rounds, pair by pair, into sb_forbidden (any one: code 5).
    check: `
    la   s0, sb_res
    la   s1, sb_forbidden
    li   s5, 0
4:  li   t1, ${rounds * 4}
    add  s3, s0, t1
    li   s2, 1
    li   s7, 0
5:  lw   t1, 0(s0)
    lw   t2, 0(s3)
    beq  t1, s2, 6f
    beq  t2, s2, 6f
    addi s7, s7, 1
6:  addi s0, s0, 4
    addi s3, s3, 4
    addi s2, s2, 1
    li   t3, ${rounds}
    ble  s2, t3, 5b
    sd   s7, 0(s1)
    beqz s7, 7f
    li   a0, 5
7:  addi s1, s1, 8
    # The next pair's results follow the odd hart's.
    li   t1, ${rounds * 4}
    add  s0, s0, t1
    addi s5, s5, 2
    blt  s5, s10, 4b`,
    data: `
bar_count: .word 0
  .balign 64
bar_sense: .word 0
  .balign 64
sb_x: .zero 256
  .balign 64
sb_y: .zero 256
  .balign 64
sb_forbidden: .zero 64
  .balign 64
sb_res: .zero ${rounds * 4 * 4}`,
  };
}

/** The four outcomes of store buffering per pair, from the loads the harts kept. */
function sbOutcomes(board: { mem: { read(pa: number, n: number): Uint8Array }; sym(n: string): bigint }, harts: number, rounds: number) {
  const res = board.mem.read(Number(board.sym('sb_res')), harts * rounds * 4);
  const v = new Int32Array(res.buffer, res.byteOffset, harts * rounds);
  const pairs = [];
  for (let p = 0; p < harts / 2; p++) {
    const c = { oldOld: 0, oldNew: 0, newOld: 0, newNew: 0 };
    for (let i = 1; i <= rounds; i++) {
      const a = v[2 * p * rounds + i - 1] === i, b = v[(2 * p + 1) * rounds + i - 1] === i;
      if (!a && !b) c.oldOld++; else if (!a) c.oldNew++; else if (!b) c.newOld++; else c.newNew++;
    }
    pairs.push(c);
  }
  return pairs;
}

/** Rounds of store buffering: every round is a barrier over all harts, which on an
 *  oversubscribed host (4 threads, 2 cores) costs scheduling time. */
const SB_ROUNDS: Record<number, number> = { 2: 10_000, 4: 500 };

for (const exec of EXECS) {
  const opts = { timeout: 120_000, todo: pending(exec) };
  for (const harts of HART_COUNTS) {
    const name = `${exec}, ${harts} harts`;

    test(`message passing: with fence w,w / fence r,r the reader never sees the flag before the data (${name}, K = ${K})`, opts, async (t) => {
      const { board, result } = await runLitmus(messagePassing('flag'), harts, { exec });
      assertExit(result);
      for (let p = 0; p < harts / 2; p++) {
        const reads = board.peek64(board.sym('mp_reads') + BigInt(8 * p));
        t.diagnostic(`pair ${p}: ${reads} reads of flag and data`);
        assert.equal(board.peek64(board.sym('mp_failures') + BigInt(8 * p)), 0n, `pair ${p}: data < flag`);
      }
      assert.equal(result.code, 0, 'hart 0 found no failure either');
    });

    // Interpreted only: translated, the writer's two stores come nanoseconds apart and the
    // reader too seldom falls between them for the control to be sure of seeing it.
    if (harts === 2 && exec === 'interp') test(`message passing control: reading data before flag does see data < flag (${name}, K = ${K})`, opts, async (t) => {
      const { board, result } = await runLitmus(messagePassing('data'), harts, { exec });
      assertExit(result);
      for (let p = 0; p < harts / 2; p++) {
        const failures = board.peek64(board.sym('mp_failures') + BigInt(8 * p));
        t.diagnostic(`pair ${p}: data < flag ${failures} times`);
        assert.ok(failures > 0n, `pair ${p}: the reader never caught the writer between its two loads`);
      }
      assert.equal(result.code, 4, 'hart 0 reports the failures');
    });

    const rounds = SB_ROUNDS[harts];
    test(`store buffering: with fence rw,rw never both loads old (${name}, ${rounds} rounds)`, opts, async (t) => {
      const { board, result } = await runLitmus(storeBuffering(rounds, false), harts, { exec, memSize: 2 << 20 });
      assertExit(result);
      const outcomes = sbOutcomes(board, harts, rounds);
      t.diagnostic(`outcomes per pair: ${JSON.stringify(outcomes)} (${Math.round(result.ms)} ms)`);
      for (const [p, c] of outcomes.entries()) {
        assert.equal(c.oldOld, 0, `pair ${p}: r1 = r2 = old`);
        assert.equal(board.peek64(board.sym('sb_forbidden') + BigInt(8 * p)), 0n, `pair ${p}: hart 0's count`);
      }
      assert.equal(result.code, 0);
    });

    if (harts === 2) test(`store buffering control: each load before its store, old/old is seen and reported (${name}, ${rounds} rounds)`, opts, async (t) => {
      const { board, result } = await runLitmus(storeBuffering(rounds, true), harts, { exec, memSize: 2 << 20 });
      assertExit(result);
      const [c] = sbOutcomes(board, harts, rounds);
      t.diagnostic(`outcomes: ${JSON.stringify(c)} (${Math.round(result.ms)} ms)`);
      assert.ok(c.oldOld > 0, 'the two harts never ran a round at the same time');
      assert.equal(board.peek64(board.sym('sb_forbidden')), BigInt(c.oldOld), "hart 0's count agrees");
      assert.equal(result.code, 5);
    });
  }
}
