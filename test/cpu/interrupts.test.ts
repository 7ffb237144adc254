// Interrupt delivery: pending (mip) & enabled (mie) interrupts are taken when globally
// enabled (MIE in M, SIE in S, always at a lower privilege than the target), delegated
// ones are never taken in M-mode, priority is MEI > MSI > MTI > SEI > SSI > STI, and an
// interrupt for M preempts any interrupt for S. Pending bits are driven by the test
// through the mip slot, as a platform's interrupt lines would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot, slotIndex } from '../../src/cpu/state.js';
import { INTERRUPT, Machine, PMP_ALLOW_ALL, load, mtrap, run, slot, strap } from '../support/run-asm.js';

const MSI = 3, MTI = 7, MEI = 11, SSI = 1, STI = 5, SEI = 9;
const bit = (...irqs: number[]) => irqs.reduce((m, i) => m | (1 << i), 0);

function raise(m: Machine, mask: number): void {
  m.h.w[slotIndex(Slot.Mip)] |= mask;
}

/**
 * Program: set mideleg/mie, go to `mode` with the given global enables, then spin at
 * `idle` (a loop). Traps stop at mtrap/strap.
 */
function machine(opts: { mode: 'M' | 'S' | 'U'; mie: number; mideleg?: number; mstatusMIE?: boolean; sstatusSIE?: boolean; vectored?: boolean }): Machine {
  const mpp = opts.mode === 'M' ? 3 : opts.mode === 'S' ? 1 : 0;
  return load(`
    ${PMP_ALLOW_ALL}
    la t0, mtrap
    ${opts.vectored ? 'ori t0, t0, 1' : ''}
    csrw mtvec, t0
    la t0, strap
    csrw stvec, t0
    li t0, ${opts.mideleg ?? 0}
    csrw mideleg, t0
    li t0, ${opts.mie}
    csrw mie, t0
    li t0, ${opts.sstatusSIE ? 2 : 0}
    csrs mstatus, t0
    li t0, 0x1800
    csrc mstatus, t0
    li t0, ${(mpp << 11) | (opts.mstatusMIE ? 0x80 : 0)}
    csrs mstatus, t0             # MPP, and MPIE -> MIE after mret
    la t0, idle
    csrw mepc, t0
    mret
  idle:
    j idle
  .align 8
  mtrap: j mtrap
  .zero 24
  vec7: j vec7                   # mtrap + 4 * 7 (MTI in vectored mode)
  .align 2
  strap: j strap`);
}

/** Runs to idle, raises `pending`, then runs until a handler or the step limit. */
function deliver(m: Machine, pending: number, steps = 50): string {
  run(m, { until: 'idle' });
  raise(m, pending);
  try {
    return run(m, { until: ['mtrap', 'strap', 'vec7'], maxSteps: steps }).stoppedAt;
  } catch {
    return 'none';
  }
}

test('MTI is taken in M-mode with MIE = 1: mcause has the interrupt bit, mepc = next pc', () => {
  const m = machine({ mode: 'M', mie: bit(MTI), mstatusMIE: true });
  assert.equal(deliver(m, bit(MTI)), 'mtrap');
  assert.equal(mtrap(m.h).cause, INTERRUPT | 7n);
  assert.equal(mtrap(m.h).epc, m.sym('idle'));
  assert.equal(mtrap(m.h).tval, 0n);
  const ms = slot(m.h, Slot.Mstatus);
  assert.equal(ms & 8n, 0n, 'MIE cleared');
  assert.equal(ms & 0x80n, 0x80n, 'MPIE = old MIE');
  assert.equal((ms >> 11n) & 3n, 3n, 'MPP = M');
});

test('no interrupt in M-mode when MIE = 0', () => {
  const m = machine({ mode: 'M', mie: bit(MTI, MSI, MEI), mstatusMIE: false });
  assert.equal(deliver(m, bit(MTI, MSI, MEI)), 'none');
});

