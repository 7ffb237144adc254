// Lexical helpers for the assembler: comments, statements, operands, strings.

import { unescapeChar } from './expr.js';

/** A problem in one statement; the assembler adds the line number. */
export class SyntaxProblem extends Error {}

/**
 * Calls `visit` for every character outside string and character literals, in order,
 * until it returns true; returns that index, or the text's length.
 */
function scanCode(text: string, visit: (c: string, i: number) => boolean | void): number {
  let quote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === '"') quote = false;
    } else if (c === '"') {
      quote = true;
    } else if (c === "'") {
      // A character literal: skip the (possibly escaped) character and an optional closing quote.
      i += text[i + 1] === '\\' ? 2 : 1;
      if (text[i + 1] === "'") i++;
    } else if (visit(c, i)) {
      return i;
    }
  }
  return text.length;
}

/** Removes a trailing '#' comment, respecting string and character literals. */
export function stripComment(line: string): string {
  return line.slice(0, scanCode(line, (c) => c === '#'));
}

/** Splits on a separator character outside quotes and parentheses. */
export function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  scanCode(text, (c, i) => {
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  });
  out.push(text.slice(start));
  return out;
}

export function splitOperands(text: string): string[] {
  const t = text.trim();
  if (t === '') return [];
  const ops = splitTopLevel(t, ',').map((s) => s.trim());
  if (ops.some((o) => o === '')) throw new SyntaxProblem('empty operand');
  return ops;
}

export interface Statement {
  labels: string[];
  /** Lower-cased mnemonic or directive (with its leading dot), or '' for a label-only line. */
  op: string;
  operands: string[];
  /** Raw operand text, for directives such as .string that parse it themselves. */
  rest: string;
}

const LABEL = /^\s*([A-Za-z_.$][A-Za-z0-9_.$]*|[0-9]+)\s*:(?!=)/;

export function parseStatement(text: string): Statement {
  const labels: string[] = [];
  let s = text;
  for (let m; (m = LABEL.exec(s)); ) {
    labels.push(m[1]);
    s = s.slice(m[0].length);
  }
  s = s.trim();
  if (s === '') return { labels, op: '', operands: [], rest: '' };
  const m = /^([A-Za-z_.$][A-Za-z0-9_.$]*)\s*(.*)$/s.exec(s);
  if (!m) throw new SyntaxProblem(`cannot parse '${s}'`);
  const op = m[1].toLowerCase();
  const rest = m[2];
  // `sym = expr` is the same as .set.
  if (rest.startsWith('=') && !rest.startsWith('==')) {
    return { labels, op: '.set', operands: [m[1], rest.slice(1).trim()], rest: `${m[1]}, ${rest.slice(1)}` };
  }
  return { labels, op, operands: op === '.string' || op === '.asciz' || op === '.ascii' ? [] : splitOperands(rest), rest };
}

/** Parses a comma-separated list of "..." literals into byte arrays. */
export function parseStrings(text: string): number[][] {
  const out: number[][] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  skipSpace();
  while (i < text.length) {
    if (text[i] !== '"') throw new SyntaxProblem('expected a string literal');
    i++;
    const bytes: number[] = [];
    while (true) {
      if (i >= text.length) throw new SyntaxProblem('unterminated string');
      if (text[i] === '"') break;
      const literal = text[i] !== '\\';
      const [code, next] = unescapeChar(text, i);
      // Escapes give raw bytes; literal non-ASCII text is stored as UTF-8.
      if (literal && code >= 0x80) bytes.push(...new TextEncoder().encode(String.fromCodePoint(code)));
      else bytes.push(code & 0xff);
      i = next;
    }
    i++;
    out.push(bytes);
    skipSpace();
    if (i < text.length) {
      if (text[i] !== ',') throw new SyntaxProblem('expected , between strings');
      i++;
      skipSpace();
    }
  }
  return out;
}
