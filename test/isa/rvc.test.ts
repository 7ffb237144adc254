// Exhaustive checks of the RVC expander and compressed disassembly against
// objdump's view of all 49152 compressed parcels, and of the spec where
// objdump is more lenient.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/isa/asm.js';
import { disassemble } from '../../src/isa/disasm.js';
import { buildRvcTable, expandCompressed } from '../../src/isa/rvc.js';
import { fixtureGzipText, normaliseObjdump } from './fixtures.js';

/** Parcels objdump prints as instructions although the spec reserves them. */
const SPEC_RESERVED_OBJDUMP_ACCEPTS = new Set([
  0x0000, // all-zero parcel: defined illegal (objdump: c.unimp)
  0x6101, // c.addi16sp with nzimm = 0: reserved (objdump: c.addi16sp sp,0)
]);

const parcels: number[] = [];
for (let p = 0; p < 65536; p++) if ((p & 3) !== 3) parcels.push(p);
const objdump = fixtureGzipText('rvc-all.objdump.txt.gz').split('\n').slice(0, parcels.length).map(normaliseObjdump);

function word(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
}

test('fixture covers every compressed parcel', () => {
  assert.equal(objdump.length, 49152);
  assert.ok(objdump.every((l) => l.length > 0));
});

test('every parcel disassembles exactly as objdump prints it', () => {
  parcels.forEach((p, i) => {
    assert.equal(disassemble(p, BigInt(2 * i)), objdump[i], `parcel 0x${p.toString(16)}`);
  });
});

test('legal/illegal agrees with objdump except where the spec reserves more', () => {
  let illegal = 0;
  parcels.forEach((p, i) => {
    const objdumpLegal = !objdump[i].startsWith('.2byte');
    const ours = expandCompressed(p) !== 0;
    if (!ours) illegal++;
    if (SPEC_RESERVED_OBJDUMP_ACCEPTS.has(p)) assert.equal(ours, false, `0x${p.toString(16)} is reserved`);
    else assert.equal(ours, objdumpLegal, `parcel 0x${p.toString(16)} (${objdump[i]})`);
  });
  assert.equal(illegal, 2409);
});

test('every legal expansion re-assembles from its own disassembly', () => {
  for (const p of parcels) {
    const w = expandCompressed(p) >>> 0;
    if (w === 0) continue;
    const text = disassemble(w, 0x1000n);
    assert.ok(!text.startsWith('.4byte'), `0x${p.toString(16)} expands to an unknown word`);
    const r = assemble(text.replace('\t', ' '), { base: 0x1000n });
    assert.equal(word(r.sections[0].bytes), w, `0x${p.toString(16)}: ${text}`);
  }
});

test('every printable parcel re-assembles from its c.* text', () => {
  parcels.forEach((p, i) => {
    if (objdump[i].startsWith('.2byte')) return;
    const r = assemble(objdump[i].replace('\t', ' '), { base: BigInt(2 * i) });
    const b = r.sections[0].bytes;
    assert.equal(b.length, 2);
    assert.equal(b[0] | (b[1] << 8), p, objdump[i]);
  });
});

test('reserved and hint encodings from the spec', () => {
  const cases: [number, string | 0][] = [
    [0x0000, 0], // illegal instruction
    [0x0008, 0], // c.addi4spn nzuimm = 0
    [0x4002 | (0 << 7) | (1 << 4), 0], // c.lwsp rd = 0
    [0x6002 | (1 << 4), 0], // c.ldsp rd = 0
    [0x2001 | (1 << 2), 0], // c.addiw rd = 0
    [0x6101, 0], // c.addi16sp imm = 0
    [0x6001 | (10 << 7), 0], // c.lui rd != 0,2 with imm = 0
    [0x8002, 0], // c.jr rs1 = 0
    [0x8000, 0], // quadrant 0 funct3 = 100
    [0x9c41, 0], // bit 12 = 1, funct2 = 10 in the CA group (RV128/reserved)
    [0x9c61, 0],
    [0x0001, 'addi\tzero,zero,0'], // c.nop
    [0x0005, 'addi\tzero,zero,1'], // c.nop with imm != 0 is a hint
    [0x0502 & ~(0x1f << 2), 'slli\ta0,a0,0x0'], // c.slli shamt = 0 hint
    [0x8001 | (0 << 7), 'srli\ts0,s0,0x0'], // c.srli shamt = 0 hint
    [0x802e, 'add\tzero,zero,a1'], // c.mv rd = 0 hint
    [0x902e, 'add\tzero,zero,a1'], // c.add rd = 0 hint
    [0x4001 | (1 << 2), 'addi\tzero,zero,1'], // c.li rd = 0 hint
    [0x6005, 'lui\tzero,0x1'], // c.lui rd = 0 hint
    [0x2000, 'fld\tfs0,0(s0)'], // c.fld (RV32 c.flw slot is c.ld on RV64)
    [0x6000, 'ld\ts0,0(s0)'],
    [0xe000, 'sd\ts0,0(s0)'],
    [0x9002, 'ebreak'],
  ];
  for (const [p, expected] of cases) {
    const w = expandCompressed(p);
    if (expected === 0) assert.equal(w, 0, `0x${p.toString(16)} should be illegal`);
    else assert.equal(disassemble(w), expected, `0x${p.toString(16)}`);
  }
});

test('buildRvcTable matches expandCompressed for all 65536 parcels', () => {
  const t = buildRvcTable();
  assert.equal(t.length, 65536);
  for (let p = 0; p < 65536; p++) {
    assert.equal(t[p], (p & 3) === 3 ? 0 : expandCompressed(p) | 0);
  }
});
