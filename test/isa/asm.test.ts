// Assembler behaviour beyond the GNU goldens: layout, symbols, expressions,
// pseudo-instruction semantics and error reporting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsmError, assemble } from '../../src/isa/asm.js';
import { disassemble } from '../../src/isa/disasm.js';

function words(src: string, base?: bigint): number[] {
  const b = assemble(src, { base }).sections[0].bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i += 4) out.push(v.getUint32(i, true));
  return out;
}

const listing = (src: string, base = 0x80000000n): string[] =>
  words(src, base).map((w, k) => disassemble(w, base + BigInt(4 * k)));

/** Runs an li expansion (lui/addi/addiw/slli on one register) and returns the result. */
function runLi(ws: number[]): bigint {
  const regs = new Array<bigint>(32).fill(0n);
  for (const w of ws) {
    const rd = (w >>> 7) & 31;
    const rs1 = (w >>> 15) & 31;
    const immI = BigInt(w >> 20);
    const op = w & 0x7f;
    const f3 = (w >>> 12) & 7;
    let v: bigint;
    if (op === 0x37) v = BigInt.asIntN(64, BigInt((w & 0xfffff000) | 0));
    else if (op === 0x13 && f3 === 0) v = BigInt.asIntN(64, regs[rs1] + immI);
    else if (op === 0x13 && f3 === 1) v = BigInt.asIntN(64, regs[rs1] << (immI & 63n));
    else if (op === 0x1b && f3 === 0) v = BigInt.asIntN(32, regs[rs1] + immI);
    else throw new Error(`unexpected li instruction ${disassemble(w)}`);
    if (rd !== 0) regs[rd] = v;
  }
  return regs[10];
}

test('li loads any 64-bit constant', () => {
  const values = [0n, 1n, -1n, 2047n, 2048n, -2048n, -2049n, 0x7fffffffn, 0x80000000n, -0x80000000n,
    0xffffffffn, 0x100000000n, 0x7ffff800n, 0x8000000000000000n, 0x7fffffffffffffffn, 0xfffff800n];
  let seed = 12345;
  const rnd = (): bigint => BigInt((seed = (seed * 1103515245 + 12345) >>> 0) >>> 0);
  for (let k = 0; k < 300; k++) {
    const v = (rnd() << 32n) | rnd();
    // Bias towards sparse values, which take the shift paths.
    values.push(k % 3 === 0 ? v & (v >> 7n) & (v >> 13n) : v);
  }
  for (const raw of values) {
    const v = BigInt.asIntN(64, raw);
    const ws = words(`li a0, ${v}`);
    assert.ok(ws.length <= 8, `li ${v} took ${ws.length} instructions`);
    assert.equal(runLi(ws), v, `li a0, ${v}`);
  }
});

test('sections are laid out in order, page aligned, with flags', () => {
  const r = assemble(`
    .data
d:  .word 1
    .text
    .globl _start
_start: nop
    .section .rodata
ro: .byte 1, 2
    .bss
buf: .zero 10
    .section .text.init, "ax"
init: ret
`, { base: 0x1000n });
  assert.deepEqual(r.sections.map((s) => [s.name, s.addr, s.bytes.length, s.flags]), [
    ['.text', 0x1000n, 4, 'rx'],
    ['.data', 0x2000n, 4, 'rw'],
    ['.rodata', 0x3000n, 2, 'r'],
    ['.bss', 0x4000n, 10, 'rw'],
    ['.text.init', 0x5000n, 4, 'rx'],
  ]);
  assert.equal(r.entry, 0x1000n);
  assert.equal(r.symbols.get('d'), 0x2000n);
  assert.equal(r.symbols.get('buf'), 0x4000n);
  assert.equal(r.symbols.get('init'), 0x5000n);
});

test('entry is _start when defined, else base', () => {
  assert.equal(assemble('nop\n_start: nop').entry, 0x80000004n);
  assert.equal(assemble('nop').entry, 0x80000000n);
  assert.equal(assemble('nop', { base: 0x1000n }).entry, 0x1000n);
});

test('local numeric labels, forward and backward', () => {
  const l = listing(`
1:  j 1f
1:  j 1b
    j 2f
2:  beqz a0, 1b
`);
  assert.deepEqual(l, [
    'jal\tzero,0x80000004',
    'jal\tzero,0x80000004',
    'jal\tzero,0x8000000c',
    'beq\ta0,zero,0x80000004',
  ]);
});

test('%hi/%lo and %pcrel_hi/%pcrel_lo, including a forward %pcrel_lo reference', () => {
  const r = assemble(`
    lui a0, %hi(target)
    addi a0, a0, %lo(target)
1:  addi a1, a1, %pcrel_lo(3f)
    j 4f
3:  auipc a1, %pcrel_hi(target)
    j 1b
4:  nop
    .equ target, 0x12345ffc
`, { base: 0x10000000n });
  const w = new DataView(r.sections[0].bytes.buffer);
  const lines = [0, 4, 8, 16].map((o) => disassemble(w.getUint32(o, true), 0x10000000n + BigInt(o)));
  assert.equal(lines[0], 'lui\ta0,0x12346');
  assert.equal(lines[1], 'addi\ta0,a0,-4');
  // auipc at 0x10000010: target - pc = 0x02345fec -> hi 0x2346, lo -20
  assert.equal(lines[3], 'auipc\ta1,0x2346');
  assert.equal(lines[2], 'addi\ta1,a1,-20');
});

