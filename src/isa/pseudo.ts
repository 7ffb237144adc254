// Pseudo-instructions, expanded to real instructions the way GNU as does.

import { SyntaxProblem } from './asmparse.js';
import { parseXReg } from './regs.js';

export interface RealInsn {
  mnemonic: string;
  operands: string[];
}

type Expander = (ops: string[], constant: (expr: string) => bigint) => RealInsn[] | undefined;

const I = (mnemonic: string, ...operands: string[]): RealInsn => ({ mnemonic, operands });

function need(ops: string[], n: number, name: string): void {
  if (ops.length !== n) throw new SyntaxProblem(`'${name}' takes ${n} operand(s), got ${ops.length}`);
}

const isReg = (op: string): boolean => parseXReg(op) !== undefined;

/** GNU as's load_const: lui/addiw for 32-bit values, then slli/addi steps. */
export function loadConstant(rd: string, value: bigint, top = true): RealInsn[] {
  const v = BigInt.asIntN(64, value);
  if (top && v >= -2048n && v <= 2047n) return [I('addi', rd, 'zero', String(v))];
  const lower = BigInt.asIntN(12, v);
  const upper = BigInt.asIntN(64, v - lower);
  if (v !== BigInt.asIntN(32, v)) {
    let shift = 12n;
    while (((upper >> shift) & 1n) === 0n) shift++;
    const seq = loadConstant(rd, upper >> shift, false);
    seq.push(I('slli', rd, rd, String(shift)));
    if (lower !== 0n) seq.push(I('addi', rd, rd, String(lower)));
    return seq;
  }
  const seq: RealInsn[] = [];
  let hiReg = 'zero';
  if (upper !== 0n) {
    seq.push(I('lui', rd, '0x' + ((BigInt.asUintN(32, upper) >> 12n)).toString(16)));
    hiReg = rd;
  }
  if (lower !== 0n || hiReg === 'zero') seq.push(I('addiw', rd, hiReg, String(lower)));
  return seq;
}

// The low half of a pc-relative pair always refers back to the auipc just before it.
const pcrelPair = (rd: string, sym: string, lo: RealInsn): RealInsn[] => [I('auipc', rd, `%pcrel_hi(${sym})`), lo];
const LO = '%pcrel_lo(.-4)';

const unaryAlias = (real: string, form: (rd: string, rs: string) => string[]): Expander => (ops) => {
  need(ops, 2, real);
  return [I(real, ...form(ops[0], ops[1]))];
};

const branchZero = (real: string, swap: boolean): Expander => (ops) => {
  need(ops, 2, real);
  return [swap ? I(real, 'zero', ops[0], ops[1]) : I(real, ops[0], 'zero', ops[1])];
};

const branchSwap = (real: string): Expander => (ops) => {
  need(ops, 3, real);
  return [I(real, ops[1], ops[0], ops[2])];
};

const csrRead = (csr: string): Expander => (ops) => {
  need(ops, 1, csr);
  return [I('csrrs', ops[0], csr, 'zero')];
};

// fscsr/fsrm/fsflags: "rd, rs" swaps, "rs" writes.
const csrSwap = (csr: string): Expander => (ops) => {
  if (ops.length === 1) return [I('csrrw', 'zero', csr, ops[0])];
  need(ops, 2, csr);
  return [I('csrrw', ops[0], csr, ops[1])];
};

const csrSwapImm = (csr: string): Expander => (ops) => {
  if (ops.length === 1) return [I('csrrwi', 'zero', csr, ops[0])];
  need(ops, 2, csr);
  return [I('csrrwi', ops[0], csr, ops[1])];
};

// csrw/csrs/csrc take a register, or an immediate like GNU's csrwi forms.
const csrWrite = (reg: string, imm: string): Expander => (ops) => {
  need(ops, 2, reg);
  return [isReg(ops[1]) ? I(reg, 'zero', ops[0], ops[1]) : I(imm, 'zero', ops[0], ops[1])];
};

