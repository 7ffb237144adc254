// Privileged instructions that trap: sret in U or with mstatus.TSR in S, wfi in U or
// with TW in S, sfence.vma in U or with TVM in S, satp access with TVM in S. All raise
// illegal instruction (2) with mtval = the instruction.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enterMode, mtrap, runAsm } from '../support/run-asm.js';

const TVM = 1 << 20, TW = 1 << 21, TSR = 1 << 22;

function attempt(mode: 'U' | 'S', mstatusBits: number, insn: string): { trapped: boolean; cause: bigint; tval: bigint; atSite: boolean } {
  const { h, sym, stoppedAt } = runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    li t0, ${mstatusBits}
    csrs mstatus, t0
    la t0, done
    csrw sepc, t0              # for sret in S: return straight to done
    ${enterMode(mode, 'lower')}
  lower:
  site: ${insn}
  done: j done
  .align 2
  mtrap: j mtrap`, { until: ['done', 'mtrap'] });
  const t = mtrap(h);
  return { trapped: stoppedAt === 'mtrap', cause: t.cause, tval: t.tval, atSite: t.epc === sym('site') };
}

function assertIllegal(r: ReturnType<typeof attempt>, bits: bigint, what: string): void {
  assert.equal(r.trapped, true, `${what} should trap`);
  assert.equal(r.cause, 2n, what);
  assert.equal(r.tval, bits, what);
  assert.equal(r.atSite, true, what);
}

test('sret is illegal in U-mode', () => {
  assertIllegal(attempt('U', 0, 'sret'), 0x10200073n, 'sret in U');
});

test('sret is illegal in S-mode when TSR = 1, legal when TSR = 0', () => {
  assertIllegal(attempt('S', TSR, 'sret'), 0x10200073n, 'sret with TSR');
  assert.equal(attempt('S', 0, 'sret').trapped, false);
});

test('wfi is illegal in U-mode', () => {
  assertIllegal(attempt('U', 0, 'wfi'), 0x10500073n, 'wfi in U');
});

test('wfi is illegal in S-mode when TW = 1', () => {
  assertIllegal(attempt('S', TW, 'wfi'), 0x10500073n, 'wfi with TW');
});

test('sfence.vma is illegal in U-mode and in S-mode with TVM = 1, legal in S otherwise', () => {
  assertIllegal(attempt('U', 0, 'sfence.vma'), 0x12000073n, 'sfence.vma in U');
  assertIllegal(attempt('S', TVM, 'sfence.vma'), 0x12000073n, 'sfence.vma with TVM');
  assert.equal(attempt('S', 0, 'sfence.vma').trapped, false);
});

test('reading or writing satp in S-mode with TVM = 1 is illegal', () => {
  assertIllegal(attempt('S', TVM, 'csrr a0, satp'), 0x18002573n, 'csrr satp with TVM');
  assertIllegal(attempt('S', TVM, 'csrw satp, zero'), 0x18001073n, 'csrw satp with TVM');
  assert.equal(attempt('S', 0, 'csrr a0, satp').trapped, false);
});

test('TSR/TW/TVM do not affect M-mode', () => {
  const { stoppedAt } = runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    li t0, ${TSR | TW | TVM}
    csrs mstatus, t0
    sfence.vma
    csrr a0, satp
    la t0, done
    csrw sepc, t0
    sret
  done: j done
  .align 2
  mtrap: j mtrap`, { until: ['done', 'mtrap'] });
  assert.equal(stoppedAt, 'done');
});
