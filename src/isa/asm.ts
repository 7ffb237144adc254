// A two-pass RISC-V assembler for RV64GC (+Zba/Zbb/Zbs/Zicsr/Zifencei/
// Zihintpause) in GNU as syntax. Pass 1 sizes every statement and places
// labels section-relative; pass 2 lays the sections out and encodes.

import { parseStatement, parseStrings, splitTopLevel, Statement, stripComment, SyntaxProblem } from './asmparse.js';
import { encodeInstruction, instructionSize } from './encode.js';
import { evaluate, ExprContext, ExprError, lo12, relocationOf, UndefinedSymbol } from './expr.js';
import { expandPseudo, RealInsn } from './pseudo.js';

export interface AsmSection {
  name: string;
  addr: bigint;
  bytes: Uint8Array;
  flags: 'rx' | 'rw' | 'r';
}

export interface AsmResult {
  sections: AsmSection[];
  symbols: Map<string, bigint>;
  entry: bigint;
}

export class AsmError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'AsmError';
  }
}

interface Section {
  name: string;
  flags: AsmSection['flags'];
  size: number;
  addr: bigint;
  bytes: Uint8Array;
}

interface Item {
  line: number;
  section: Section;
  offset: number;
  size: number;
  stmt: Statement;
  /** Whether `.option rvc` was in force (code padding may use c.nop). */
  rvc: boolean;
}

const DATA_SIZES: Record<string, number> = {
  '.byte': 1, '.half': 2, '.short': 2, '.2byte': 2, '.word': 4, '.long': 4, '.4byte': 4,
  '.dword': 8, '.quad': 8, '.8byte': 8,
};

const IGNORED = new Set([
  '.globl', '.global', '.local', '.weak', '.type', '.size', '.file', '.ident',
  '.attribute', '.hidden', '.protected', '.cfi_startproc', '.cfi_endproc', '.loc', '.end',
]);

const PAGE = 4096n;
const NOP = 0x00000013;

