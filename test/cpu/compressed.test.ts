// RVC: compressed instructions executed directly (written with their c.* mnemonics so
// the 16-bit encodings are what runs). Each expands to its 32-bit counterpart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mtrap, peek64, reg, runAsm } from '../support/run-asm.js';

test('c.li, c.lui, c.addi, c.addiw, c.nop', () => {
  const { h } = runAsm(`
    c.li a0, -32
    c.li a1, 31
    c.lui a2, 0xfffe0         # nzimm -32 << 12, sign-extended
    c.lui a3, 1
    c.addi a1, -1
    li a4, 0x7fffffff
    c.addiw a4, 1             # 32-bit wrap, sign-extended
    li a5, 0x100000005
    c.addiw a5, 0             # sext.w
    c.nop
  done: j done`);
  assert.equal(reg(h, 'a0'), 0xffffffffffffffe0n);
  assert.equal(reg(h, 'a1'), 30n);
  assert.equal(reg(h, 'a2'), 0xfffffffffffe0000n);
  assert.equal(reg(h, 'a3'), 0x1000n);
  assert.equal(reg(h, 'a4'), 0xffffffff80000000n);
  assert.equal(reg(h, 'a5'), 5n);
});

test('c.addi16sp and c.addi4spn scale their immediates', () => {
  const { h } = runAsm(`
    li sp, 0x80100000
    c.addi16sp sp, -64
    mv a0, sp
    c.addi4spn a1, sp, 1020
    c.addi16sp sp, 496
    mv a2, sp
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x80100000n - 64n);
  assert.equal(reg(h, 'a1'), 0x80100000n - 64n + 1020n);
  assert.equal(reg(h, 'a2'), 0x80100000n - 64n + 496n);
});

test('c.slli, c.srli, c.srai (6-bit shamt) and c.andi', () => {
  const { h } = runAsm(`
    li a0, 0x8000000000000003
    mv a1, a0
    mv a2, a0
    mv a3, a0
    c.slli a0, 63
    c.srli a1, 32
    c.srai a2, 33
    c.andi a3, -2
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x8000000000000000n);
  assert.equal(reg(h, 'a1'), 0x80000000n);
  assert.equal(reg(h, 'a2'), 0xffffffffc0000000n);
  assert.equal(reg(h, 'a3'), 0x8000000000000002n);
});

