// QMP inputs for the fuzzer: every command rvisor has, with valid arguments, then
// mutated the way a careless or hostile client would (fields missing, extra or of the
// wrong type, huge or deeply nested values, odd unicode, values that are not objects,
// text cut short or with its bytes flipped). Each item says what the server owes it,
// so the checker can tell a wrong answer from an input that deserves none.

import { mutateBytes, type Rng } from '../harness.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One top-level text sent to the server. */
export interface Item {
  bytes: Uint8Array;
  /** A complete JSON text ending where the server sees its end: it gets exactly one
   *  answer. false when the text was cut or its bytes mutated (anything may follow). */
  complete: boolean;
  /** A valid command not mutated at all: negotiated, its answer is `return`. */
  valid?: string;
}

interface Valid {
  args?: Record<string, Json>;
  /** Whether a valid call always succeeds (job commands depend on what ran before). */
  ok: boolean;
}

const HMP_LINES = [
  'info status', 'info cpus', 'info registers', 'info block', 'info jit', 'info version', 'info', 'info frob',
  'help', '?', 'cpu 1', 'cpu 9', 'cpu', 'stop', 'cont', 's', 'c', 'system_powerdown', 'system_reset', 'savevm fz',
  'loadvm fz', 'loadvm nosuch', 'savevm', 'quit', 'frobnicate', '', '   ',
];
const TAGS = ['fz', 'nosuch', 'snap-1'];
const JOB_IDS = ['j0', 'j1', 'j2'];

/** Valid arguments for every command in commands.ts (the target refuses to open if one
 *  is missing, so a new command is fuzzed from the day it exists). */
export const VALID: Record<string, (rng: Rng) => Valid> = {
  'query-status': () => ({ ok: true }),
  stop: () => ({ ok: true }),
  cont: () => ({ ok: true }),
  system_powerdown: () => ({ ok: true }),
  system_reset: () => ({ ok: true }),
  quit: () => ({ ok: true }),
  'query-cpus-fast': () => ({ ok: true }),
  'query-block': () => ({ ok: true }),
  'query-stats': (rng) => (rng.chance(0.8) ? { args: { target: 'vcpu' }, ok: true } : { args: { target: 'vm' }, ok: false }),
  'query-version': () => ({ ok: true }),
  'x-query-jit': () => ({ ok: true }),
  'query-commands': () => ({ ok: true }),
  'query-jobs': () => ({ ok: true }),
  'job-dismiss': (rng) => ({ args: { id: rng.pick(JOB_IDS) }, ok: false }),
  'human-monitor-command': (rng) => ({
    args: { 'command-line': rng.pick(HMP_LINES), ...(rng.chance(0.3) ? { 'cpu-index': rng.int(2) } : {}) },
    ok: true,
  }),
  // The fuzzed VM has no migration control: these are refused, query-migrate answers {}.
  migrate: (rng) => ({ args: { uri: rng.pick(['tcp:127.0.0.1:1', 'unix:/nonexistent', 'exec:cat', 'tcp:[::1]:99999']) }, ok: false }),
  migrate_cancel: () => ({ ok: false }),
  'migrate-incoming': (rng) => ({ args: { uri: rng.pick(['tcp:127.0.0.1:0', 'unix:/nonexistent/x', 'exec:cat']) }, ok: false }),
  'x-rvisor-migrate-predict': (rng) => ({ args: { uri: rng.pick(['tcp:127.0.0.1:1', 'unix:/nonexistent']), 'calc-time': rng.int(3) }, ok: false }),
  'query-migrate': () => ({ ok: true }),
  'migrate-set-parameters': (rng) => ({ args: { 'downtime-limit': rng.int(1000), 'max-bandwidth': rng.int(1 << 30) }, ok: false }),
  'snapshot-save': (rng) => ({ args: snapshotArgs(rng), ok: false }),
  'snapshot-load': (rng) => ({ args: snapshotArgs(rng), ok: false }),
};

function snapshotArgs(rng: Rng): Record<string, Json> {
  return { 'job-id': rng.pick(JOB_IDS), tag: rng.pick(TAGS), vmstate: 'disk0', devices: rng.chance(0.5) ? [] : ['disk0'] };
}

const NUMBERS = [0, -1, 1, 0.5, -0, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e-300, 65535];
const STRINGS = [
  '', 'a', '\u0000', '\ud800', '\udfff', '\ufeff', '\u{1f600}', '\u00e9', '\u2028', 'a"b', '"', '\\', '{', '}', '[', ']',
  '\n', '\r\n', '%s%n', '../../etc/passwd', 'query-status', '__proto__', 'toString', 'constructor', 'info registers',
];
const KEYS = ['execute', 'arguments', 'id', 'enable', 'command-line', 'cpu-index', 'job-id', 'tag', 'vmstate', 'devices',
  'x', '', '__proto__', 'toString', 'constructor', 'hasOwnProperty', '\u0000', '\u{1f600}', 'exec-oob', 'control'];

export function randomString(rng: Rng): string {
  switch (rng.int(4)) {
    case 0: return rng.pick(STRINGS);
    case 1: return rng.pick(STRINGS).repeat(1 + rng.int(64));
    case 2: return String.fromCharCode(...Array.from({ length: rng.int(12) }, () => rng.int(0x10000)));
    // Long strings cost every parser on the way per byte: now and then is enough.
    default: return 'x'.repeat(rng.chance(0.1) ? rng.int(5000) : rng.int(200));
  }
}

