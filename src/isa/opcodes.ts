// The 32-bit instruction table shared by the assembler and disassembler.
//
// Each entry's `args` is a comma-separated operand template; the letters are
// ours (not GNU's):
//   d s t      integer rd / rs1 / rs2          D S T R  float rd / rs1 / rs2 / rs3
//   j          12-bit signed immediate (I)     o(s)     load/jalr address, I offset
//   q(s)       store address, S offset         (s)      AMO address
//   b          branch target (B)               a        jal target (J)
//   u          20-bit upper immediate          > <      6- / 5-bit shift amount
//   m          optional rounding mode          E        CSR          Z  5-bit CSR immediate
//   P Q        fence predecessor / successor sets

import { encR } from './bits.js';

export interface OpcodeDef {
  name: string;
  match: number;
  mask: number;
  args: string[];
}

const MASK_R = 0xfe00707f;
const MASK_I = 0x0000707f;
const MASK_SH6 = 0xfc00707f;
const MASK_UNARY = 0xfff0707f;
const MASK_ALL = 0xffffffff;

const defs: OpcodeDef[] = [];

function add(name: string, match: number, mask: number, args: string): void {
  defs.push({ name, match: match >>> 0, mask: mask >>> 0, args: args === '' ? [] : args.split(',') });
}

const r = (name: string, op: number, f3: number, f7: number, args = 'd,s,t'): void =>
  add(name, encR(op, f3, f7, 0, 0, 0), MASK_R, args);
const i = (name: string, op: number, f3: number, args = 'd,s,j'): void =>
  add(name, encR(op, f3, 0, 0, 0, 0), MASK_I, args);
// Unary ops live in the I-format immediate: `code` is the full 12-bit field.
const unary = (name: string, op: number, f3: number, code: number, args = 'd,s'): void =>
  add(name, (code << 20) | (f3 << 12) | op, MASK_UNARY, args);
const sh6 = (name: string, f3: number, f6: number, op = 0x13): void =>
  add(name, (f6 << 26) | (f3 << 12) | op, MASK_SH6, 'd,s,>');
const sh5 = (name: string, f3: number, f7: number): void =>
  add(name, (f7 << 25) | (f3 << 12) | 0x1b, MASK_R, 'd,s,<');

// RV64I
add('lui', 0x37, 0x7f, 'd,u');
add('auipc', 0x17, 0x7f, 'd,u');
add('jal', 0x6f, 0x7f, 'd,a');
i('jalr', 0x67, 0, 'd,o(s)');
['beq', 'bne', '', '', 'blt', 'bge', 'bltu', 'bgeu'].forEach((n, f3) => {
  if (n) i(n, 0x63, f3, 's,t,b');
});
['lb', 'lh', 'lw', 'ld', 'lbu', 'lhu', 'lwu'].forEach((n, f3) => i(n, 0x03, f3, 'd,o(s)'));
['sb', 'sh', 'sw', 'sd'].forEach((n, f3) => i(n, 0x23, f3, 't,q(s)'));
['addi', '', 'slti', 'sltiu', 'xori', '', 'ori', 'andi'].forEach((n, f3) => {
  if (n) i(n, 0x13, f3);
});
sh6('slli', 1, 0);
sh6('srli', 5, 0);
sh6('srai', 5, 0x10);
['add', 'sll', 'slt', 'sltu', 'xor', 'srl', 'or', 'and'].forEach((n, f3) => r(n, 0x33, f3, 0));
r('sub', 0x33, 0, 0x20);
r('sra', 0x33, 5, 0x20);
i('addiw', 0x1b, 0);
sh5('slliw', 1, 0);
sh5('srliw', 5, 0);
sh5('sraiw', 5, 0x20);
r('addw', 0x3b, 0, 0);
r('subw', 0x3b, 0, 0x20);
r('sllw', 0x3b, 1, 0);
r('srlw', 0x3b, 5, 0);
r('sraw', 0x3b, 5, 0x20);
add('fence', 0x0000000f, 0xf00fffff, 'P,Q');
add('fence.tso', 0x8330000f, MASK_ALL, '');
add('pause', 0x0100000f, MASK_ALL, '');
add('fence.i', 0x0000100f, MASK_ALL, '');
add('ecall', 0x00000073, MASK_ALL, '');
add('ebreak', 0x00100073, MASK_ALL, '');
add('sret', 0x10200073, MASK_ALL, '');
add('mret', 0x30200073, MASK_ALL, '');
add('wfi', 0x10500073, MASK_ALL, '');
add('sfence.vma', 0x12000073, 0xfe007fff, 's,t');

