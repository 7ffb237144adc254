// HSM: starting a stopped hart (register state, error codes), stopping it (it no longer
// runs and can be started again), and retentive / non-retentive suspend.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mip } from '../../src/cpu/trap.js';
import { reg, sreg } from '../support/run-asm.js';
import { boot, call, run, runIdle } from './harness.js';

const HSM = 0x48534d;
const STARTED = 0n, STOPPED = 1n, SUSPENDED = 4n;

function peek(m: ReturnType<typeof boot>, label: string, i: number): bigint {
  const b = m.mem.read(Number(m.sym(label)) + 8 * i, 8);
  return new DataView(b.buffer).getBigUint64(0, true);
}

test('hart_start runs a stopped hart at start_addr with a0 = hartid, a1 = opaque; hart_stop stops it', () => {
  const m = boot(`
    li a0, 1
    ${call(HSM, 2)}
    mv s0, a1                  # STOPPED
    li a0, 1
    la a1, h1
    li a2, 0x5eed
    ${call(HSM, 0)}
    mv s1, a0
    li a0, 1
    ${call(HSM, 2)}
    mv s2, a1                  # STARTED
    li a0, 1
    la a1, h1
    ${call(HSM, 0)}
    mv s3, a0                  # already started
  poll:
    li a0, 1
    ${call(HSM, 2)}
    li t0, 1
    bne a1, t0, poll
    li a0, 1                   # start it again once it has stopped
    la a1, h1
    li a2, 0x600d
    ${call(HSM, 0)}
    mv s4, a0
  poll2:
    li a0, 1
    ${call(HSM, 2)}
    li t0, 1
    bne a1, t0, poll2
  done: j done

  h1:
    csrr t1, satp
    csrr t2, sstatus
    la t0, out
    ld t3, 32(t0)
    addi t3, t3, 1
    sd t3, 32(t0)              # runs
    sd a0, 0(t0)
    sd a1, 8(t0)
    sd t1, 16(t0)
    sd t2, 24(t0)
    ${call(HSM, 1)}
  h1after:
    li t3, 99
    sd t3, 32(t0)              # never reached
    j h1after
  .align 3
  out: .zero 40`);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([reg(h, 's0'), reg(h, 's1'), reg(h, 's2'), sreg(h, 's3'), reg(h, 's4')], [STOPPED, 0n, STARTED, -6n, 0n]);
  assert.equal(peek(m, 'out', 0), 1n, 'a0 = hartid');
  assert.equal(peek(m, 'out', 1), 0x600dn, 'a1 = opaque (second start)');
  assert.equal(peek(m, 'out', 2), 0n, 'satp = 0');
  assert.equal(peek(m, 'out', 3) & 2n, 0n, 'sstatus.SIE = 0');
  assert.equal(peek(m, 'out', 4), 2n, 'started twice, never ran past hart_stop');
  assert.equal(m.sbi.isRunning(1), false);
  assert.equal(m.harts[1].waiting, true, 'parked');
});

test('hart_start and hart_get_status reject bad hartids and addresses', () => {
  const m = boot(`
    li a0, 9
    ${call(HSM, 2)}
    mv s0, a0
    li a0, 9
    la a1, done
    ${call(HSM, 0)}
    mv s1, a0
    li a0, 1
    li a1, 0x1000              # not RAM
    ${call(HSM, 0)}
    mv s2, a0
    li a0, 1
    la a1, done
    addi a1, a1, 1             # odd
    ${call(HSM, 0)}
    mv s3, a0
    li a0, 0
    la a1, done
    ${call(HSM, 0)}            # itself
    mv s4, a0
    ${call(HSM, 9)}
    mv s5, a0
  done: j done`);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([sreg(h, 's0'), sreg(h, 's1'), sreg(h, 's2'), sreg(h, 's3'), sreg(h, 's4'), sreg(h, 's5')], [-3n, -3n, -5n, -5n, -6n, -2n]);
  assert.equal(m.sbi.isRunning(1), false);
});

test('retentive suspend waits for an interrupt enabled in sie, then returns success', () => {
  const m = boot(`
    li t0, 2
    csrs sie, t0               # SSIE, with sstatus.SIE = 0
    li a0, 1                   # reserved type
    ${call(HSM, 3)}
    mv s0, a0
    li a0, 0
    li a1, 0
    ${call(HSM, 3)}
    mv s1, a0
  done: j done`);
  runIdle(m);
  const h = m.harts[0];
  assert.equal(h.waiting, true);
  assert.equal(BigInt(m.sbi.status(0)), SUSPENDED);
  assert.equal(m.sbi.isRunning(0), true, 'a suspended hart is still run (it waits)');
  h.setInterrupt(Mip.SSIP, true);
  run(m);
  assert.deepEqual([sreg(h, 's0'), sreg(h, 's1')], [-3n, 0n]);
  assert.equal(BigInt(m.sbi.status(0)), STARTED);
});

test('non-retentive suspend resumes at resume_addr with a0 = hartid, a1 = opaque, satp = 0', () => {
  const m = boot(`
    li t0, 2
    csrs sie, t0
    li a0, 0x80000000
    li a1, 0x1000              # bad resume address
    ${call(HSM, 3)}
    mv s0, a0
    li a0, 0x80000000
    la a1, resume
    li a2, 0x77
    ${call(HSM, 3)}
  wrong: j wrong
  resume:
    mv s1, a0
    mv s2, a1
    csrr s3, satp
  done: j done`);
  runIdle(m);
  const h = m.harts[0];
  assert.equal(BigInt(m.sbi.status(0)), SUSPENDED);
  h.setInterrupt(Mip.SSIP, true);
  assert.equal(run(m, ['done', 'wrong']), 'done');
  assert.deepEqual([sreg(h, 's0'), reg(h, 's1'), reg(h, 's2'), reg(h, 's3')], [-5n, 0n, 0x77n, 0n]);
});
