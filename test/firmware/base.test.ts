// Boot state and the BASE extension: what an S-mode kernel finds when rvisor's SBI
// starts it, version/id queries, probing, and SBI_ERR_NOT_SUPPORTED for unknown calls.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot } from '../../src/cpu/state.js';
import { IMPL_ID, SBI_MEDELEG, SBI_MIDELEG } from '../../src/firmware/sbi.js';
import { reg, slot, sreg } from '../support/run-asm.js';
import { boot, call, DTB, run } from './harness.js';

const BASE = 0x10;

test('the boot hart starts in S-mode with a0 = hartid, a1 = dtb, MMU off, OpenSBI delegation', () => {
  const m = boot(`
    mv s0, a0
    mv s1, a1
    csrr s2, satp
    csrr s3, time          # mcounteren lets S read time...
    csrr s4, stimecmp      # ...and Sstc's stimecmp
  done: j done`);
  const h = m.harts[0];
  run(m);
  assert.equal(h.priv, 1);
  assert.equal(reg(h, 's0'), 0n);
  assert.equal(reg(h, 's1'), DTB);
  assert.equal(reg(h, 's2'), 0n);
  assert.equal(reg(h, 's4'), 0xffffffffffffffffn);
  assert.equal(slot(h, Slot.Medeleg), BigInt(SBI_MEDELEG));
  assert.equal(SBI_MEDELEG, 0xb159);
  assert.equal(slot(h, Slot.Mideleg), BigInt(SBI_MIDELEG));
  assert.equal(slot(h, Slot.Menvcfg) >> 63n, 1n, 'STCE');
  assert.equal(m.sbi.status(0), 0, 'boot hart STARTED');
  assert.equal(m.sbi.status(1), 1, 'other harts STOPPED');
  assert.equal(m.sbi.isRunning(1), false);
});

test('BASE reports spec v2.0, the implementation id and zero machine ids', () => {
  const m = boot(`
    ${call(BASE, 0)}
    mv s0, a0
    mv s1, a1
    ${call(BASE, 1)}
    mv s2, a1
    ${call(BASE, 2)}
    mv s3, a0
    li a1, 77
    ${call(BASE, 4)}
    mv s4, a1
    ${call(BASE, 5)}
    mv s5, a1
    ${call(BASE, 6)}
    mv s6, a1
  done: j done`);
  run(m);
  const h = m.harts[0];
  assert.equal(reg(h, 's0'), 0n);
  assert.equal(reg(h, 's1'), 0x02000000n);
  assert.equal(reg(h, 's2'), BigInt(IMPL_ID));
  assert.equal(reg(h, 's3'), 0n);
  assert.deepEqual([reg(h, 's4'), reg(h, 's5'), reg(h, 's6')], [0n, 0n, 0n]);
});

test('probe_extension finds the implemented extensions and nothing else', () => {
  const eids = [0x54494d45, 0x735049, 0x52464e43, 0x48534d, 0x53525354, 0x4442434e, 0x10, 0x01, 0x02, 0x08];
  const absent = [0x504d55 /* PMU */, 0x53555350 /* SUSP */, 0x04, 0x12345678];
  const probes = [...eids, ...absent].map((e, i) => `
    li a0, ${e}
    ${call(BASE, 3)}
    sd a1, ${8 * i}(s0)`).join('');
  const m = boot(`
    la s0, results
    ${probes}
  done: j done
  .align 3
  results: .zero ${8 * (eids.length + absent.length)}`);
  run(m);
  const out = m.mem.read(Number(m.sym('results')), 8 * (eids.length + absent.length));
  const dv = new DataView(out.buffer);
  const got = [...eids, ...absent].map((_, i) => dv.getBigInt64(8 * i, true));
  assert.deepEqual(got, [...eids.map(() => 1n), ...absent.map(() => 0n)]);
});

test('unknown extensions and functions return SBI_ERR_NOT_SUPPORTED and resume after the ecall', () => {
  const m = boot(`
    ${call(0x0abcdef0, 0)}
    mv s0, a0
    ${call(BASE, 99)}
    mv s1, a0
    ${call(0x4442434e, 7)}
    mv s2, a0
    li a1, 1234
    ${call(0x05, 0)}       # legacy remote fence.i: not implemented
    mv s3, a0
    mv s4, a1
  done: j done`);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([sreg(h, 's0'), sreg(h, 's1'), sreg(h, 's2'), sreg(h, 's3')], [-2n, -2n, -2n, -2n]);
  assert.equal(reg(h, 's4'), 1234n, 'legacy calls preserve a1');
});
