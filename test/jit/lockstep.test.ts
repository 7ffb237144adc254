// Translator and interpreter in lock step on the differential test's random sequences:
// the translated hart runs a few blocks at a time (budgets of 1 to 64 instructions, so the
// dispatcher stops at every kind of block boundary), the interpreted one the same number
// of instructions, and the whole architectural state (registers, FP registers, pc, CSRs,
// counters, the LR/SC reservation) must be identical after every step.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Hart } from '../../src/cpu/hart.js';
import { execute } from '../../src/cpu/interp.js';
import { jitOf, runJit } from '../../src/jit/index.js';
import { makeBatch } from '../diff/runner.js';
import { loadUserElf } from '../support/user-mode.js';

const SYS_WRITE = 64, SYS_EXIT = 93, SYS_EXIT_GROUP = 94;

/** Stops the hart at any trap (the sequences' only traps are their system calls). */
function stopAtTraps(h: Hart): { cause?: number; epc?: bigint } {
  const seen: { cause?: number; epc?: bigint } = {};
  h.firmware = {
    onTrap(hart, cause, _interrupt, pcLo, pcHi) {
      seen.cause = cause;
      seen.epc = (BigInt(pcHi) << 32n) | BigInt(pcLo >>> 0);
      hart.stopRequested = true;
      return true;
    },
  };
  return seen;
}

for (const seed of [21, 22]) {
  test(`translator and interpreter agree after every translated step: seed ${seed}`, { timeout: 120_000 }, () => {
    const batch = makeBatch(seed, 60);
    const a = loadUserElf(batch.elf);
    const b = loadUserElf(batch.elf);
    jitOf(b.mem).threshold = 1;
    const ta = stopAtTraps(a);
    const tb = stopAtTraps(b);
    let steps = 0;
    let exited = false;
    while (!exited && steps < 2_000_000) {
      const r = runJit(b, 1 + (steps % 64));
      let done = 0;
      while (done < r && ta.cause === undefined) {
        const k = execute(a, r - done);
        assert.ok(k > 0, `the interpreter stalled at step ${steps}`);
        done += k;
      }
      assert.equal(done, r, `step ${steps}: retired counts differ`);
      // An ecall retires nothing: the translator's step may end by taking it, where the
      // interpreter's stops just before; one more interpreted instruction takes it too.
      if (tb.cause !== undefined && ta.cause === undefined) assert.equal(execute(a, 1), 0);
      assert.equal(tb.cause, ta.cause, `step ${steps}: traps differ`);
      assert.equal(tb.epc, ta.epc, `step ${steps}: trap pcs differ`);
      if (tb.cause !== undefined) {
        assert.equal(tb.cause, 8, `step ${steps}: unexpected trap ${tb.cause} at 0x${tb.epc?.toString(16)}`);
        // The same system call result on both sides, as user-mode.ts gives it.
        const nr = Number(b.s.getX(17));
        exited = nr === SYS_EXIT || nr === SYS_EXIT_GROUP;
        const ret = nr === SYS_WRITE ? b.s.getX(12) : -38n;
        for (const [h, t] of [[a, ta], [b, tb]] as const) {
          h.s.setX(10, ret);
          h.pc = (t.epc as bigint) + 4n;
          h.stopRequested = false;
          t.cause = undefined;
        }
      }
      // (Compared after a system call is answered: a trap the firmware hook takes leaves
      // the state's pc to the hook, which sets it.)
      assert.deepEqual(a.w, b.w, `step ${steps}: the states differ (pc 0x${a.pc.toString(16)} / 0x${b.pc.toString(16)})`);
      steps++;
    }
    assert.ok(exited, 'the program ran to its exit');
    assert.deepEqual(b.mem.read(Number(b.mem.base), b.mem.size), a.mem.read(Number(a.mem.base), a.mem.size), 'memory differs');
    assert.ok(jitOf(b.mem).counters.blocksTranslated > 200);
  });
}
