// Single-instruction disassembler in the style of GNU objdump -M no-aliases
// (ABI register names, branch targets as absolute addresses). Anything it
// does not recognise prints as .4byte / .2byte and it never throws.

import { field, immB, immI, immJ, immS } from './bits.js';
import { csrName } from './csr.js';
import { OPCODES } from './opcodes.js';
import { FREG_NAMES, ROUNDING_MODES, XREG_NAMES } from './regs.js';
import { CIMM, CREG, cImmValue, cRegValue, findCompressed } from './rvc.js';

const hex = (v: number | bigint): string => '0x' + v.toString(16);

function address(pc: bigint, off: number): string {
  return hex(BigInt.asUintN(64, pc + BigInt(off)));
}

function fenceSet(v: number): string {
  if (v === 0) return 'unknown';
  return ['i', 'o', 'r', 'w'].filter((_, k) => v & (8 >> k)).join('');
}

function operand32(arg: string, w: number, pc: bigint): string | undefined {
  const x = (lo: number): string => XREG_NAMES[field(w, lo, 5)];
  const f = (lo: number): string => FREG_NAMES[field(w, lo, 5)];
  switch (arg) {
    case 'd': return x(7);
    case 's': return x(15);
    case 't': return x(20);
    case 'D': return f(7);
    case 'S': return f(15);
    case 'T': return f(20);
    case 'R': return f(27);
    case 'j': return String(immI(w));
    case 'o(s)': return `${immI(w)}(${x(15)})`;
    case 'q(s)': return `${immS(w)}(${x(15)})`;
    case '(s)': return `(${x(15)})`;
    case 'b': return address(pc, immB(w));
    case 'a': return address(pc, immJ(w));
    case 'u': return hex(w >>> 12);
    case '>': return hex(field(w, 20, 6));
    case '<': return hex(field(w, 20, 5));
    case 'm': {
      // objdump leaves the default (dynamic) rounding mode implicit.
      const rm = field(w, 12, 3);
      return rm === 7 ? undefined : ROUNDING_MODES[rm] ?? 'unknown';
    }
    case 'E': return csrName(field(w, 20, 12));
    case 'Z': return String(field(w, 15, 5));
    case 'P': return fenceSet(field(w, 24, 4));
    case 'Q': return fenceSet(field(w, 20, 4));
    default: return '?';
  }
}

function disassembleCompressed(p: number, pc: bigint): string {
  const def = findCompressed(p);
  if (!def) return `.2byte\t${hex(p)}`;
  const reg = (tok: string): string => {
    const r = CREG[tok];
    return (r.float ? FREG_NAMES : XREG_NAMES)[cRegValue(p, r)];
  };
  const ops = def.args.map((tok) => {
    if (tok === 'sp') return 'sp';
    if (tok in CREG) return reg(tok);
    const mem = /^(\w+)\((\w+)\)$/.exec(tok);
    if (mem) return `${cImmValue(p, CIMM[mem[1]])}(${mem[2] === 'sp' ? 'sp' : reg(mem[2])})`;
    const imm = CIMM[tok];
    const v = cImmValue(p, imm);
    switch (imm.print) {
      case 'hex': return hex(v);
      case 'lui': return hex(v & 0xfffff);
      case 'target': return address(pc, v);
      default: return String(v);
    }
  });
  return ops.length ? `${def.name}\t${ops.join(',')}` : def.name;
}

/**
 * Disassembles one instruction. A value whose low two bits are not 3 is a
 * 16-bit compressed parcel. `pc` is used for branch and jump targets.
 */
export function disassemble(insn: number, pc: bigint = 0n): string {
  if ((insn & 3) !== 3) return disassembleCompressed(insn & 0xffff, pc);
  const w = insn >>> 0;
  for (const def of OPCODES) {
    if ((w & def.mask) >>> 0 !== def.match) continue;
    const ops = def.args.map((a) => operand32(a, w, pc)).filter((o): o is string => o !== undefined);
    return ops.length ? `${def.name}\t${ops.join(',')}` : def.name;
  }
  return `.4byte\t${hex(w)}`;
}
