// The SMP bare-metal runner itself: that it reports what the program says (a pass, a
// failure code: so a litmus check that fails is seen to fail), HTIF console output from
// any hart, and that a run which cannot end by itself still ends: a hart that faults
// with nowhere to trap to, the instruction limit, the timeout. Each on 2 and 4 harts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXECS, HART_COUNTS, litmusBoard, pending, runLitmus } from '../support/smp-litmus.js';
import { runSmp } from '../../src/host/smp/run-smp.js';

for (const exec of EXECS) {
  const TIMEOUT = { timeout: 60_000, todo: pending(exec) };
  for (const harts of HART_COUNTS) {
    const name = `${exec}, ${harts} harts`;

    test(`a pass from hart 0 is exit 0, after every hart ran (${name})`, TIMEOUT, async () => {
      // Each hart marks its own word; the check needs all of them.
      const { board, result } = await runLitmus({
        body: `
    la   t0, marks
    slli t1, s11, 3
    add  t0, t0, t1
    addi t1, s11, 1
    sd   t1, 0(t0)`,
        check: `
    la   t0, marks
    li   t2, 0
4:  slli t3, t2, 3
    add  t3, t0, t3
    ld   t3, 0(t3)
    addi t2, t2, 1
    bne  t3, t2, 5f
    blt  t2, s10, 4b
    j    6f
5:  li   a0, 7
6:`,
        data: 'marks: .zero 64',
      }, harts, { exec });
      assert.deepEqual({ kind: result.kind, code: result.kind === 'exit' ? result.code : undefined }, { kind: 'exit', code: 0 }, JSON.stringify(result, big));
      for (let i = 0; i < harts; i++) assert.equal(board.peek64(board.sym('marks') + BigInt(8 * i)), BigInt(i + 1));
      assert.equal(result.instructions.length, harts);
      for (const n of result.instructions) assert.ok(n > 0, `every hart retired instructions: ${result.instructions}`);
    });

    test(`a failing check's code is the exit code (${name})`, TIMEOUT, async () => {
      const { result } = await runLitmus({ body: '', check: 'li a0, 5' }, harts, { exec });
      assert.equal(result.kind, 'exit');
      // Reported by whichever hart's thread saw tohost first, not always hart 0 that wrote it.
      assert.equal(result.kind === 'exit' && result.code, 5);
    });

    test(`HTIF console output of another hart reaches the caller (${name})`, TIMEOUT, async () => {
      const out: number[] = [];
      // The last hart prints one character through HTIF (device 1, command 1) and waits
      // for the host to take it before everyone finishes.
      const { result } = await runLitmus({
        body: `
    addi t0, s10, -1
    bne  s11, t0, 4f
    la   t0, tohost
    li   t1, 0x0101000000000021
    sd   t1, 0(t0)
7:  ld   t1, 0(t0)
    bnez t1, 7b
4:`,
      }, harts, { exec, output: (b) => out.push(...b) });
      assert.equal(result.kind, 'exit', JSON.stringify(result, big));
      assert.deepEqual(out, [0x21]);
    });

    test(`a hart that jumps to unmapped memory ends the run with a fault report (${name})`, TIMEOUT, async () => {
      // Hart 1 jumps to 0x1000 with mtvec still 0 (not RAM either); hart 0 would wait for
      // it at the end forever.
      const { result } = await runLitmus({
        body: `
    li   t0, 1
    bne  s11, t0, 4f
    li   t0, 0x1000
    jr   t0
4:`,
      }, harts, { exec, timeoutMs: 30_000 });
      assert.equal(result.kind, 'fault', JSON.stringify(result, big));
      if (result.kind !== 'fault') return;
      assert.equal(result.hart, 1);
      assert.equal(result.cause, 1); // instruction access fault
      assert.equal(result.pc, 0x1000n);
      assert.equal(result.tval, 0x1000n);
    });

    test(`the instruction limit ends a program that never writes tohost (${name})`, TIMEOUT, async () => {
      const { result } = await runLitmus({ body: '4: j 4b' }, harts, { exec, maxInstructions: 2_000_000 });
      assert.equal(result.kind, 'limit', JSON.stringify(result, big));
      assert.ok(result.instructions.some((n) => n >= 2_000_000), `${result.instructions}`);
    });

    test(`the timeout ends a program that never writes tohost (${name})`, TIMEOUT, async () => {
      const t0 = Date.now();
      const { result } = await runLitmus({ body: '4: j 4b' }, harts, { exec, timeoutMs: 300 });
      assert.equal(result.kind, 'timeout', JSON.stringify(result, big));
      assert.ok(Date.now() - t0 < 10_000, 'the threads were stopped promptly');
    });
  }
}

test('a board runs once', async () => {
  const { board } = await runLitmus({ body: '' }, 2, { exec: 'interp' });
  await assert.rejects(runSmp(board, { exec: 'interp' }), /already run/);
});

test('a hart thread that throws ends the run as a crash of that hart', { timeout: 60_000 }, async () => {
  const board = litmusBoard({ body: '' }, 2);
  // Hart 1's area lies past the end of the memory: its thread cannot even build the hart.
  const job = board.job.bind(board);
  board.job = (...a) => ({ ...job(...a), areas: [board.harts[0].area, 0x7ffffff0] });
  const result = await runSmp(board, { exec: 'interp', timeoutMs: 30_000 });
  assert.equal(result.kind, 'crashed', JSON.stringify(result, big));
  assert.equal(result.kind === 'crashed' && result.hart, 1);
  assert.match(result.kind === 'crashed' ? result.message : '', /./);
});

/** JSON.stringify replacer for results with bigint fields. */
function big(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : v;
}
