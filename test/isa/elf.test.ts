import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { ElfError, readElf, writeElf } from '../../src/isa/elf.js';

const SRC = `
    .text
    .globl _start
_start: la a0, msg
    j _start
    .data
msg: .string "hello"
    .section .rodata
table: .dword 1, 2
    .bss
buf: .zero 100
    .equ CONST, 42
`;

function sample(): Uint8Array {
  return writeElf(assemble(SRC, { base: 0x80200000n }));
}

test('writeElf then readElf round-trips sections, entry and symbols', () => {
  const r = assemble(SRC, { base: 0x80200000n });
  const img = readElf(writeElf(r));
  assert.equal(img.entry, 0x80200000n);
  assert.equal(img.segments.length, r.sections.length);
  img.segments.forEach((seg, k) => {
    const s = r.sections[k];
    assert.equal(seg.vaddr, s.addr);
    assert.equal(seg.paddr, s.addr);
    assert.equal(seg.memsz, BigInt(s.bytes.length));
    assert.deepEqual([...seg.data], [...s.bytes]);
    assert.equal(seg.flags, { rx: 5, rw: 6, r: 4 }[s.flags]);
  });
  assert.deepEqual([...img.symbols].sort(), [...r.symbols].sort());
  assert.equal(img.symbols.get('CONST'), 42n);
});

test('header fields: ELF64 LE, EM_RISCV, ET_EXEC, RVC|double-float', () => {
  const b = sample();
  const v = new DataView(b.buffer);
  assert.deepEqual([...b.subarray(0, 6)], [0x7f, 0x45, 0x4c, 0x46, 2, 1]);
  assert.equal(v.getUint16(16, true), 2);
  assert.equal(v.getUint16(18, true), 243);
  assert.equal(v.getUint32(48, true), 5);
});

function mutated(fn: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = sample();
  fn(b, new DataView(b.buffer));
  return b;
}

test('rejects bad inputs with a clear ElfError', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /not an ELF/],
    ['text file', new TextEncoder().encode('#!/bin/sh\necho hi\n'), /not an ELF/],
    ['truncated header', sample().subarray(0, 40), /header is truncated/],
    ['32-bit', mutated((b) => (b[4] = 1)), /not a 64-bit/],
    ['big-endian', mutated((b) => (b[5] = 2)), /not little-endian/],
    ['x86-64', mutated((_, v) => v.setUint16(18, 62, true)), /not for RISC-V \(e_machine 62/],
    ['relocatable', mutated((_, v) => v.setUint16(16, 1, true)), /not an executable/],
    ['phdrs past end', mutated((_, v) => v.setBigUint64(32, 1n << 40n, true)), /program header table extends past/],
    ['bad phentsize', mutated((_, v) => v.setUint16(54, 32, true)), /program header size/],
    ['no phdrs', mutated((_, v) => v.setUint16(56, 0, true)), /no program headers/],
    ['segment past end', mutated((_, v) => v.setBigUint64(64 + 8, 1n << 20n, true)), /Segment 0 extends past the end/],
    ['filesz > memsz', mutated((_, v) => v.setBigUint64(64 + 40, 1n, true)), /file size larger/],
    ['vaddr overflow', mutated((_, v) => v.setBigUint64(64 + 16, 0xfffffffffffffffcn, true)), /overflows/],
    ['offset overflow', mutated((_, v) => v.setBigUint64(64 + 8, 0xffffffffffffff00n, true)), /overflow|past the end/],
    ['truncated segment', sample().subarray(0, 0x1010), /extends past the end/],
    ['shdrs past end', mutated((_, v) => v.setBigUint64(40, 1n << 33n, true)), /section header table extends past/],
  ];
  for (const [name, bytes, msg] of cases) {
    assert.throws(() => readElf(bytes), (e: unknown) => {
      assert.ok(e instanceof ElfError, `${name}: expected ElfError, got ${String(e)}`);
      assert.match(e.message, msg, name);
      return true;
    });
  }
});

test('fuzz: 2000 random mutations and truncations only ever throw ElfError', () => {
  const base = sample();
  let x = 0x12345678;
  const rnd = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  // Header and program/section header bytes are where parsing decisions live; hit them often.
  const hot = (): number => (rnd(2) ? rnd(64 + 56 * 4) : rnd(base.length));
  let accepted = 0;
  for (let k = 0; k < 2000; k++) {
    let b = base.slice();
    const flips = 1 + rnd(8);
    for (let f = 0; f < flips; f++) {
      const at = rnd(3) ? hot() : base.length - 1 - rnd(64 * 8);
      b[at] = rnd(4) === 0 ? 0xff : rnd(256);
    }
    if (rnd(4) === 0) b = b.subarray(0, rnd(b.length + 1));
    try {
      const img = readElf(b);
      for (const s of img.segments) assert.ok(BigInt(s.data.length) <= s.memsz);
      accepted++;
    } catch (e) {
      assert.ok(e instanceof ElfError, `mutation ${k}: ${String(e)}`);
    }
  }
  assert.ok(accepted > 0 && accepted < 2000, `accepted ${accepted}`);
});

test('segment file offsets stay congruent to addresses for an unaligned base', () => {
  const b = writeElf(assemble('nop\n.data\n.byte 1', { base: 0x80000100n }));
  const v = new DataView(b.buffer);
  for (let k = 0; k < v.getUint16(56, true); k++) {
    const p = 64 + 56 * k;
    assert.equal(v.getBigUint64(p + 8, true) % 4096n, v.getBigUint64(p + 16, true) % 4096n);
  }
  assert.equal(readElf(b).segments[0].vaddr, 0x80000100n);
});
