import { test } from 'node:test';
import assert from 'node:assert/strict';
import { disassemble } from '../../src/isa/disasm.js';

test('unknown encodings print as .4byte / .2byte', () => {
  assert.equal(disassemble(0xffffffff), '.4byte\t0xffffffff');
  assert.equal(disassemble(0x0000007f), '.4byte\t0x7f');
  assert.equal(disassemble(0x8000), '.2byte\t0x8000');
});

test('branch targets are absolute and wrap at 64 bits', () => {
  assert.equal(disassemble(0xff1ff0ef, 0x80000010n), 'jal\tra,0x80000000');
  assert.equal(disassemble(0xffdff06f, 0n), 'jal\tzero,0xfffffffffffffffc');
  assert.equal(disassemble(0xbfd5, 0x100n), 'c.j\t0xf4');
});

test('rounding modes and CSRs print like objdump', () => {
  assert.equal(disassemble(0x02c5f553), 'fadd.d\tfa0,fa1,fa2');
  assert.equal(disassemble(0x02c58553), 'fadd.d\tfa0,fa1,fa2,rne');
  assert.equal(disassemble(0x02c5d553), 'fadd.d\tfa0,fa1,fa2,unknown');
  assert.equal(disassemble(0x30059573), 'csrrw\ta0,mstatus,a1');
  assert.equal(disassemble(0x7c002573), 'csrrs\ta0,0x7c0,zero');
});

test('never throws on random input', () => {
  let x = 0x9e3779b9;
  for (let k = 0; k < 200000; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const s = disassemble(x | 0, BigInt(k) * 4n);
    assert.equal(typeof s, 'string');
  }
});
