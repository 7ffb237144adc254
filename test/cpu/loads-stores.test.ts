// Loads sign- or zero-extend per width; stores write only their bytes; misaligned
// accesses complete (rvisor emulates them in hardware), also across a page boundary.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peek64, reg, runAsm } from '../support/run-asm.js';

test('lb/lh/lw/ld sign-extend and lbu/lhu/lwu zero-extend', () => {
  const { h } = runAsm(`
    la t0, val
    lb a0, 0(t0)
    lbu a1, 0(t0)
    lh a2, 0(t0)
    lhu a3, 0(t0)
    lw a4, 0(t0)
    lwu a5, 0(t0)
    ld a6, 0(t0)
    lb a7, 7(t0)              # 0x7f: positive
  done: j done
  .data
  val: .dword 0x7f000000f0f1f2f3`);
  assert.equal(reg(h, 'a0'), 0xfffffffffffffff3n);
  assert.equal(reg(h, 'a1'), 0xf3n);
  assert.equal(reg(h, 'a2'), 0xfffffffffffff2f3n);
  assert.equal(reg(h, 'a3'), 0xf2f3n);
  assert.equal(reg(h, 'a4'), 0xfffffffff0f1f2f3n);
  assert.equal(reg(h, 'a5'), 0xf0f1f2f3n);
  assert.equal(reg(h, 'a6'), 0x7f000000f0f1f2f3n);
  assert.equal(reg(h, 'a7'), 0x7fn);
});

test('sb/sh/sw/sd write only their own bytes, little-endian', () => {
  const { mem, sym } = runAsm(`
    la t0, buf
    li t1, 0x1122334455667788
    sd t1, 0(t0)
    sb t1, 8(t0)
    sh t1, 16(t0)
    sw t1, 24(t0)
    li t2, -1
    sb t2, 3(t0)              # patch one byte of the doubleword
  done: j done
  .data
  buf: .dword 0, 0xaaaaaaaaaaaaaaaa, 0xaaaaaaaaaaaaaaaa, 0xaaaaaaaaaaaaaaaa`);
  const buf = sym('buf');
  assert.equal(peek64(mem, buf), 0x11223344ff667788n);
  assert.equal(peek64(mem, buf + 8n), 0xaaaaaaaaaaaaaa88n);
  assert.equal(peek64(mem, buf + 16n), 0xaaaaaaaaaaaa7788n);
  assert.equal(peek64(mem, buf + 24n), 0xaaaaaaaa55667788n);
});

test('negative offsets address below the base register', () => {
  const { h } = runAsm(`
    la t0, val + 8
    ld a0, -8(t0)
  done: j done
  .data
  val: .dword 0x0123456789abcdef`);
  assert.equal(reg(h, 'a0'), 0x0123456789abcdefn);
});

test('misaligned loads and stores of every width succeed', () => {
  const { h, mem, sym } = runAsm(`
    la t0, buf
    li t1, 0x8877665544332211
    sd t1, 1(t0)
    ld a0, 1(t0)
    lw a1, 3(t0)
    lh a2, 7(t0)
    lhu a3, 5(t0)
    lwu a4, 2(t0)
    sw t1, 17(t0)
    sh t1, 27(t0)
  done: j done
  .data
  buf: .zero 40`);
  assert.equal(reg(h, 'a0'), 0x8877665544332211n);
  assert.equal(reg(h, 'a1'), 0x66554433n);
  assert.equal(reg(h, 'a2'), 0xffffffffffff8877n);
  assert.equal(reg(h, 'a3'), 0x6655n);
  assert.equal(reg(h, 'a4'), 0x55443322n);
  assert.equal(peek64(mem, sym('buf') + 16n), 0x0000004433221100n);
  assert.equal(peek64(mem, sym('buf') + 24n), 0x0000002211000000n);
});

test('misaligned accesses crossing a page boundary read and write both pages', () => {
  const { h, mem, sym } = runAsm(`
    la t0, page2
    li t1, 0x0807060504030201
    sd t1, -3(t0)             # 3 bytes in the first page, 5 in the second
    ld a0, -3(t0)
    lw a1, -1(t0)
    lh a2, -1(t0)
    li t2, 0xa1b2c3d4
    sw t2, -2(t0)
    lwu a3, -2(t0)
  done: j done
  .data
  page1: .zero 4096
  page2: .zero 16`);
  // page2 is page aligned: .data starts on a page and page1 is one page long.
  assert.equal(sym('page2') % 4096n, 0n);
  assert.equal(reg(h, 'a0'), 0x0807060504030201n);
  assert.equal(reg(h, 'a1'), 0x06050403n);
  assert.equal(reg(h, 'a2'), 0x0403n);
  assert.equal(reg(h, 'a3'), 0xa1b2c3d4n);
  assert.equal(peek64(mem, sym('page2') - 8n), 0xc3d4010000000000n);
  assert.equal(peek64(mem, sym('page2')), 0x080706a1b2n);
});