test('c.mv, c.add and the CA-format c.sub/c.xor/c.or/c.and/c.subw/c.addw', () => {
  const { h } = runAsm(`
    li s0, 0x00000000fffffff0
    li s1, 0x0000000000000020
    c.mv a0, s0
    c.add a0, s1              # 0x100000010
    mv a1, s0
    c.sub a1, s1
    mv a2, s0
    c.xor a2, s1
    mv a3, s0
    c.or a3, s1
    mv a4, s0
    c.and a4, s1
    mv a5, s0
    c.addw a5, s1             # low word wraps to 0x10
    li s1, 0x7fffffff
    li s0, -1
    c.subw s0, s1             # 0xffffffff - 0x7fffffff = 0x80000000 -> negative
    mv a6, s0
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x100000010n);
  assert.equal(reg(h, 'a1'), 0xffffffd0n);
  assert.equal(reg(h, 'a2'), 0xffffffd0n);
  assert.equal(reg(h, 'a3'), 0xfffffff0n);
  assert.equal(reg(h, 'a4'), 0x20n);
  assert.equal(reg(h, 'a5'), 0x10n);
  assert.equal(reg(h, 'a6'), 0xffffffff80000000n);
});

test('c.lw/c.ld/c.sw/c.sd and the sp-relative c.lwsp/c.ldsp/c.swsp/c.sdsp', () => {
  const { h, mem, sym } = runAsm(`
    la s0, buf
    mv sp, s0
    c.lw a0, 4(s0)            # sign-extended
    c.ld a1, 8(s0)
    c.lwsp a2, 4(sp)
    c.ldsp a3, 8(sp)
    li a4, 0x1122334455667788
    c.sw a4, 16(s0)
    c.sd a4, 24(s0)
    c.swsp a4, 32(sp)
    c.sdsp a4, 40(sp)
  done: j done
  .data
  buf: .dword 0x80000000aaaaaaaa, 0x0123456789abcdef, 0, 0, 0, 0`);
  const buf = sym('buf');
  assert.equal(reg(h, 'a0'), 0xffffffff80000000n);
  assert.equal(reg(h, 'a1'), 0x0123456789abcdefn);
  assert.equal(reg(h, 'a2'), 0xffffffff80000000n);
  assert.equal(reg(h, 'a3'), 0x0123456789abcdefn);
  assert.equal(peek64(mem, buf + 16n), 0x55667788n);
  assert.equal(peek64(mem, buf + 24n), 0x1122334455667788n);
  assert.equal(peek64(mem, buf + 32n), 0x55667788n);
  assert.equal(peek64(mem, buf + 40n), 0x1122334455667788n);
});

test('c.j, c.beqz, c.bnez branch relative to the 2-byte instruction', () => {
  const { h } = runAsm(`
    li a0, 0
    li s0, 0
    li s1, 1
    c.beqz s0, 1f
    ori a0, a0, 1             # skipped
  1: c.bnez s0, 1f
    ori a0, a0, 2             # executed
  1: c.bnez s1, 1f
    ori a0, a0, 4             # skipped
  1: c.j 1f
    ori a0, a0, 8             # skipped
  1: c.beqz s1, 1f
    ori a0, a0, 16            # executed
  1:
  done: j done`);
  assert.equal(reg(h, 'a0'), 2n | 16n);
});

test('c.jalr links pc + 2; c.jr jumps without linking', () => {
  const { h, sym } = runAsm(`
    la t0, sub
  site:
    c.jalr t0
    mv a1, a0
  done: j done
  sub:
    mv a0, ra
    c.jr ra`);
  assert.equal(reg(h, 'a0'), sym('site') + 2n);
  assert.equal(reg(h, 'a1'), sym('site') + 2n);
});

test('c.ebreak raises a breakpoint exception at its own pc', () => {
  const { h, sym } = runAsm(`
    la t0, trap
    csrw mtvec, t0
  bp:
    c.ebreak
  done: j done
  .align 2                    # mtvec needs a 4-byte aligned handler
  trap: j trap`, { until: ['done', 'trap'] });
  assert.equal(h.pc, sym('trap'));
  assert.equal(mtrap(h).cause, 3n);
  assert.equal(mtrap(h).epc, sym('bp'));
});

test('a 32-bit instruction straddling a page boundary executes', () => {
  // 4094 bytes of c.nop put the addi's two halves in different pages.
  const { h, sym } = runAsm(`
    .zero 0
    ${'c.nop\n'.repeat(2047)}
  straddle:
    addi a0, zero, 1234
  done: j done`, { maxSteps: 5000 });
  assert.equal(sym('straddle') % 4096n, 4094n);
  assert.equal(reg(h, 'a0'), 1234n);
});

test('c.fsd/c.fld and c.fsdsp/c.fldsp move doubles through memory', () => {
  const { h, mem, sym } = runAsm(`
    li t0, 0x2000
    csrs mstatus, t0          # FS = Initial
    la s0, buf
    mv sp, s0
    c.fld fa0, 0(s0)
    c.fsd fa0, 8(s0)
    c.fldsp fa1, 0(sp)
    c.fsdsp fa1, 16(sp)
    fmv.x.d a0, fa1
  done: j done
  .data
  buf: .dword 0x400921fb54442d18, 0, 0`);
  assert.equal(peek64(mem, sym('buf') + 8n), 0x400921fb54442d18n);
  assert.equal(peek64(mem, sym('buf') + 16n), 0x400921fb54442d18n);
  assert.equal(reg(h, 'a0'), 0x400921fb54442d18n);
});
