// The A extension: LR/SC reservations and every AMO in .w and .d forms. AMOs return
// the old memory value (sign-extended from 32 bits for .w) and store op(old, rs2).
// Misaligned LR raises a load misaligned exception (4), misaligned SC/AMO a store/AMO
// misaligned exception (6), with mtval = the address.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mtrap, peek64, reg, runAsm } from '../support/run-asm.js';

const u64 = (v: bigint) => BigInt.asUintN(64, v);
const u32 = (v: bigint) => BigInt.asUintN(32, v);
const s64 = (v: bigint) => BigInt.asIntN(64, v);
const s32 = (v: bigint) => BigInt.asIntN(32, v);

type Op = (a: bigint, b: bigint, signed: (v: bigint) => bigint) => bigint;
const AMOS: Record<string, Op> = {
  amoswap: (_a, b) => b,
  amoadd: (a, b) => a + b,
  amoxor: (a, b) => a ^ b,
  amoand: (a, b) => a & b,
  amoor: (a, b) => a | b,
  amomin: (a, b, s) => (s(a) < s(b) ? a : b),
  amomax: (a, b, s) => (s(a) > s(b) ? a : b),
  amominu: (a, b) => (a < b ? a : b),
  amomaxu: (a, b) => (a > b ? a : b),
};

function amo(insn: string, mem0: bigint, rs2: bigint): { rd: bigint; mem: bigint } {
  const { h, mem, sym } = runAsm(`
    la t0, cell
    li t1, ${u64(rs2)}
    ${insn} a0, t1, (t0)
  done: j done
  .data
  cell: .dword ${u64(mem0)}`);
  return { rd: reg(h, 'a0'), mem: peek64(mem, sym('cell')) };
}

const CASES: [bigint, bigint][] = [
  [5n, 3n], [3n, 5n], [-1n, 1n], [1n, -1n], [0x7fffffffffffffffn, 1n], [-(1n << 63n), -1n],
  [0x80000000n, 0x7fffffffn], [0x123456780000ffffn, 0xabcdef0180000001n],
];

test('every AMO .d returns the old value and stores op(old, rs2)', () => {
  for (const [name, f] of Object.entries(AMOS)) {
    for (const [m, b] of CASES) {
      const r = amo(`${name}.d`, m, b);
      assert.equal(r.rd, u64(m), `${name}.d rd for ${m}, ${b}`);
      assert.equal(r.mem, u64(f(u64(m), u64(b), s64)), `${name}.d memory for ${m}, ${b}`);
    }
  }
});

test('every AMO .w works on the low word, sign-extends rd, and leaves the next word alone', () => {
  for (const [name, f] of Object.entries(AMOS)) {
    for (const [m, b] of CASES) {
      const r = amo(`${name}.w`, m, b);
      assert.equal(r.rd, u64(s32(m)), `${name}.w rd for ${m}, ${b}`);
      const low = u32(f(u32(m), u32(b), s32));
      assert.equal(r.mem, (u64(m) & 0xffffffff00000000n) | low, `${name}.w memory for ${m}, ${b}`);
    }
  }
});

test('amomin.w/amomax.w compare signed 32-bit values, amominu.w/amomaxu.w unsigned', () => {
  // 0x80000000 is INT32_MIN signed but 2^31 unsigned.
  assert.equal(amo('amomin.w', 0x80000000n, 1n).mem, 0x80000000n);
  assert.equal(amo('amominu.w', 0x80000000n, 1n).mem, 1n);
  assert.equal(amo('amomax.w', 0x80000000n, 1n).mem, 1n);
  assert.equal(amo('amomaxu.w', 0x80000000n, 1n).mem, 0x80000000n);
  // rs2's upper word is ignored by the .w forms.
  assert.equal(amo('amomax.w', 0n, 0x1ffffffffn).mem, 0n);
});

test('amoadd.w with rd = x0 still updates memory', () => {
  const r = amo('amoadd.w', 40n, 2n);
  assert.equal(r.mem, 42n);
  const { mem, sym } = runAsm(`
    la t0, cell
    li t1, 2
    amoadd.d zero, t1, (t0)
  done: j done
  .data
  cell: .dword 40`);
  assert.equal(peek64(mem, sym('cell')), 42n);
});

test('lr.d/sc.d succeed on a held reservation: sc writes 0 to rd and stores', () => {
  const { h, mem, sym } = runAsm(`
    la t0, cell
    lr.d a0, (t0)
    addi t1, a0, 1
    sc.d a1, t1, (t0)
  done: j done
  .data
  cell: .dword 0x100000000`);
  assert.equal(reg(h, 'a0'), 0x100000000n);
  assert.equal(reg(h, 'a1'), 0n);
  assert.equal(peek64(mem, sym('cell')), 0x100000001n);
});