// M
['mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu'].forEach((n, f3) => r(n, 0x33, f3, 1));
['mulw', '', '', '', 'divw', 'divuw', 'remw', 'remuw'].forEach((n, f3) => {
  if (n) r(n, 0x3b, f3, 1);
});

// A: every AMO comes in four ordering flavours (aq = bit 26, rl = bit 25).
const AMO: [string, number][] = [
  ['lr', 0x02], ['sc', 0x03], ['amoswap', 0x01], ['amoadd', 0x00], ['amoxor', 0x04],
  ['amoand', 0x0c], ['amoor', 0x08], ['amomin', 0x10], ['amomax', 0x14],
  ['amominu', 0x18], ['amomaxu', 0x1c],
];
for (const [base, f5] of AMO) {
  for (const [width, f3] of [['w', 2], ['d', 3]] as const) {
    ['', '.rl', '.aq', '.aqrl'].forEach((suffix, order) => {
      const match = (f5 << 27) | (order << 25) | (f3 << 12) | 0x2f;
      if (base === 'lr') add(`lr.${width}${suffix}`, match, 0xfff0707f, 'd,(s)');
      else add(`${base}.${width}${suffix}`, match, MASK_R, 'd,t,(s)');
    });
  }
}

// F and D. fmt is bits 26:25 of funct7 (0 = single, 1 = double).
for (const [t, fmt] of [['s', 0], ['d', 1]] as const) {
  const f = (name: string, f7: number, args: string): void =>
    add(`${name}.${t}`, ((f7 | fmt) << 25) | 0x53, 0xfe00007f, args);
  const fx = (name: string, f7: number, rs2: number, f3: number | null, args: string): void =>
    add(name, ((f7 | fmt) << 25) | (rs2 << 20) | ((f3 ?? 0) << 12) | 0x53,
      f3 === null ? 0xfff0007f : MASK_UNARY, args);
  f('fadd', 0x00, 'D,S,T,m');
  f('fsub', 0x04, 'D,S,T,m');
  f('fmul', 0x08, 'D,S,T,m');
  f('fdiv', 0x0c, 'D,S,T,m');
  fx(`fsqrt.${t}`, 0x2c, 0, null, 'D,S,m');
  ['fsgnj', 'fsgnjn', 'fsgnjx'].forEach((n, f3) => r(`${n}.${t}`, 0x53, f3, 0x10 | fmt, 'D,S,T'));
  ['fmin', 'fmax'].forEach((n, f3) => r(`${n}.${t}`, 0x53, f3, 0x14 | fmt, 'D,S,T'));
  ['fle', 'flt', 'feq'].forEach((n, f3) => r(`${n}.${t}`, 0x53, f3, 0x50 | fmt, 'd,S,T'));
  fx(`fclass.${t}`, 0x70, 0, 1, 'd,S');
  ['w', 'wu', 'l', 'lu'].forEach((it, rs2) => {
    fx(`fcvt.${it}.${t}`, 0x60, rs2, null, 'd,S,m');
    // int -> double for 32-bit sources is exact, so GNU fixes rm = 0 and takes no operand.
    if (t === 'd' && rs2 < 2) fx(`fcvt.${t}.${it}`, 0x68, rs2, 0, 'D,s');
    else fx(`fcvt.${t}.${it}`, 0x68, rs2, null, 'D,s,m');
  });
  ['fmadd', 'fmsub', 'fnmsub', 'fnmadd'].forEach((n, k) =>
    add(`${n}.${t}`, (fmt << 25) | (0x43 + 4 * k), 0x0600007f, 'D,S,T,R,m'));
}
add('fcvt.s.d', (0x20 << 25) | (1 << 20) | 0x53, 0xfff0007f, 'D,S,m');
add('fcvt.d.s', (0x21 << 25) | 0x53, MASK_UNARY, 'D,S');
add('fmv.x.w', (0x70 << 25) | 0x53, MASK_UNARY, 'd,S');
add('fmv.w.x', (0x78 << 25) | 0x53, MASK_UNARY, 'D,s');
add('fmv.x.d', (0x71 << 25) | 0x53, MASK_UNARY, 'd,S');
add('fmv.d.x', (0x79 << 25) | 0x53, MASK_UNARY, 'D,s');
i('flw', 0x07, 2, 'D,o(s)');
i('fld', 0x07, 3, 'D,o(s)');
i('fsw', 0x27, 2, 'T,q(s)');
i('fsd', 0x27, 3, 'T,q(s)');