test('no interrupt when the mie bit is clear', () => {
  const m = machine({ mode: 'M', mie: bit(MSI), mstatusMIE: true });
  assert.equal(deliver(m, bit(MTI)), 'none');
});

test('M interrupts are always enabled in S and U, whatever MIE says', () => {
  for (const mode of ['S', 'U'] as const) {
    const m = machine({ mode, mie: bit(MEI), mstatusMIE: false });
    assert.equal(deliver(m, bit(MEI)), 'mtrap', mode);
    assert.equal(mtrap(m.h).cause, INTERRUPT | 11n);
    assert.equal((slot(m.h, Slot.Mstatus) >> 11n) & 3n, mode === 'S' ? 1n : 0n);
  }
});

test('priority MEI > MSI > MTI > SEI > SSI > STI for interrupts taken in M', () => {
  const order = [MEI, MSI, MTI, SEI, SSI, STI];
  for (let k = 0; k < order.length; k++) {
    const pending = bit(...order.slice(k));
    const m = machine({ mode: 'M', mie: bit(...order), mstatusMIE: true });
    assert.equal(deliver(m, pending), 'mtrap');
    assert.equal(mtrap(m.h).cause, INTERRUPT | BigInt(order[k]), `pending ${pending.toString(16)}`);
  }
});

test('delegated interrupts are not taken in M-mode, even with MIE = 1', () => {
  const m = machine({ mode: 'M', mie: bit(SSI, STI, SEI), mideleg: bit(SSI, STI, SEI), mstatusMIE: true, sstatusSIE: true });
  assert.equal(deliver(m, bit(SSI, STI, SEI)), 'none');
});

test('a delegated interrupt in S-mode needs SIE', () => {
  const off = machine({ mode: 'S', mie: bit(STI), mideleg: bit(STI), sstatusSIE: false });
  assert.equal(deliver(off, bit(STI)), 'none');
  const on = machine({ mode: 'S', mie: bit(STI), mideleg: bit(STI), sstatusSIE: true });
  assert.equal(deliver(on, bit(STI)), 'strap');
  assert.equal(strap(on.h).cause, INTERRUPT | 5n);
  assert.equal(strap(on.h).epc, on.sym('idle'));
  assert.equal(on.h.priv, 1);
  const ms = slot(on.h, Slot.Mstatus);
  assert.equal(ms & 2n, 0n, 'SIE cleared');
  assert.equal(ms & 0x20n, 0x20n, 'SPIE = old SIE');
  assert.equal(ms & 0x100n, 0x100n, 'SPP = S');
});

test('a delegated interrupt in U-mode is taken whatever SIE says', () => {
  const m = machine({ mode: 'U', mie: bit(SSI), mideleg: bit(SSI), sstatusSIE: false });
  assert.equal(deliver(m, bit(SSI)), 'strap');
  assert.equal(strap(m.h).cause, INTERRUPT | 1n);
  assert.equal(slot(m.h, Slot.Mstatus) & 0x100n, 0n, 'SPP = U');
});

test('an interrupt for M is taken before an interrupt for S, whatever their fixed order', () => {
  // In S-mode with SIE = 1: SEI is delegated (to S), STI is not (to M). Interrupts for
  // the more privileged mode are serviced first, so STI goes to M before SEI goes to S.
  const m = machine({ mode: 'S', mie: bit(SEI, STI), mideleg: bit(SEI), sstatusSIE: true });
  assert.equal(deliver(m, bit(SEI, STI)), 'mtrap');
  assert.equal(mtrap(m.h).cause, INTERRUPT | 5n);
});

test('vectored mtvec sends interrupts to BASE + 4 * cause', () => {
  const m = machine({ mode: 'M', mie: bit(MTI), mstatusMIE: true, vectored: true });
  assert.equal(deliver(m, bit(MTI)), 'vec7');
  assert.equal(m.sym('vec7'), m.sym('mtrap') + 28n);
  assert.equal(mtrap(m.h).cause, INTERRUPT | 7n);
});
