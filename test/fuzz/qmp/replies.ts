// What a QMP client may receive, checked strictly: the greeting, replies (return or
// error with a known class and a description, echoing the request's id) and events
// with QEMU's timestamp. What a request is owed is worked out from its bytes alone,
// the way the server must see them, not from how the fuzzer built it.

import assert from 'node:assert/strict';
import { MAX_JSON_DEPTH } from '../../../src/vmm/qmp/json-stream.js';

export type Msg = Record<string, unknown>;

const ERROR_CLASSES = new Set(['GenericError', 'CommandNotFound']);
const EVENTS = new Set(['STOP', 'RESUME', 'SHUTDOWN', 'RESET', 'POWERDOWN', 'JOB_STATUS_CHANGE']);

/** The server's output, one JSON object per CRLF-terminated line. */
export function messages(text: string): Msg[] {
  if (text === '') return [];
  assert.ok(text.endsWith('\r\n'), `output does not end a line: ${JSON.stringify(text.slice(-80))}`);
  return text.slice(0, -2).split('\r\n').map((line) => {
    const m = JSON.parse(line) as unknown;
    assert.ok(typeof m === 'object' && m !== null && !Array.isArray(m), `not an object: ${line.slice(0, 200)}`);
    return m as Msg;
  });
}

const isObject = (v: unknown): v is Msg => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws unless `m` is a well-formed reply or event; says which it is. */
export function classify(m: Msg): 'return' | 'error' | 'event' {
  const keys = Object.keys(m).filter((k) => k !== 'id');
  if (keys.length === 1 && keys[0] === 'return') return 'return';
  if (keys.length === 1 && keys[0] === 'error') {
    const e = m.error;
    assert.ok(isObject(e) && Object.keys(e).sort().join() === 'class,desc', `malformed error: ${JSON.stringify(m).slice(0, 300)}`);
    assert.ok(ERROR_CLASSES.has(e.class as string), `unknown error class ${String(e.class)}`);
    assert.ok(typeof e.desc === 'string' && e.desc !== '', 'an error needs a description');
    return 'error';
  }
  assert.ok(!('id' in m), 'an event carries no id');
  assert.deepEqual(Object.keys(m).sort(), ['data', 'event', 'timestamp'], `neither reply nor event: ${JSON.stringify(m).slice(0, 300)}`);
  assert.ok(EVENTS.has(m.event as string), `unknown event ${String(m.event)}`);
  assert.ok(isObject(m.data), 'event data must be an object');
  const ts = m.timestamp as Msg;
  assert.ok(isObject(ts) && Number.isInteger(ts.seconds) && Number.isInteger(ts.microseconds) && (ts.microseconds as number) >= 0 && (ts.microseconds as number) < 1e6, 'bad timestamp');
  return 'event';
}

export function assertGreeting(m: Msg | undefined): void {
  assert.ok(m && isObject(m.QMP) && Array.isArray(m.QMP.capabilities), `not a greeting: ${JSON.stringify(m)}`);
}

/** Deepest bracket nesting of a JSON text, outside strings. */
function depth(text: string): number {
  let d = 0, max = 0, inString = false, escaped = false;
  for (const c of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++d);
    else if (c === '}' || c === ']') d--;
  }
  return max;
}

export interface Owed {
  /** The reply must carry this id (undefined: it must carry none). */
  id?: { value: unknown };
  /** The command named, when the request is an object that names one. */
  command?: string;
}

/** What the server owes one complete JSON text: whether its answer echoes an id. An id
 *  is echoed only from a request that was parsed (within the size and depth limits)
 *  and is an object; it comes back through JSON (so -0 is 0). */
export function owed(bytes: Uint8Array, maxBytes: number): Owed {
  const text = new TextDecoder().decode(bytes).replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');
  if (Buffer.byteLength(text) > maxBytes || depth(text) > MAX_JSON_DEPTH) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isObject(v)) return {};
  return {
    id: Object.hasOwn(v, 'id') ? { value: JSON.parse(JSON.stringify(v.id)) as unknown } : undefined,
    command: typeof v.execute === 'string' ? v.execute : undefined,
  };
}

const JOB_SUCCESS = 'created,running,waiting,pending,concluded';
const JOB_FAILURE = 'created,running,aborting,concluded';

/** Every job's JOB_STATUS_CHANGE events, in order, walk one of QEMU's two paths. */
export function jobPaths(events: Msg[]): Map<string, 'ok' | 'failed'> {
  const seen = new Map<string, string[]>();
  for (const e of events) {
    if (e.event !== 'JOB_STATUS_CHANGE') continue;
    const { id, status } = e.data as { id: string; status: string };
    seen.set(id, [...(seen.get(id) ?? []), status]);
  }
  const out = new Map<string, 'ok' | 'failed'>();
  for (const [id, states] of seen) {
    const path = states.join();
    assert.ok(path === JOB_SUCCESS || path === JOB_FAILURE, `job ${JSON.stringify(id)} went ${path}`);
    out.set(id, path === JOB_SUCCESS ? 'ok' : 'failed');
  }
  return out;
}