test('expressions follow GNU precedence and literal syntax', () => {
  const r = assemble(`
    .equ A, 3
    .set B, A * 4 + 2
    .byte B, (B >> 1) & 0xf, -1, ~0, 'a', '\\n', 010, 0b101, 0x10 | 1, 7 ^ 2, 1 + 2 * 3, 2 << 3 + 1
    .byte 10 / 3, 10 % 3, end - start
start: .half 0
end:
`);
  assert.deepEqual([...r.sections[0].bytes.subarray(0, 15)],
    [14, 7, 255, 255, 97, 10, 8, 5, 17, 5, 7, 17, 3, 1, 2]);
});

test('string directives and escapes', () => {
  const b = assemble('.ascii "a\\tb"\n.string "x\\"y\\\\", "z"\n.asciz "\\101\\x42"').sections[0].bytes;
  assert.deepEqual([...b], [97, 9, 98, 120, 34, 121, 92, 0, 122, 0, 65, 66, 0]);
});

test('alignment pads code with nops and data with zeros', () => {
  const r = assemble('.option norvc\nnop\n.p2align 4\nnop\n.data\n.byte 1\n.balign 4\n.byte 2');
  const t = r.sections[0].bytes;
  assert.equal(t.length, 20);
  assert.deepEqual(words('.option norvc\nnop\n.p2align 4\nnop'), [0x13, 0x13, 0x13, 0x13, 0x13]);
  assert.deepEqual([...r.sections[1].bytes], [1, 0, 0, 0, 2]);
});

test('comments, semicolons and case-insensitive mnemonics', () => {
  assert.deepEqual(listing('ADDI a0, a0, 1 # comment\nnop; nop  # two\n li a1, \'#\''), [
    'addi\ta0,a0,1', 'addi\tzero,zero,0', 'addi\tzero,zero,0', 'addi\ta1,zero,35',
  ]);
});

test('register aliases fp and xN', () => {
  assert.deepEqual(listing('add x8, fp, s0\nfadd.d f10, fa0, f10'), ['add\ts0,s0,s0', 'fadd.d\tfa0,fa0,fa0']);
});

function assertAsmError(src: string, line: number, pattern: RegExp): void {
  assert.throws(() => assemble(src), (e: unknown) => {
    assert.ok(e instanceof AsmError, `expected AsmError, got ${String(e)}`);
    assert.equal(e.line, line);
    assert.match(e.message, new RegExp(`^line ${line}: `));
    assert.match(e.message, pattern);
    return true;
  });
}

test('errors carry 1-based line numbers', () => {
  assertAsmError('nop\nnop\nfoo a0', 3, /unknown instruction 'foo'/);
  assertAsmError('nop\naddi a0, a0, 2048', 2, /out of range/);
  assertAsmError('addi a0, a9, 1', 1, /integer register/);
  assertAsmError('\n\nbeq a0, a1, far\n.zero 8192\nfar: nop', 3, /out of range/);
  assertAsmError('jal far\n.zero 0x100000\nfar: nop', 1, /out of range/);
  assertAsmError('j nowhere', 1, /undefined symbol 'nowhere'/);
  assertAsmError('x: nop\nx: nop', 2, /already defined/);
  assertAsmError('.bogus 1', 1, /unknown directive/);
  assertAsmError('nop\nli a0, later\n.equ later, 5', 2, /constant/);
  assertAsmError('slli a0, a0, 64', 1, /shift amount/);
  assertAsmError('fadd.d fa0, fa1, fa2, xyz', 1, /rounding mode/);
  assertAsmError('c.lw a0, 4(sp)', 1, /x8-x15/);
  assertAsmError('c.addi4spn a0, sp, 0', 1, /illegal operands/);
  assertAsmError('c.lwsp a0, 3(sp)', 1, /misaligned/);
  assertAsmError('.string "abc', 1, /unterminated/);
  assertAsmError('lui a0, -1', 1, /out of range/);
  assertAsmError('addi a0, a0, 1 +', 1, /missing operand/);
  assertAsmError('add a0, a1', 1, /takes 3 operand/);
  assertAsmError('nop\nnop\n  addi a0, a0, %pcrel_lo(0)', 3, /pcrel_lo/);
});

test('.equ may refer to labels defined later', () => {
  const r = assemble('.equ LEN, end - start\n.equ TWICE, LEN * 2\nstart: .byte LEN, TWICE\nend:');
  assert.deepEqual([...r.sections[0].bytes], [2, 4]);
  assert.equal(r.symbols.get('LEN'), 2n);
  assertAsmError('nop\n.equ A, B + 1\n.equ B, A + 1\nnop', 2, /undefined symbol/);
});

test('non-ASCII string text is UTF-8, escapes are raw bytes', () => {
  const b = assemble('.ascii "é😀\\351"').sections[0].bytes;
  assert.deepEqual([...b], [0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0xe9]);
});
