// Expression evaluation for the assembler, with GNU as precedence:
// unary (- ~ !) > (* / % << >>) > (| & ^) > (+ -).
// Values are 64-bit; results wrap like the assembler's own arithmetic.

export class ExprError extends Error {}

/** Thrown when a symbol is not (yet) known; pass 1 uses it to defer. */
export class UndefinedSymbol extends ExprError {
  constructor(readonly symbol: string) {
    super(`undefined symbol '${symbol}'`);
  }
}

export interface ExprContext {
  /** Value of a symbol (numeric local refs arrive as "1b"/"1f"), or undefined. */
  lookup(name: string): bigint | undefined;
  /** Address of the current statement, for '.' and %pcrel_hi. */
  dot: bigint;
  /** %pcrel_lo(label): the low part paired with the auipc at that address. */
  pcrelLo?(auipcAddr: bigint): bigint;
}

const wrap = (v: bigint): bigint => BigInt.asIntN(64, v);

export function hi20(v: bigint): bigint {
  return ((v + 0x800n) >> 12n) & 0xfffffn;
}

export function lo12(v: bigint): bigint {
  return BigInt.asIntN(12, v);
}

type Tok = { t: 'num'; v: bigint } | { t: 'sym'; v: string } | { t: 'op'; v: string };

const OPS = ['<<', '>>', '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '(', ')'];

export function unescapeChar(s: string, i: number): [number, number] {
  // Returns [code point, next index] for the character at s[i] (after a quote).
  if (s[i] !== '\\') {
    const cp = s.codePointAt(i) ?? 0;
    return [cp, i + (cp > 0xffff ? 2 : 1)];
  }
  const c = s[i + 1];
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, '0': 0, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11 };
  if (c in simple && !/[0-7]/.test(s[i + 2] ?? '')) return [simple[c], i + 2];
  if (/[0-7]/.test(c)) {
    const m = /^[0-7]{1,3}/.exec(s.slice(i + 1))!;
    return [parseInt(m[0], 8) & 0xff, i + 1 + m[0].length];
  }
  if (c === 'x') {
    const m = /^[0-9a-fA-F]+/.exec(s.slice(i + 2));
    if (!m) throw new ExprError('bad \\x escape');
    return [parseInt(m[0].slice(-2), 16), i + 2 + m[0].length];
  }
  if (c === undefined) throw new ExprError('unterminated escape');
  return [s.charCodeAt(i + 1), i + 2];
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === "'") {
      const [code, next] = unescapeChar(src, i + 1);
      toks.push({ t: 'num', v: BigInt(code) });
      // GNU accepts both 'a and 'a'.
      i = src[next] === "'" ? next + 1 : next;
      continue;
    }
    const num = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+[bf](?![0-9a-zA-Z_])|[0-9]+)/.exec(src.slice(i));
    if (num) {
      const s = num[0];
      if (/^[0-9]+[bf]$/.test(s)) toks.push({ t: 'sym', v: s });
      else if (/^0[bB]/.test(s)) toks.push({ t: 'num', v: BigInt(s) });
      else if (/^0[0-7]+$/.test(s)) toks.push({ t: 'num', v: BigInt('0o' + s.slice(1)) });
      else if (/^0[0-9]+$/.test(s)) throw new ExprError(`bad octal number '${s}'`);
      else toks.push({ t: 'num', v: BigInt(s) });
      i += s.length;
      if (/[0-9a-zA-Z_]/.test(src[i] ?? '')) throw new ExprError(`bad number '${src.slice(i - s.length).split(/[^0-9a-zA-Z_]/)[0]}'`);
      continue;
    }
    const sym = /^(%?[A-Za-z_.$][A-Za-z0-9_.$]*)/.exec(src.slice(i));
    if (sym) {
      toks.push({ t: 'sym', v: sym[0] });
      i += sym[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExprError(`unexpected character '${c}' in expression`);
    toks.push({ t: 'op', v: op });
    i += op.length;
  }
  return toks;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Tok[], private readonly ctx: ExprContext) {}

  parse(): bigint {
    if (this.toks.length === 0) throw new ExprError('missing expression');
    const v = this.additive();
    if (this.pos < this.toks.length) throw new ExprError('junk at end of expression');
    return v;
  }

  private peekOp(...ops: string[]): string | undefined {
    const t = this.toks[this.pos];
    return t && t.t === 'op' && ops.includes(t.v) ? t.v : undefined;
  }

  private additive(): bigint {
    let v = this.bitwise();
    for (let op; (op = this.peekOp('+', '-')); ) {
      this.pos++;
      const r = this.bitwise();
      v = wrap(op === '+' ? v + r : v - r);
    }
    return v;
  }

  private bitwise(): bigint {
    let v = this.multiplicative();
    for (let op; (op = this.peekOp('|', '&', '^')); ) {
      this.pos++;
      const r = this.multiplicative();
      v = op === '|' ? v | r : op === '&' ? v & r : v ^ r;
    }
    return v;
  }

  private multiplicative(): bigint {
    let v = this.unary();
    for (let op; (op = this.peekOp('*', '/', '%', '<<', '>>')); ) {
      this.pos++;
      const r = this.unary();
      if ((op === '/' || op === '%') && r === 0n) throw new ExprError('division by zero');
      if (op === '*') v = wrap(v * r);
      else if (op === '/') v = wrap(v / r);
      else if (op === '%') v = v % r;
      else if (r < 0n || r > 63n) v = 0n;
      else v = op === '<<' ? wrap(v << r) : v >> r;
    }
    return v;
  }

  private unary(): bigint {
    const op = this.peekOp('-', '~', '!', '+');
    if (op) {
      this.pos++;
      const v = this.unary();
      if (op === '-') return wrap(-v);
      if (op === '~') return ~v;
      if (op === '!') return v === 0n ? 1n : 0n;
      return v;
    }
    return this.primary();
  }

  private primary(): bigint {
    const t = this.toks[this.pos++];
    if (!t) throw new ExprError('missing operand in expression');
    if (t.t === 'num') return wrap(t.v);
    if (t.t === 'op') {
      if (t.v !== '(') throw new ExprError(`unexpected '${t.v}' in expression`);
      const v = this.additive();
      if (!this.peekOp(')')) throw new ExprError("missing ')'");
      this.pos++;
      return v;
    }
    if (t.v.startsWith('%')) return this.relocation(t.v);
    if (t.v === '.') return this.ctx.dot;
    const v = this.ctx.lookup(t.v);
    if (v === undefined) throw new UndefinedSymbol(t.v);
    return v;
  }

  private relocation(name: string): bigint {
    if (!this.peekOp('(')) throw new ExprError(`'${name}' needs a parenthesised operand`);
    this.pos++;
    const v = this.additive();
    if (!this.peekOp(')')) throw new ExprError("missing ')'");
    this.pos++;
    switch (name) {
      case '%hi':
        return hi20(v);
      case '%lo':
        return lo12(v);
      case '%pcrel_hi':
        return hi20(v - this.ctx.dot);
      case '%pcrel_lo':
        if (!this.ctx.pcrelLo) throw new ExprError('%pcrel_lo is not allowed here');
        return this.ctx.pcrelLo(v);
      default:
        throw new ExprError(`unknown relocation operator '${name}'`);
    }
  }
}

export function evaluate(src: string, ctx: ExprContext): bigint {
  return new Parser(tokenize(src), ctx).parse();
}

/** Does the expression use one of the relocation operators (%hi, %lo, ...)? */
export function relocationOf(src: string): string | undefined {
  return /^\s*(%[a-z_]+)\s*\(/.exec(src)?.[1];
}
