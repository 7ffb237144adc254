// Standard CSR names (unprivileged, supervisor, machine, debug/trigger).
// Names are accepted by the assembler and printed by the disassembler the
// way GNU objdump does; unknown numbers print as hex.

const CSR_LIST: [string, number][] = [
  ['fflags', 0x001], ['frm', 0x002], ['fcsr', 0x003],
  ['cycle', 0xc00], ['time', 0xc01], ['instret', 0xc02],
  ['cycleh', 0xc80], ['timeh', 0xc81], ['instreth', 0xc82],
  ['sstatus', 0x100], ['sie', 0x104], ['stvec', 0x105], ['scounteren', 0x106],
  ['senvcfg', 0x10a], ['sscratch', 0x140], ['sepc', 0x141], ['scause', 0x142],
  ['stval', 0x143], ['sip', 0x144], ['stimecmp', 0x14d], ['satp', 0x180],
  ['scontext', 0x5a8],
  ['mvendorid', 0xf11], ['marchid', 0xf12], ['mimpid', 0xf13], ['mhartid', 0xf14],
  ['mconfigptr', 0xf15],
  ['mstatus', 0x300], ['misa', 0x301], ['medeleg', 0x302], ['mideleg', 0x303],
  ['mie', 0x304], ['mtvec', 0x305], ['mcounteren', 0x306], ['menvcfg', 0x30a],
  ['mstatush', 0x310], ['menvcfgh', 0x31a], ['mcountinhibit', 0x320],
  ['mscratch', 0x340], ['mepc', 0x341], ['mcause', 0x342], ['mtval', 0x343],
  ['mip', 0x344], ['mtinst', 0x34a], ['mtval2', 0x34b],
  ['mseccfg', 0x747], ['mcycle', 0xb00], ['minstret', 0xb02],
  ['mcycleh', 0xb80], ['minstreth', 0xb82],
  ['tselect', 0x7a0], ['tdata1', 0x7a1], ['tdata2', 0x7a2], ['tdata3', 0x7a3],
  ['mcontext', 0x7a8],
  ['dcsr', 0x7b0], ['dpc', 0x7b1], ['dscratch0', 0x7b2], ['dscratch1', 0x7b3],
];

for (let i = 3; i <= 31; i++) {
  CSR_LIST.push([`hpmcounter${i}`, 0xc00 + i]);
  CSR_LIST.push([`hpmcounter${i}h`, 0xc80 + i]);
  CSR_LIST.push([`mhpmcounter${i}`, 0xb00 + i]);
  CSR_LIST.push([`mhpmcounter${i}h`, 0xb80 + i]);
  CSR_LIST.push([`mhpmevent${i}`, 0x320 + i]);
}
for (let i = 0; i < 16; i++) CSR_LIST.push([`pmpcfg${i}`, 0x3a0 + i]);
for (let i = 0; i < 64; i++) CSR_LIST.push([`pmpaddr${i}`, 0x3b0 + i]);

const BY_NAME = new Map<string, number>(CSR_LIST);
const BY_NUMBER = new Map<number, string>(CSR_LIST.map(([n, v]) => [v, n]));

export function csrNumber(name: string): number | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** Printable CSR operand: its standard name, else 0x-prefixed hex. */
export function csrName(num: number): string {
  return BY_NUMBER.get(num) ?? '0x' + num.toString(16);
}
