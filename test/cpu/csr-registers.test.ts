// Trap-setup CSRs: misa, the writable bits of medeleg/mideleg/mie/mip, the sie/sip
// views through mideleg, xtvec modes, xepc alignment and satp's unsupported modes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, runAsm } from '../support/run-asm.js';

test('misa reads RV64IMAFDCSU and ignores writes', () => {
  const letters = 'IMAFDCSU';
  let ext = 0n;
  for (const c of letters) ext |= 1n << BigInt(c.charCodeAt(0) - 65);
  const { h } = runAsm(`
    csrr a0, misa
    csrw misa, zero
    csrr a1, misa
  done: j done`);
  assert.equal(reg(h, 'a0'), (2n << 62n) | ext);
  assert.equal(reg(h, 'a1'), reg(h, 'a0'));
});

test('medeleg: standard delegable exceptions are writable, ecall-from-M (11) is read-only 0', () => {
  const { h } = runAsm(`
    li t0, -1
    csrw medeleg, t0
    csrr a0, medeleg
    csrw medeleg, zero
    csrr a1, medeleg
  done: j done`);
  const v = reg(h, 'a0');
  for (const bit of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15]) assert.equal((v >> BigInt(bit)) & 1n, 1n, `bit ${bit}`);
  assert.equal((v >> 11n) & 1n, 0n);
  assert.equal(reg(h, 'a1'), 0n);
});

test('mideleg: only the supervisor interrupts (SSI, STI, SEI) are delegable', () => {
  const { h } = runAsm(`
    li t0, -1
    csrw mideleg, t0
    csrr a0, mideleg
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x222n);
});

test('mie: the six standard interrupt enables are writable', () => {
  const { h } = runAsm(`
    li t0, -1
    csrw mie, t0
    csrr a0, mie
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xaaan);
});

test('sie is mie restricted to the delegated bits, for reads and writes', () => {
  const { h } = runAsm(`
    li t0, 0x20                  # STI delegated only
    csrw mideleg, t0
    li t0, 0xaaa
    csrw mie, t0
    csrr a0, sie
    csrw sie, zero               # clears STIE only
    csrr a1, mie
    li t0, -1
    csrw sie, t0                 # sets STIE only
    csrr a2, mie
    csrr a3, sie
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x20n);
  assert.equal(reg(h, 'a1'), 0xa8an);
  assert.equal(reg(h, 'a2'), 0xaaan);
  assert.equal(reg(h, 'a3'), 0x20n);
});

test('mip: SSIP/STIP/SEIP are writable from M, MSIP/MTIP/MEIP are not', () => {
  const { h } = runAsm(`
    li t0, -1
    csrw mip, t0
    csrr a0, mip
    csrw mie, zero
    csrw mip, zero
    csrr a1, mip
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x222n);
  assert.equal(reg(h, 'a1'), 0n);
});

test('sip is mip restricted to mideleg; only SSIP is writable through it', () => {
  const { h } = runAsm(`
    li t0, 0x222
    csrw mideleg, t0
    li t0, 0x220                 # STIP | SEIP
    csrw mip, t0
    csrr a0, sip
    li t0, -1
    csrw sip, t0
    csrr a1, mip
    csrw sip, zero
    csrr a2, mip
    li t0, 0x200
    csrw mideleg, t0             # SEI only: sip hides STIP
    csrr a3, sip
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x220n);
  assert.equal(reg(h, 'a1'), 0x222n);
  assert.equal(reg(h, 'a2'), 0x220n);
  assert.equal(reg(h, 'a3'), 0x200n);
});

test('mtvec and stvec accept modes 0 (direct) and 1 (vectored) and ignore 2 and 3', () => {
  const { h } = runAsm(`
    li t0, 0x80001000
    csrw mtvec, t0
    li t1, 0x80002001
    csrw mtvec, t1
    csrr a0, mtvec
    li t1, 0x80003002
    csrw mtvec, t1
    csrr a1, mtvec
    li t1, 0x80004003
    csrw stvec, t1
    csrr a2, stvec
    li t1, 0x80005001
    csrw stvec, t1
    csrr a3, stvec
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x80002001n);
  assert.equal(reg(h, 'a1'), 0x80002001n, 'mode 2 write ignored');
  assert.equal(reg(h, 'a2'), 0n, 'mode 3 write ignored');
  assert.equal(reg(h, 'a3'), 0x80005001n);
});

test('mepc and sepc clear bit 0 (IALIGN = 16 with C)', () => {
  const { h } = runAsm(`
    li t0, 0x80000007
    csrw mepc, t0
    csrr a0, mepc
    csrw sepc, t0
    csrr a1, sepc
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x80000006n);
  assert.equal(reg(h, 'a1'), 0x80000006n);
});

test('satp: Bare/Sv39/Sv48/Sv57 are accepted, an unsupported mode leaves satp unchanged', () => {
  const { h } = runAsm(`
    li t0, 0x8000000000080123
    csrw satp, t0
    csrr a0, satp
    li t1, 0x1000000000000456    # mode 1 (Sv32) does not exist on RV64
    csrw satp, t1
    csrr a1, satp
    li t1, 0xf000000000000456    # mode 15: reserved
    csrw satp, t1
    csrr a2, satp
    li t1, 0x9000000000000001
    csrw satp, t1
    csrr a3, satp
    li t1, 0xa000000000000002
    csrw satp, t1
    csrr a4, satp
    csrw satp, zero
    csrr a5, satp
  done: j done`);
  assert.equal(reg(h, 'a0') >> 60n, 8n);
  assert.equal(reg(h, 'a0') & 0xfffffffffffn, 0x80123n);
  assert.equal(reg(h, 'a1'), reg(h, 'a0'));
  assert.equal(reg(h, 'a2'), reg(h, 'a0'));
  assert.equal(reg(h, 'a3') >> 60n, 9n);
  assert.equal(reg(h, 'a4') >> 60n, 10n);
  assert.equal(reg(h, 'a5'), 0n);
});

test('mscratch and sscratch hold any 64-bit value', () => {
  const { h } = runAsm(`
    li t0, 0xdeadbeefcafef00d
    csrw mscratch, t0
    csrw sscratch, t0
    csrr a0, mscratch
    csrrw a1, sscratch, zero
    csrr a2, sscratch
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xdeadbeefcafef00dn);
  assert.equal(reg(h, 'a1'), 0xdeadbeefcafef00dn);
  assert.equal(reg(h, 'a2'), 0n);
});