test('lr.w sign-extends; sc.w stores only the low word', () => {
  const { h, mem, sym } = runAsm(`
    la t0, cell
    lr.w a0, (t0)
    li t1, 0x1234567876543210
    sc.w a1, t1, (t0)
  done: j done
  .data
  cell: .dword 0x55555555f0000000`);
  assert.equal(reg(h, 'a0'), 0xfffffffff0000000n);
  assert.equal(reg(h, 'a1'), 0n);
  assert.equal(peek64(mem, sym('cell')), 0x5555555576543210n);
});

test('sc without a reservation fails: rd nonzero, memory unchanged', () => {
  const { h, mem, sym } = runAsm(`
    la t0, cell
    li t1, 7
    sc.d a0, t1, (t0)
  done: j done
  .data
  cell: .dword 1`);
  assert.notEqual(reg(h, 'a0'), 0n);
  assert.equal(peek64(mem, sym('cell')), 1n);
});

test('a second sc after a successful one fails (the reservation is consumed)', () => {
  const { h, mem, sym } = runAsm(`
    la t0, cell
    lr.d a0, (t0)
    li t1, 7
    sc.d a1, t1, (t0)
    li t1, 9
    sc.d a2, t1, (t0)
  done: j done
  .data
  cell: .dword 1`);
  assert.equal(reg(h, 'a1'), 0n);
  assert.notEqual(reg(h, 'a2'), 0n);
  assert.equal(peek64(mem, sym('cell')), 7n);
});

test('sc to an address other than the reserved one fails', () => {
  const { h, mem, sym } = runAsm(`
    la t0, cell
    lr.d a0, (t0)
    li t1, 7
    addi t2, t0, 64
    sc.d a1, t1, (t2)
  done: j done
  .data
  cell: .dword 1
  .zero 56
  other: .dword 2`);
  assert.notEqual(reg(h, 'a1'), 0n);
  assert.equal(peek64(mem, sym('other')), 2n);
});

test('a trap between lr and sc makes the sc fail', () => {
  // The handler skips the ecall and returns; trap entry clears the reservation.
  const { h, mem, sym } = runAsm(`
    la t0, handler
    csrw mtvec, t0
    la t0, cell
    lr.d a0, (t0)
    ecall
    li t1, 7
    sc.d a1, t1, (t0)
  done: j done
  handler:
    csrr t2, mepc
    addi t2, t2, 4
    csrw mepc, t2
    mret
  .data
  cell: .dword 1`);
  assert.notEqual(reg(h, 'a1'), 0n);
  assert.equal(peek64(mem, sym('cell')), 1n);
});

function misaligned(insn: string, offset: number): { cause: bigint; epc: bigint; tval: bigint; cell: bigint; bad: bigint; addr: bigint } {
  const { h, mem, sym } = runAsm(`
    la t0, trap
    csrw mtvec, t0
    la t0, cell + ${offset}
    li t1, 0x77
  bad:
    ${insn}
  done: j done
  trap: j trap
  .data
  cell: .dword 0x1111111111111111, 0`, { until: ['done', 'trap'] });
  return { ...mtrap(h), cell: peek64(mem, sym('cell')), bad: sym('bad'), addr: sym('cell') + BigInt(offset) };
}

test('misaligned AMOs raise store/AMO address misaligned (6) with mtval = address', () => {
  for (const [insn, off] of [['amoadd.w a0, t1, (t0)', 2], ['amoswap.d a0, t1, (t0)', 4], ['amoor.d a0, t1, (t0)', 1], ['amomaxu.w a0, t1, (t0)', 1]] as const) {
    const r = misaligned(insn, off);
    assert.equal(r.cause, 6n, insn);
    assert.equal(r.epc, r.bad, insn);
    assert.equal(r.tval, r.addr, insn);
    assert.equal(r.cell, 0x1111111111111111n, `${insn} must not write`);
  }
});

test('misaligned lr raises load address misaligned (4)', () => {
  for (const [insn, off] of [['lr.w a0, (t0)', 2], ['lr.d a0, (t0)', 4]] as const) {
    const r = misaligned(insn, off);
    assert.equal(r.cause, 4n, insn);
    assert.equal(r.tval, r.addr, insn);
  }
});

test('misaligned sc raises store/AMO address misaligned (6)', () => {
  const r = misaligned('sc.d a0, t1, (t0)', 4);
  assert.equal(r.cause, 6n);
  assert.equal(r.tval, r.addr);
});