const PSEUDOS: Record<string, Expander> = {
  nop: (ops) => (need(ops, 0, 'nop'), [I('addi', 'zero', 'zero', '0')]),
  li: (ops, constant) => (need(ops, 2, 'li'), loadConstant(ops[0], constant(ops[1]))),
  la: (ops) => (need(ops, 2, 'la'), pcrelPair(ops[0], ops[1], I('addi', ops[0], ops[0], LO))),
  lla: (ops) => (need(ops, 2, 'lla'), pcrelPair(ops[0], ops[1], I('addi', ops[0], ops[0], LO))),
  mv: unaryAlias('addi', (rd, rs) => [rd, rs, '0']),
  not: unaryAlias('xori', (rd, rs) => [rd, rs, '-1']),
  neg: unaryAlias('sub', (rd, rs) => [rd, 'zero', rs]),
  negw: unaryAlias('subw', (rd, rs) => [rd, 'zero', rs]),
  'sext.w': unaryAlias('addiw', (rd, rs) => [rd, rs, '0']),
  'zext.w': unaryAlias('add.uw', (rd, rs) => [rd, rs, 'zero']),
  'zext.b': unaryAlias('andi', (rd, rs) => [rd, rs, '255']),
  seqz: unaryAlias('sltiu', (rd, rs) => [rd, rs, '1']),
  snez: unaryAlias('sltu', (rd, rs) => [rd, 'zero', rs]),
  sltz: unaryAlias('slt', (rd, rs) => [rd, rs, 'zero']),
  sgtz: unaryAlias('slt', (rd, rs) => [rd, 'zero', rs]),
  beqz: branchZero('beq', false),
  bnez: branchZero('bne', false),
  blez: branchZero('bge', true),
  bgez: branchZero('bge', false),
  bltz: branchZero('blt', false),
  bgtz: branchZero('blt', true),
  bgt: branchSwap('blt'),
  ble: branchSwap('bge'),
  bgtu: branchSwap('bltu'),
  bleu: branchSwap('bgeu'),
  j: (ops) => (need(ops, 1, 'j'), [I('jal', 'zero', ops[0])]),
  jal: (ops) => (ops.length === 1 ? [I('jal', 'ra', ops[0])] : undefined),
  jr: (ops) => (need(ops, 1, 'jr'), [I('jalr', 'zero', `0(${ops[0]})`)]),
  jalr: (ops) => {
    if (ops.length === 1) return [I('jalr', 'ra', `0(${ops[0]})`)];
    if (ops.length === 2 && isReg(ops[1])) return [I('jalr', ops[0], `0(${ops[1]})`)];
    if (ops.length === 3) return [I('jalr', ops[0], `${ops[2]}(${ops[1]})`)];
    return undefined;
  },
  ret: (ops) => (need(ops, 0, 'ret'), [I('jalr', 'zero', '0(ra)')]),
  call: (ops) => {
    const [rd, sym] = ops.length === 2 ? ops : ['ra', ops[0]];
    if (ops.length < 1 || ops.length > 2) need(ops, 1, 'call');
    return pcrelPair(rd, sym, I('jalr', rd, `${LO}(${rd})`));
  },
  tail: (ops) => (need(ops, 1, 'tail'), pcrelPair('t1', ops[0], I('jalr', 'zero', `${LO}(t1)`))),
  fence: (ops) => (ops.length === 0 ? [I('fence', 'iorw', 'iorw')] : undefined),
  'sfence.vma': (ops) => {
    if (ops.length === 0) return [I('sfence.vma', 'zero', 'zero')];
    if (ops.length === 1) return [I('sfence.vma', ops[0], 'zero')];
    return undefined;
  },
  unimp: (ops) => (need(ops, 0, 'unimp'), [I('csrrw', 'zero', 'cycle', 'zero')]),
  csrr: (ops) => (need(ops, 2, 'csrr'), [I('csrrs', ops[0], ops[1], 'zero')]),
  csrw: csrWrite('csrrw', 'csrrwi'),
  csrs: csrWrite('csrrs', 'csrrsi'),
  csrc: csrWrite('csrrc', 'csrrci'),
  csrwi: (ops) => (need(ops, 2, 'csrwi'), [I('csrrwi', 'zero', ops[0], ops[1])]),
  csrsi: (ops) => (need(ops, 2, 'csrsi'), [I('csrrsi', 'zero', ops[0], ops[1])]),
  csrci: (ops) => (need(ops, 2, 'csrci'), [I('csrrci', 'zero', ops[0], ops[1])]),
  rdcycle: csrRead('cycle'),
  rdtime: csrRead('time'),
  rdinstret: csrRead('instret'),
  frcsr: csrRead('fcsr'),
  frrm: csrRead('frm'),
  frflags: csrRead('fflags'),
  fscsr: csrSwap('fcsr'),
  fsrm: csrSwap('frm'),
  fsflags: csrSwap('fflags'),
  fsrmi: csrSwapImm('frm'),
  fsflagsi: csrSwapImm('fflags'),
};

for (const t of ['s', 'd']) {
  PSEUDOS[`fmv.${t}`] = unaryAlias(`fsgnj.${t}`, (rd, rs) => [rd, rs, rs]);
  PSEUDOS[`fabs.${t}`] = unaryAlias(`fsgnjx.${t}`, (rd, rs) => [rd, rs, rs]);
  PSEUDOS[`fneg.${t}`] = unaryAlias(`fsgnjn.${t}`, (rd, rs) => [rd, rs, rs]);
}

/**
 * Expands a pseudo-instruction, or returns undefined when `mnemonic` with
 * these operands is a real instruction. `constant` evaluates li's operand.
 */
export function expandPseudo(mnemonic: string, ops: string[], constant: (expr: string) => bigint): RealInsn[] | undefined {
  const ex = Object.prototype.hasOwnProperty.call(PSEUDOS, mnemonic) ? PSEUDOS[mnemonic] : undefined;
  return ex ? ex(ops, constant) : undefined;
}
