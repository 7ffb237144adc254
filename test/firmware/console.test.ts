// DBCN and the legacy console: bytes reach the platform, reads land in guest memory, and
// a buffer outside RAM is SBI_ERR_INVALID_PARAM without touching anything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reg, sreg } from '../support/run-asm.js';
import { boot, call, run } from './harness.js';

const DBCN = 0x4442434e;

test('console_write sends a buffer, write_byte one byte', () => {
  const m = boot(`
    li a0, 6
    la a1, msg
    li a2, 0
    ${call(DBCN, 0)}
    mv s0, a0
    mv s1, a1
    li a0, 0x21
    ${call(DBCN, 2)}
    mv s2, a0
    li a0, 0
    la a1, msg
    li a2, 0
    ${call(DBCN, 0)}        # zero bytes: success, nothing written
    mv s3, a0
    mv s4, a1
  done: j done
  msg: .ascii "hello\\nXX"`);
  run(m);
  const h = m.harts[0];
  assert.equal(m.platform.text, 'hello\n!');
  assert.deepEqual([reg(h, 's0'), reg(h, 's1'), reg(h, 's2'), reg(h, 's3'), reg(h, 's4')], [0n, 6n, 0n, 0n, 0n]);
});

test('console_read copies the bytes available into guest memory and returns their count', () => {
  const m = boot(`
    li a0, 8
    la a1, buf
    li a2, 0
    ${call(DBCN, 1)}
    mv s0, a0
    mv s1, a1
    li a0, 8
    la a1, buf
    li a2, 0
    ${call(DBCN, 1)}        # nothing left to read
    mv s2, a0
    mv s3, a1
  done: j done
  .align 3
  buf: .zero 8`);
  m.platform.input.push(0x6f, 0x6b, 0x0a);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([reg(h, 's0'), reg(h, 's1'), reg(h, 's2'), reg(h, 's3')], [0n, 3n, 0n, 0n]);
  assert.deepEqual([...m.mem.read(Number(m.sym('buf')), 4)], [0x6f, 0x6b, 0x0a, 0]);
});

test('DBCN buffers outside RAM are SBI_ERR_INVALID_PARAM and nothing is transferred', () => {
  const m = boot(`
    li a0, 4
    li a1, 0x1000              # below RAM
    li a2, 0
    ${call(DBCN, 0)}
    mv s0, a0
    li a0, 16
    li a1, 0x801ffff8          # runs past the end of RAM
    li a2, 0
    ${call(DBCN, 0)}
    mv s1, a0
    li a0, 4
    la a1, done
    li a2, 1                   # address bits above 64
    ${call(DBCN, 0)}
    mv s2, a0
    li a0, 4
    li a1, -8
    li a2, 0
    ${call(DBCN, 1)}           # read into a huge address
    mv s3, a0
    li a0, -1
    la a1, done
    li a2, 0
    ${call(DBCN, 0)}           # 2^64 - 1 bytes
    mv s4, a0
  done: j done`);
  m.platform.input.push(0x41);
  run(m);
  const h = m.harts[0];
  assert.deepEqual([sreg(h, 's0'), sreg(h, 's1'), sreg(h, 's2'), sreg(h, 's3'), sreg(h, 's4')], [-3n, -3n, -3n, -3n, -3n]);
  assert.deepEqual(m.platform.out, []);
  assert.deepEqual(m.platform.input, [0x41], 'no byte consumed by a failed read');
});

test('legacy console_putchar and console_getchar return in a0 only', () => {
  const m = boot(`
    li a1, 55
    li a0, 0x4f
    ${call(0x01)}
    mv s0, a0
    mv s1, a1
    ${call(0x02)}
    mv s2, a0
    ${call(0x02)}
    mv s3, a0
  done: j done`);
  m.platform.input.push(0x7a);
  run(m);
  const h = m.harts[0];
  assert.equal(m.platform.text, 'O');
  assert.deepEqual([sreg(h, 's0'), sreg(h, 's1'), sreg(h, 's2'), sreg(h, 's3')], [0n, 55n, 0x7an, -1n]);
});
