// Byte- and text-exact comparison with GNU as / objdump (binutils 2.40).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { disassemble } from '../../src/isa/disasm.js';
import { expandCompressed } from '../../src/isa/rvc.js';
import { fixtureBytes, fixtureText, isCodePadding, readListing } from './fixtures.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function assertSameCode(name: string): Uint8Array {
  const ours = assemble(fixtureText(`${name}.S`));
  assert.equal(ours.sections.length, 1);
  assert.equal(ours.sections[0].name, '.text');
  assert.equal(ours.sections[0].addr, 0x80000000n);
  const bytes = ours.sections[0].bytes;
  const gold = fixtureBytes(`${name}.bin`);
  assert.ok(gold.length >= bytes.length, 'GNU output is shorter than ours');
  for (let i = 0; i < bytes.length; i += 4) {
    // Compare per word so a failure names the address rather than dumping everything.
    const a = hex(bytes.subarray(i, i + 4));
    const b = hex(gold.subarray(i, i + 4));
    assert.equal(a, b, `${name}.S: bytes differ at 0x${(0x80000000 + i).toString(16)}`);
  }
  assert.ok(isCodePadding(gold, bytes.length), 'GNU output has more than padding after ours');
  return bytes;
}

test('all.S assembles to the same bytes as GNU as', () => {
  assertSameCode('all');
});

test('all.S disassembles like objdump -M no-aliases', () => {
  const lines = readListing('all.objdump.txt');
  assert.ok(lines.length > 350);
  for (const l of lines) assert.equal(disassemble(l.word, l.addr), l.text, `at 0x${l.addr.toString(16)}`);
});

test('rvc.S (explicit c.* mnemonics) assembles to the same bytes as GNU as', () => {
  assertSameCode('rvc');
});

test('rvc.S disassembles like objdump', () => {
  for (const l of readListing('rvc.objdump.txt')) {
    assert.equal(disassemble(l.word, l.addr), l.text, `at 0x${l.addr.toString(16)}`);
  }
});

test('each GNU-assembled c.* parcel expands to the word of its 32-bit equivalent', () => {
  const lines = readListing('rvc.objdump.txt');
  const equivalents = fixtureText('rvc.S').split('\n')
    .filter((l) => /^\s*c\./.test(l))
    .map((l) => l.split('#')[1].trim());
  assert.equal(equivalents.length, lines.length);
  lines.forEach((l, k) => {
    const r = assemble(`\t.option norvc\n\t${equivalents[k]}\n`, { base: l.addr });
    const word = new DataView(r.sections[0].bytes.buffer).getUint32(0, true);
    assert.equal(expandCompressed(l.word) >>> 0, word, `${l.text} vs ${equivalents[k]}`);
  });
});

test('data directives produce the same bytes as GNU as', () => {
  const ours = assemble(fixtureText('data.S')).sections[0].bytes;
  const gold = fixtureBytes('data.bin');
  assert.equal(hex(ours), hex(gold.subarray(0, ours.length)));
  assert.ok(isCodePadding(gold, ours.length));
});
