// STA, steal-time accounting: a hart registers 64 bytes, steal added by the VMM appears
// there with an even sequence number, bad registrations are refused without a write, and
// all-ones stops the reporting. Then the virt board's CPU cap: a busy guest held to 25%
// of a core, the time withheld counted as its steal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import { VirtMachine } from '../../src/machine/virt.js';
import { VIRT } from '../../src/machine/virt-map.js';
import { reg } from '../support/run-asm.js';
import { boot, call, run } from './harness.js';

const STA = 0x535441;
const ALL_ONES = 'li a0, -1\n    li a1, -1';

function steal(mem: { read(pa: number, n: number): Uint8Array }, pa: number): { seq: number; ns: bigint } {
  const b = mem.read(pa, 16);
  const dv = new DataView(b.buffer, b.byteOffset);
  return { seq: dv.getUint32(0, true), ns: dv.getBigUint64(8, true) };
}

test('set_shmem: registered memory is zeroed, then carries the steal the VMM adds', () => {
  const m = boot(`
    la a0, shm
    li a1, 0
    li a2, 0
    ${call(STA)}
    mv s0, a0
  done: j done
  .align 6
  shm: .zero 64`);
  const pa = Number(m.sym('shm'));
  m.mem.write(pa, new Uint8Array(64).fill(0xee));
  run(m);
  assert.equal(reg(m.harts[0], 's0'), 0n);
  assert.deepEqual([...m.mem.read(pa, 64)], new Array(64).fill(0), 'zeroed on registration');
  m.sbi.addSteal(0, 1_500_000);
  m.sbi.addSteal(0, 2_500_000);
  assert.deepEqual(steal(m.mem, pa), { seq: 4, ns: 4_000_000n });
  // The guest scribbling on its structure does not change what the VMM counts.
  m.mem.write(pa + 8, new Uint8Array(8).fill(0xff));
  m.sbi.addSteal(0, 1000);
  assert.deepEqual(steal(m.mem, pa), { seq: 6, ns: 4_001_000n });
});

test('bad registrations: misaligned, flags, beyond RAM, high bits; all-ones stops reporting', () => {
  const m = boot(`
    la a0, shm
    addi a0, a0, 8
    li a1, 0
    li a2, 0
    ${call(STA)}
    mv s0, a0
    la a0, shm
    li a1, 0
    li a2, 1
    ${call(STA)}
    mv s1, a0
    li a0, 0x10000000
    li a1, 0
    li a2, 0
    ${call(STA)}
    mv s2, a0
    la a0, shm
    li a1, 1
    li a2, 0
    ${call(STA)}
    mv s3, a0
    la a0, shm
    li a1, 0
    li a2, 0
    ${call(STA)}
    mv s4, a0
    ${ALL_ONES}
    li a2, 0
    ${call(STA)}
    mv s5, a0
    li a0, 0
    ${call(STA, 1)}
    mv s6, a0
  done: j done
  .align 6
  shm: .zero 64`);
  run(m);
  const h = m.harts[0];
  // -3 invalid param (alignment, flags), -5 invalid address (not RAM, bits above 64), 0,
  // 0 for all-ones, -2 for an unknown function.
  assert.deepEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6'].map((r) => reg(h, r)), [-3n, -3n, -5n, -5n, 0n, 0n, -2n].map((v) => BigInt.asUintN(64, v)));
  const pa = Number(m.sym('shm'));
  m.sbi.addSteal(0, 5000);
  assert.deepEqual(steal(m.mem, pa), { seq: 0, ns: 0n }, 'nothing written after all-ones');
});

test('a CPU cap holds a busy guest to its share of a core, and charges the rest as steal', async () => {
  const prog = assemble(`.text\n_start:\n  la a0, shm\n  li a1, 0\n  li a2, 0\n  ${call(STA)}\n1: addi s1, s1, 1\n  j 1b\n  .align 6\nshm: .zero 64\n`, { base: 0x80200000n });
  const kernel = writeElf(prog);
  const m = new VirtMachine({ memSize: 16 << 20, harts: 1, kernel, append: '', console: () => {}, rngSeed: new Uint8Array(32), exec: 'interp' });
  m.setCpuLimit(0.25);
  const t0 = performance.now();
  const mtime0 = m.time.mtime();
  const run = m.run();
  await new Promise((r) => setTimeout(r, 1500));
  m.stop();
  await run;
  const wall = performance.now() - t0;
  // Guest time follows the host's clock whatever the throttle: no drift.
  const guestMs = (m.time.mtime() - mtime0) / (VIRT.timebaseHz / 1000);
  assert.ok(Math.abs(guestMs - wall) < 50, `guest time ${guestMs.toFixed(0)} ms over ${wall.toFixed(0)} ms of host time`);
  const used = m.busyMs / wall;
  assert.ok(used > 0.15 && used < 0.35, `used ${(used * 100).toFixed(0)}% of a core under a 25% cap`);
  assert.ok(m.stolenMs / wall > 0.55, `stolen ${(m.stolenMs / wall * 100).toFixed(0)}%`);
  // The guest's own structure says the same, in nanoseconds.
  const seen = steal(m.mem, Number(prog.symbols.get('shm')));
  assert.equal(seen.seq % 2, 0);
  assert.ok(Math.abs(Number(seen.ns) / 1e6 - m.stolenMs) < 1, `${seen.ns} ns reported, ${m.stolenMs} ms stolen`);
});
