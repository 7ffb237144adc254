// Encodes one real (non-pseudo) instruction from its textual operands.

import { IMM_B, IMM_I, IMM_J, IMM_S, scatter } from './bits.js';
import { csrNumber } from './csr.js';
import { OPCODE_BY_NAME, OpcodeDef } from './opcodes.js';
import { parseFReg, parseXReg, ROUNDING_MODES } from './regs.js';
import { C_OPCODE_BY_NAME, CDef, CIMM, CImm, CREG, cImmValue } from './rvc.js';
import { SyntaxProblem } from './asmparse.js';

export interface EncodeContext {
  /** Address of the instruction being encoded. */
  pc: bigint;
  /** Evaluates an expression operand (labels, %hi, ...). */
  evaluate(expr: string): bigint;
}

export interface Encoded {
  word: number;
  size: 2 | 4;
}

export function instructionSize(mnemonic: string): 2 | 4 | undefined {
  if (OPCODE_BY_NAME.has(mnemonic)) return 4;
  if (C_OPCODE_BY_NAME.has(mnemonic)) return 2;
  return undefined;
}

function xreg(op: string): number {
  const r = parseXReg(op);
  if (r === undefined) throw new SyntaxProblem(`expected an integer register, got '${op}'`);
  return r;
}

function freg(op: string): number {
  const r = parseFReg(op);
  if (r === undefined) throw new SyntaxProblem(`expected a floating-point register, got '${op}'`);
  return r;
}

function inRange(v: bigint, lo: number, hi: number, what: string): number {
  if (v < BigInt(lo) || v > BigInt(hi)) throw new SyntaxProblem(`${what} ${v} out of range ${lo}..${hi}`);
  return Number(v);
}

/** Splits "expr(reg)" into its parts; an empty offset means 0. */
function splitAddress(op: string): [string, string] {
  const m = /^(.*)\(\s*([A-Za-z0-9]+)\s*\)$/s.exec(op.trim());
  if (!m) throw new SyntaxProblem(`expected offset(register), got '${op}'`);
  return [m[1].trim() || '0', m[2]];
}

function target(ctx: EncodeContext, op: string, bits: number, what: string): number {
  const off = ctx.evaluate(op) - ctx.pc;
  const lim = 1n << BigInt(bits - 1);
  if (off < -lim || off >= lim) throw new SyntaxProblem(`${what} target out of range (offset ${off})`);
  if (off & 1n) throw new SyntaxProblem(`${what} target is not 2-byte aligned`);
  return Number(off);
}

function fenceSet(op: string): number {
  const s = op.toLowerCase();
  if (!/^[iorw]+$/.test(s)) throw new SyntaxProblem(`bad fence operand '${op}'`);
  let v = 0;
  for (const c of s) v |= { i: 8, o: 4, r: 2, w: 1 }[c as 'i' | 'o' | 'r' | 'w'];
  return v;
}

function csr(ctx: EncodeContext, op: string): number {
  return csrNumber(op.trim()) ?? inRange(ctx.evaluate(op), 0, 4095, 'CSR number');
}