// Zicsr
['csrrw', 'csrrs', 'csrrc'].forEach((n, k) => i(n, 0x73, k + 1, 'd,E,s'));
['csrrwi', 'csrrsi', 'csrrci'].forEach((n, k) => i(n, 0x73, k + 5, 'd,E,Z'));

// Zba
r('sh1add', 0x33, 2, 0x10);
r('sh2add', 0x33, 4, 0x10);
r('sh3add', 0x33, 6, 0x10);
r('add.uw', 0x3b, 0, 0x04);
r('sh1add.uw', 0x3b, 2, 0x10);
r('sh2add.uw', 0x3b, 4, 0x10);
r('sh3add.uw', 0x3b, 6, 0x10);
sh6('slli.uw', 1, 0x02, 0x1b);

// Zbb
r('andn', 0x33, 7, 0x20);
r('orn', 0x33, 6, 0x20);
r('xnor', 0x33, 4, 0x20);
unary('clz', 0x13, 1, 0x600);
unary('ctz', 0x13, 1, 0x601);
unary('cpop', 0x13, 1, 0x602);
unary('clzw', 0x1b, 1, 0x600);
unary('ctzw', 0x1b, 1, 0x601);
unary('cpopw', 0x1b, 1, 0x602);
r('max', 0x33, 6, 0x05);
r('maxu', 0x33, 7, 0x05);
r('min', 0x33, 4, 0x05);
r('minu', 0x33, 5, 0x05);
unary('sext.b', 0x13, 1, 0x604);
unary('sext.h', 0x13, 1, 0x605);
unary('zext.h', 0x3b, 4, 0x080);
r('rol', 0x33, 1, 0x30);
r('ror', 0x33, 5, 0x30);
r('rolw', 0x3b, 1, 0x30);
r('rorw', 0x3b, 5, 0x30);
sh6('rori', 5, 0x18);
sh5('roriw', 5, 0x30);
unary('orc.b', 0x13, 5, 0x287);
unary('rev8', 0x13, 5, 0x6b8);

// Zbs
r('bclr', 0x33, 1, 0x24);
r('bext', 0x33, 5, 0x24);
r('binv', 0x33, 1, 0x34);
r('bset', 0x33, 1, 0x14);
sh6('bclri', 1, 0x12);
sh6('bexti', 5, 0x12);
sh6('binvi', 1, 0x1a);
sh6('bseti', 1, 0x0a);

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v >>>= 1) n += v & 1;
  return n;
}

/** All entries, most specific mask first, so the first match wins when decoding. */
export const OPCODES: readonly OpcodeDef[] = [...defs].sort((a, b) => popcount(b.mask) - popcount(a.mask));

export const OPCODE_BY_NAME: ReadonlyMap<string, OpcodeDef> = new Map(defs.map((d) => [d.name, d]));