function sectionFlags(name: string, spec?: string): AsmSection['flags'] {
  if (spec !== undefined) {
    const f = spec.replace(/"/g, '');
    return f.includes('x') ? 'rx' : f.includes('w') ? 'rw' : 'r';
  }
  if (name.startsWith('.text')) return 'rx';
  if (name.startsWith('.rodata') || name.startsWith('.srodata')) return 'r';
  return 'rw';
}

/** Numeric local labels (`1:` referenced as 1b / 1f) get a unique name per definition. */
class LocalLabels {
  private counts = new Map<string, number>();
  define(n: string): string {
    const k = this.counts.get(n) ?? 0;
    this.counts.set(n, k + 1);
    return `${n}\u0002${k}`;
  }
  resolve(ref: string): string | undefined {
    const m = /^([0-9]+)([bf])$/.exec(ref);
    if (!m) return undefined;
    const k = this.counts.get(m[1]) ?? 0;
    if (m[2] === 'b') return k === 0 ? undefined : `${m[1]}\u0002${k - 1}`;
    return `${m[1]}\u0002${k}`;
  }
}

function isLocalName(name: string): boolean {
  return name.includes('\u0002');
}

class Assembler {
  private sections = new Map<string, Section>();
  private items: Item[] = [];
  private labelPos = new Map<string, { section: Section; offset: number }>();
  private symbols = new Map<string, bigint>();
  private deferred: { name: string; expr: string; line: number }[] = [];
  private pcrelHi = new Map<bigint, bigint>();
  private current!: Section;
  private locals = new LocalLabels();
  private line = 0;
  // GNU as enables RVC by default for rv64gc; .option only affects alignment padding here.
  private rvc = true;
  private rvcStack: boolean[] = [];

  constructor(private readonly base: bigint) {
    this.current = this.section('.text');
  }

  run(source: string): AsmResult {
    const lines = source.split(/\r?\n/);
    lines.forEach((text, i) => {
      this.line = i + 1;
      this.guard(() => {
        for (const part of splitTopLevel(stripComment(text), ';')) this.pass1(parseStatement(part));
      });
    });
    this.layout();
    this.walk(false);
    this.walk(true);
    const sections: AsmSection[] = [];
    for (const s of this.sections.values()) {
      if (s.size > 0) sections.push({ name: s.name, addr: s.addr, bytes: s.bytes, flags: s.flags });
    }
    const symbols = new Map([...this.symbols].filter(([n]) => !isLocalName(n)));
    return { sections, symbols, entry: symbols.get('_start') ?? this.base };
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof SyntaxProblem || e instanceof ExprError) throw new AsmError(this.line, e.message);
      throw e;
    }
  }

  private section(name: string, spec?: string): Section {
    let s = this.sections.get(name);
    if (!s) {
      s = { name, flags: sectionFlags(name, spec), size: 0, addr: 0n, bytes: new Uint8Array(0) };
      this.sections.set(name, s);
    }
    return s;
  }

  /** Expression context; in pass 1 only earlier constants are known. */
  private context(dot: bigint): ExprContext {
    return {
      dot,
      lookup: (name) => this.symbols.get(this.locals.resolve(name) ?? name),
      pcrelLo: (addr) => {
        const target = this.pcrelHi.get(addr);
        if (target === undefined) throw new SyntaxProblem(`%pcrel_lo: no auipc with %pcrel_hi at 0x${addr.toString(16)}`);
        return lo12(target - addr);
      },
    };
  }

  private constant(expr: string): bigint {
    try {
      return evaluate(expr, this.context(0n));
    } catch (e) {
      if (e instanceof UndefinedSymbol) throw new SyntaxProblem(`'${expr}' must be a constant defined before use`);
      throw e;
    }
  }

  private expand(stmt: Statement): RealInsn[] {
    return expandPseudo(stmt.op, stmt.operands, (e) => this.constant(e)) ??
      [{ mnemonic: stmt.op, operands: stmt.operands }];
  }

  // ---- pass 1 ----

  private pass1(stmt: Statement): void {
    for (const label of stmt.labels) {
      const name = /^[0-9]+$/.test(label) ? this.locals.define(label) : label;
      if (this.labelPos.has(name) || this.symbols.has(name)) throw new SyntaxProblem(`symbol '${label}' is already defined`);
      this.labelPos.set(name, { section: this.current, offset: this.current.size });
    }
    const item: Item = { line: this.line, section: this.current, offset: this.current.size, size: 0, stmt, rvc: this.rvc };
    this.items.push(item);
    if (stmt.op === '') return;
    item.size = stmt.op.startsWith('.') ? this.directive(stmt) : this.insnSize(stmt);
    this.current.size += item.size;
  }

  private insnSize(stmt: Statement): number {
    let size = 0;
    for (const insn of this.expand(stmt)) {
      const s = instructionSize(insn.mnemonic);
      if (s === undefined) throw new SyntaxProblem(`unknown instruction '${insn.mnemonic}'`);
      size += s;
    }
    return size;
  }

  /** Handles a directive in pass 1; returns the bytes it emits. */
  private directive(stmt: Statement): number {
    const { op, operands: ops } = stmt;
    if (IGNORED.has(op) || op.startsWith('.cfi_')) return 0;
    switch (op) {
      case '.text': case '.data': case '.bss': case '.rodata':
        this.current = this.section(op);
        return 0;
      case '.section':
        if (ops.length === 0) throw new SyntaxProblem('.section needs a name');
        this.current = this.section(ops[0], ops[1]);
        return 0;
      case '.option':
        if (ops[0] === 'rvc' || ops[0] === 'norvc') this.rvc = ops[0] === 'rvc';
        else if (ops[0] === 'push') this.rvcStack.push(this.rvc);
        else if (ops[0] === 'pop') this.rvc = this.rvcStack.pop() ?? this.rvc;
        return 0;
      case '.equ': case '.set':
        if (ops.length !== 2 || !/^[A-Za-z_.$][A-Za-z0-9_.$]*$/.test(ops[0])) throw new SyntaxProblem(`${op} needs a symbol and a value`);
        if (this.labelPos.has(ops[0])) throw new SyntaxProblem(`symbol '${ops[0]}' is already defined`);
        try {
          this.symbols.set(ops[0], this.constant(ops[1]));
        } catch (e) {
          if (!(e instanceof SyntaxProblem)) throw e;
          this.deferred.push({ name: ops[0], expr: ops[1], line: this.line });
        }
        return 0;
      case '.align': case '.p2align': case '.balign': {
        if (ops.length < 1) throw new SyntaxProblem(`${op} needs an alignment`);
        const n = this.constant(ops[0]);
        let align: bigint;
        if (op === '.balign') {
          if (n <= 0n || (n & (n - 1n)) !== 0n) throw new SyntaxProblem('.balign needs a power of two');
          align = n;
        } else {
          if (n < 0n || n > 12n) throw new SyntaxProblem(`${op} exponent must be 0..12`);
          align = 1n << n;
        }
        const a = Number(align);
        if (a > 4096) throw new SyntaxProblem('alignment above 4096 is not supported');
        return (a - (this.current.size % a)) % a;
      }
      case '.zero': case '.space': case '.skip': {
        if (ops.length < 1 || ops.length > 2) throw new SyntaxProblem(`${op} needs a size`);
        const n = this.constant(ops[0]);
        if (n < 0n || n > 0x10000000n) throw new SyntaxProblem(`${op} size out of range`);
        return Number(n);
      }
      case '.string': case '.asciz': case '.ascii':
        return parseStrings(stmt.rest).reduce((t, s) => t + s.length + (op === '.ascii' ? 0 : 1), 0);
      default:
        if (op in DATA_SIZES) {
          if (ops.length === 0) throw new SyntaxProblem(`${op} needs at least one value`);
          return ops.length * DATA_SIZES[op];
        }
        throw new SyntaxProblem(`unknown directive '${op}'`);
    }
  }

  // ---- layout ----

  private layout(): void {
    // The first section starts exactly at base (which may be unaligned, e.g.
    // to assemble one instruction at a given pc); the rest start on pages.
    let cursor: bigint | undefined;
    for (const s of this.sections.values()) {
      s.addr = cursor === undefined ? this.base : (cursor + PAGE - 1n) & ~(PAGE - 1n);
      cursor ??= this.base;
      s.bytes = new Uint8Array(s.size);
      if (s.size > 0) cursor = s.addr + BigInt(s.size);
    }
    for (const [name, pos] of this.labelPos) this.symbols.set(name, pos.section.addr + BigInt(pos.offset));
    this.resolveDeferred();
  }

  /** .equ values that refer to labels: resolve until nothing changes. */
  private resolveDeferred(): void {
    let pending = this.deferred;
    while (pending.length > 0) {
      const left = pending.filter((d) => {
        let waiting = false;
        this.line = d.line;
        this.guard(() => {
          try {
            this.symbols.set(d.name, evaluate(d.expr, this.context(0n)));
          } catch (e) {
            if (!(e instanceof UndefinedSymbol)) throw e;
            waiting = true;
          }
        });
        return waiting;
      });
      if (left.length === pending.length) {
        // No progress: report the first one's missing symbol.
        this.line = left[0].line;
        this.guard(() => void evaluate(left[0].expr, this.context(0n)));
      }
      pending = left;
    }
  }

  // ---- pass 2 ----

  /**
   * Walks every item in order, replaying local-label definitions so 1b/1f
   * resolve as in pass 1. The first walk only records %pcrel_hi targets so a
   * %pcrel_lo can name an auipc anywhere; the second encodes.
   */
  private walk(emit: boolean): void {
    this.locals = new LocalLabels();
    for (const item of this.items) {
      for (const label of item.stmt.labels) if (/^[0-9]+$/.test(label)) this.locals.define(label);
      if (item.stmt.op === '') continue;
      this.line = item.line;
      this.guard(() => {
        if (!item.stmt.op.startsWith('.')) this.emitInsns(item, emit);
        else if (emit) this.emitDirective(item);
      });
    }
  }

  private emitInsns(item: Item, emit: boolean): void {
    const sec = item.section;
    let off = item.offset;
    for (const insn of this.expand(item.stmt)) {
      const pc = sec.addr + BigInt(off);
      const ctx = this.context(pc);
      const evaluateOp = (e: string): bigint => evaluate(e, ctx);
      if (!emit) {
        if (insn.mnemonic === 'auipc' && insn.operands.length === 2 && relocationOf(insn.operands[1]) === '%pcrel_hi') {
          const inner = insn.operands[1].trim().replace(/^%pcrel_hi\s*\(/, '').replace(/\)\s*$/, '');
          this.pcrelHi.set(pc, evaluateOp(inner));
        }
        off += instructionSize(insn.mnemonic) ?? 4;
        continue;
      }
      const { word, size } = encodeInstruction(insn.mnemonic, insn.operands, { pc, evaluate: evaluateOp });
      for (let k = 0; k < size; k++) sec.bytes[off + k] = (word >>> (8 * k)) & 0xff;
      off += size;
    }
  }

  private emitDirective(item: Item): void {
    const { op, operands: ops } = item.stmt;
    const sec = item.section;
    const dot = sec.addr + BigInt(item.offset);
    let off = item.offset;
    const put = (v: bigint, n: number): void => {
      for (let k = 0; k < n; k++) sec.bytes[off++] = Number((v >> BigInt(8 * k)) & 0xffn);
    };
    if (op in DATA_SIZES) {
      for (const e of ops) put(evaluate(e, this.context(BigInt(off) + sec.addr)), DATA_SIZES[op]);
    } else if (op === '.zero' || op === '.space' || op === '.skip') {
      const fill = ops[1] === undefined ? 0n : evaluate(ops[1], this.context(dot));
      sec.bytes.fill(Number(fill & 0xffn), off, off + Number(this.constant(ops[0])));
    } else if (op === '.string' || op === '.asciz' || op === '.ascii') {
      for (const s of parseStrings(item.stmt.rest)) {
        sec.bytes.set(s, off);
        off += s.length + (op === '.ascii' ? 0 : 1);
      }
    } else if (op === '.align' || op === '.p2align' || op === '.balign') {
      this.emitPadding(item, ops[1]);
    }
  }

  private emitPadding(item: Item, fillExpr: string | undefined): void {
    const sec = item.section;
    let off = item.offset;
    const stop = off + item.size;
    if (fillExpr !== undefined) {
      sec.bytes.fill(Number(this.constant(fillExpr) & 0xffn), off, stop);
      return;
    }
    if (sec.flags !== 'rx') return;
    // Code is padded like GNU as without relaxation: a zero byte to reach
    // 2-byte alignment, a c.nop (when RVC is on) to reach 4, then nops.
    if (off % 2 !== 0 && off < stop) sec.bytes[off++] = 0;
    if (off % 4 !== 0 && off + 2 <= stop && item.rvc) {
      sec.bytes[off] = 0x01;
      off += 2;
    }
    off += (4 - (off % 4)) % 4;
    const view = new DataView(sec.bytes.buffer);
    for (; off + 4 <= stop; off += 4) view.setUint32(off, NOP, true);
  }
}

/** Assembles GNU-syntax RISC-V source; throws AsmError with a line number. */
export function assemble(source: string, opts?: { base?: bigint }): AsmResult {
  return new Assembler(opts?.base ?? 0x80000000n).run(source);
}
