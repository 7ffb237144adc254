// The register set GDB sees, and target.xml describing it. Numbers follow GDB's own
// RISC-V numbering (riscv-tdep.h), which QEMU's older stubs used verbatim and which GDB
// falls back to without a target description: x0..x31 = 0..31, pc = 32, f0..f31 =
// 33..64, CSR n = 65 + n (so fflags/frm/fcsr = 66/67/68), and the virtual "priv"
// register = 65 + 4096. Every <reg> carries an explicit regnum, so the numbers in p/P
// packets, the g packet's layout (0..32) and the XML agree by construction.

/** What a register number refers to; targets read and write these, never raw numbers. */
export type RegRef =
  | { kind: 'x'; index: number }
  | { kind: 'pc' }
  | { kind: 'f'; index: number }
  | { kind: 'csr'; csr: number }
  | { kind: 'priv' };

export interface RegDef {
  regnum: number;
  name: string;
  bits: 32 | 64;
  type: string;
  feature: 'cpu' | 'fpu' | 'csr' | 'virtual';
  ref: RegRef;
}

export const PC_REGNUM = 32;
export const CSR_BASE = 65;
export const PRIV_REGNUM = CSR_BASE + 4096;
/** The g packet carries x0..x31 and pc; GDB fetches the rest with p. */
export const G_REGS = 33;

const X_NAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 'fp', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7',
  's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
const F_NAMES = ['ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3', 'fa4', 'fa5',
  'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11', 'ft8', 'ft9', 'ft10', 'ft11'];

/** The CSRs rvisor's hart implements that a kernel debugger cares about. */
export const DEBUG_CSRS: [string, number][] = [
  ['sstatus', 0x100], ['sie', 0x104], ['stvec', 0x105], ['scounteren', 0x106], ['senvcfg', 0x10a],
  ['sscratch', 0x140], ['sepc', 0x141], ['scause', 0x142], ['stval', 0x143], ['sip', 0x144], ['stimecmp', 0x14d],
  ['satp', 0x180],
  ['mstatus', 0x300], ['misa', 0x301], ['medeleg', 0x302], ['mideleg', 0x303], ['mie', 0x304], ['mtvec', 0x305],
  ['mcounteren', 0x306], ['menvcfg', 0x30a], ['mscratch', 0x340], ['mepc', 0x341], ['mcause', 0x342], ['mtval', 0x343],
  ['mip', 0x344], ['mcycle', 0xb00], ['minstret', 0xb02], ['cycle', 0xc00], ['time', 0xc01], ['instret', 0xc02],
  ['mhartid', 0xf14],
];

function buildRegisters(): RegDef[] {
  const regs: RegDef[] = [];
  X_NAMES.forEach((name, i) => regs.push({
    regnum: i, name, bits: 64, feature: 'cpu', ref: { kind: 'x', index: i },
    type: name === 'ra' ? 'code_ptr' : ['sp', 'gp', 'tp', 'fp'].includes(name) ? 'data_ptr' : 'int',
  }));
  regs.push({ regnum: PC_REGNUM, name: 'pc', bits: 64, type: 'code_ptr', feature: 'cpu', ref: { kind: 'pc' } });
  F_NAMES.forEach((name, i) => regs.push({ regnum: 33 + i, name, bits: 64, type: 'riscv_double', feature: 'fpu', ref: { kind: 'f', index: i } }));
  for (const [name, csr] of [['fflags', 1], ['frm', 2], ['fcsr', 3]] as const) {
    regs.push({ regnum: CSR_BASE + csr, name, bits: 32, type: 'int', feature: 'fpu', ref: { kind: 'csr', csr } });
  }
  for (const [name, csr] of DEBUG_CSRS) regs.push({ regnum: CSR_BASE + csr, name, bits: 64, type: 'int', feature: 'csr', ref: { kind: 'csr', csr } });
  regs.push({ regnum: PRIV_REGNUM, name: 'priv', bits: 64, type: 'int', feature: 'virtual', ref: { kind: 'priv' } });
  return regs;
}

export const REGISTERS: readonly RegDef[] = buildRegisters();
const BY_NUMBER = new Map(REGISTERS.map((r) => [r.regnum, r]));

export function registerByNumber(regnum: number): RegDef | undefined {
  return BY_NUMBER.get(regnum);
}

const FEATURES: [RegDef['feature'], string][] = [
  ['cpu', 'org.gnu.gdb.riscv.cpu'],
  ['fpu', 'org.gnu.gdb.riscv.fpu'],
  ['virtual', 'org.gnu.gdb.riscv.virtual'],
  ['csr', 'org.gnu.gdb.riscv.csr'],
];

function buildTargetXml(): string {
  const lines = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">', '<target version="1.0">', '  <architecture>riscv:rv64</architecture>'];
  for (const [feature, name] of FEATURES) {
    lines.push(`  <feature name="${name}">`);
    if (feature === 'fpu') {
      lines.push('    <union id="riscv_double">', '      <field name="float" type="ieee_single"/>', '      <field name="double" type="ieee_double"/>', '    </union>');
    }
    for (const r of REGISTERS.filter((x) => x.feature === feature)) {
      const group = r.feature === 'csr' ? ' group="csr"' : r.feature === 'fpu' && r.ref.kind === 'csr' ? ' group="float"' : '';
      lines.push(`    <reg name="${r.name}" bitsize="${r.bits}" type="${r.type}" regnum="${r.regnum}"${group}/>`);
    }
    lines.push('  </feature>');
  }
  lines.push('</target>', '');
  return lines.join('\n');
}

export const TARGET_XML = buildTargetXml();