/** A value nested `depth` levels deep (arrays or objects): QEMU's limit is 1024. */
export function nested(rng: Rng, depth: number): Json {
  let v: Json = rng.chance(0.5) ? 1 : 'leaf';
  const useObjects = rng.chance(0.5);
  for (let i = 0; i < depth; i++) v = useObjects ? { a: v } : [v];
  return v;
}

/** Any JSON value: mostly the wrong type wherever it lands. */
export function randomValue(rng: Rng, depth = 0): Json {
  switch (rng.int(depth > 2 ? 4 : 8)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick(NUMBERS);
    case 3: return randomString(rng);
    case 4: return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
    case 5: return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.pick(KEYS), randomValue(rng, depth + 1)]));
    // Mostly shallow; often enough right at QEMU's limit of 1024 (the request itself
    // and the argument add a level or two).
    case 6: return nested(rng, rng.chance(0.7) ? rng.int(64) : 1015 + rng.int(20));
    default: return rng.int(2) ? rng.pick(Object.keys(VALID)) : rng.pick(STRINGS);
  }
}

/** A request object as a client builds it, for command `name`. */
export function validRequest(rng: Rng, name: string, id: Json | undefined): { req: Record<string, Json>; ok: boolean } {
  const v = VALID[name](rng);
  const req: Record<string, Json> = { execute: name };
  if (v.args) req.arguments = v.args;
  else if (rng.chance(0.2)) req.arguments = {};
  if (id !== undefined) req.id = id;
  return { req, ok: v.ok };
}

/** Structure-aware mutations of a request: one field wrong in one way. */
function mutateRequest(rng: Rng, req: Record<string, Json>): void {
  const args = typeof req.arguments === 'object' && req.arguments !== null && !Array.isArray(req.arguments) ? req.arguments : undefined;
  const target = args && rng.chance(0.6) ? args : req;
  const keys = Object.keys(target);
  switch (rng.int(6)) {
    case 0: if (keys.length) delete target[rng.pick(keys)]; break;
    case 1: target[rng.pick(KEYS)] = randomValue(rng); break;
    case 2: if (keys.length) target[rng.pick(keys)] = randomValue(rng); break;
    case 3: req.execute = rng.chance(0.5) ? randomString(rng) : rng.pick(Object.keys(VALID)).toUpperCase(); break;
    case 4: req.id = randomValue(rng); break;
    default: req.arguments = randomValue(rng); break;
  }
}

/** JSON text with the whitespace a hand-written client might put between tokens
 *  (never inside strings, where it would change the value or break the text). */
function spaced(rng: Rng, text: string): string {
  let out = '', inString = false, escaped = false;
  for (const c of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      out += c;
      continue;
    }
    if (c === '"') inString = true;
    out += ',:{}[]'.includes(c) && rng.chance(0.3) ? ` ${rng.pick(['', '\n', '\t', '\r\n'])}${c} ` : c;
  }
  return out;
}

/** Top-level texts that are complete but not requests: scalars, arrays, stray closers,
 *  nesting past the limit (each is one answer, an error). */
function notARequest(rng: Rng): string {
  switch (rng.int(8)) {
    case 0: return `${rng.pick(['12', 'true', 'null', '-0.5e3', '"str"'])}\n`;
    case 1: return rng.pick(['}', ']']);
    case 2: return JSON.stringify(randomValue(rng)) + (rng.chance(0.5) ? '\n' : ' ');
    case 3: {
      // Past the depth limit; now and then far past it, as an attack would (deep
      // enough to overflow any recursion over it), bare or as a request's id.
      const n = rng.chance(0.2) ? 20000 + rng.int(200000) : 1020 + rng.int(100);
      const deep = '['.repeat(n) + ']'.repeat(n);
      return rng.chance(0.5) ? deep : `{"execute":"query-status","id":${deep}}`;
    }
    case 4: return `{"execute":"query-status","id":${'['.repeat(1023)}${']'.repeat(1023)}}`;
    case 5: return `{"execute":"query-status","arguments":{"pad":"${'x'.repeat(70000)}"}}`;
    case 6: return ' \t\r\n'.repeat(1 + rng.int(4)) + '{"execute":"query-version"}';
    default: return `{"execute":"query-status","id":${JSON.stringify(randomString(rng))}}`;
  }
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** One item: a valid command (often), a mutated one, or something that is not one. */
export function item(rng: Rng, index: number, negotiated: boolean): Item {
  if (!negotiated && rng.chance(0.5)) return { bytes: utf8(JSON.stringify({ execute: 'qmp_capabilities', id: `cap${index}` })), complete: true };
  if (rng.chance(0.08)) return { bytes: utf8(notARequest(rng)), complete: true };
  const name = rng.chance(0.05) ? 'qmp_capabilities' : rng.pick(Object.keys(VALID));
  const id: Json | undefined = rng.chance(0.8) ? index : undefined;
  const { req, ok } = name === 'qmp_capabilities' ? { req: { execute: name, id: index } as Record<string, Json>, ok: false } : validRequest(rng, name, id);
  const mutated = rng.chance(0.5);
  if (mutated) for (let r = 1 + rng.int(2); r > 0; r--) mutateRequest(rng, req);
  let text = JSON.stringify(req);
  switch (rng.int(10)) {
    case 0: return { bytes: utf8(text.slice(0, rng.int(text.length))), complete: false };
    case 1: return { bytes: mutateBytes(rng, utf8(text)), complete: false };
    case 2: text = spaced(rng, text); break;
    // A duplicate member: JSON.parse keeps the last, the original.
    case 3: text = text.replace(/^\{/, `{"execute":${JSON.stringify(randomValue(rng, 3))},`); break;
    default: break;
  }
  return { bytes: utf8(text), complete: true, valid: !mutated && ok ? name : undefined };
}