function encode32(def: OpcodeDef, ops: string[], ctx: EncodeContext): number {
  const args = def.args;
  // The rounding mode is optional and defaults to dynamic, as in GNU as.
  if (args[args.length - 1] === 'm' && ops.length === args.length - 1) ops = [...ops, 'dyn'];
  if (ops.length !== args.length) {
    throw new SyntaxProblem(`'${def.name}' takes ${args.length} operand(s), got ${ops.length}`);
  }
  let w = def.match;
  const imm = (op: string): bigint => ctx.evaluate(op);
  args.forEach((a, k) => {
    const op = ops[k];
    switch (a) {
      case 'd': w |= xreg(op) << 7; break;
      case 's': w |= xreg(op) << 15; break;
      case 't': w |= xreg(op) << 20; break;
      case 'D': w |= freg(op) << 7; break;
      case 'S': w |= freg(op) << 15; break;
      case 'T': w |= freg(op) << 20; break;
      case 'R': w |= freg(op) << 27; break;
      case 'j': w |= scatter(inRange(imm(op), -2048, 2047, 'immediate'), IMM_I); break;
      case 'o(s)':
      case 'q(s)': {
        const [off, base] = splitAddress(op);
        const v = inRange(imm(off), -2048, 2047, 'offset');
        w |= scatter(v, a === 'o(s)' ? IMM_I : IMM_S) | (xreg(base) << 15);
        break;
      }
      case '(s)': {
        const [off, base] = splitAddress(op);
        if (imm(off) !== 0n) throw new SyntaxProblem('atomic address offset must be 0');
        w |= xreg(base) << 15;
        break;
      }
      case 'b': w |= scatter(target(ctx, op, 13, 'branch'), IMM_B); break;
      case 'a': w |= scatter(target(ctx, op, 21, 'jump'), IMM_J); break;
      case 'u': w |= inRange(imm(op), 0, 0xfffff, 'upper immediate') << 12; break;
      case '>': w |= inRange(imm(op), 0, 63, 'shift amount') << 20; break;
      case '<': w |= inRange(imm(op), 0, 31, 'shift amount') << 20; break;
      case 'm': {
        const rm = ROUNDING_MODES.indexOf(op.trim().toLowerCase());
        if (rm < 0) throw new SyntaxProblem(`bad rounding mode '${op}'`);
        w |= rm << 12;
        break;
      }
      case 'E': w |= csr(ctx, op) << 20; break;
      case 'Z': w |= inRange(imm(op), 0, 31, 'CSR immediate') << 15; break;
      case 'P': w |= fenceSet(op) << 24; break;
      case 'Q': w |= fenceSet(op) << 20; break;
      default: throw new Error(`internal: operand kind ${a}`);
    }
  });
  return w >>> 0;
}

function cImmBits(imm: CImm, v: bigint, what: string): number {
  // Round-trip through the scattered layout: anything lost was out of range or misaligned.
  const n = Number(BigInt.asIntN(32, v));
  const bits = scatter(n, imm.chunks);
  const back = cImmValue(bits, imm);
  if (BigInt(back) !== v) throw new SyntaxProblem(`${what} ${v} is out of range or misaligned`);
  return bits;
}

function encodeC(def: CDef, ops: string[], ctx: EncodeContext): number {
  if (ops.length !== def.args.length) {
    throw new SyntaxProblem(`'${def.name}' takes ${def.args.length} operand(s), got ${ops.length}`);
  }
  let p = def.match;
  const reg = (tok: string, op: string): void => {
    const r = CREG[tok];
    const n = r.float ? freg(op) : xreg(op);
    if (r.prime && (n < 8 || n > 15)) throw new SyntaxProblem(`register '${op}' is not one of x8-x15/f8-f15`);
    p |= (r.prime ? n - 8 : n) << r.lo;
  };
  def.args.forEach((tok, k) => {
    const op = ops[k];
    const mem = /^(\w+)\((\w+)\)$/.exec(tok);
    if (tok === 'sp') {
      if (xreg(op) !== 2) throw new SyntaxProblem(`'${def.name}' needs sp here`);
    } else if (tok in CREG) {
      reg(tok, op);
    } else if (mem) {
      const [off, base] = splitAddress(op);
      p |= cImmBits(CIMM[mem[1]], ctx.evaluate(off), 'offset');
      if (mem[2] === 'sp') {
        if (xreg(base) !== 2) throw new SyntaxProblem(`'${def.name}' needs an sp-relative address`);
      } else {
        reg(mem[2], base);
      }
    } else {
      const imm = CIMM[tok];
      let v = ctx.evaluate(op);
      if (imm.print === 'target') v -= ctx.pc;
      // c.lui takes the 20-bit form GNU prints (0xfffe0..0xfffff for negatives).
      if (imm.print === 'lui' && v >= 0xfffe0n && v <= 0xfffffn) v -= 0x100000n;
      p |= cImmBits(imm, v, imm.print === 'target' ? 'branch offset' : 'immediate');
    }
  });
  if (!(def.shown ?? def.legal)(p)) throw new SyntaxProblem(`illegal operands for '${def.name}'`);
  return p;
}

export function encodeInstruction(mnemonic: string, ops: string[], ctx: EncodeContext): Encoded {
  const def = OPCODE_BY_NAME.get(mnemonic);
  if (def) return { word: encode32(def, ops, ctx), size: 4 };
  const cdef = C_OPCODE_BY_NAME.get(mnemonic);
  if (cdef) return { word: encodeC(cdef, ops, ctx), size: 2 };
  throw new SyntaxProblem(`unknown instruction '${mnemonic}'`);
}
