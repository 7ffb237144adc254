// Section payloads of the snapshot file (snapshot-file.ts has the container):
//
// kind 0, plain state:  u32 jsonLength | JSON (UTF-8) | blobs
//   Each Uint8Array in the state is written as {"$bytes": [offset, length]} into the
//   blob area that follows the JSON, so binary data stays binary.
// kind 1, RAM:          u32 pageSize | u32 pages | u32 runCount | runs
//   run: u32 firstPage | u32 pageCount | pageCount * pageSize bytes
//
// Integers are little-endian.

import { SnapshotError } from '../devices/snapshot.js';
import type { RamRun, RamSnapshot } from '../machine/ram-snapshot.js';

export const KIND_PLAIN = 0;
export const KIND_RAM = 1;
const BYTES_KEY = '$bytes';

/** Encodes plain state; throws SnapshotError for anything that is not plain. */
export function encodePlain(id: string, state: unknown): Uint8Array {
  const blobs: Uint8Array[] = [];
  let blobLength = 0;
  const json = JSON.stringify(state, function (key, value: unknown) {
    if (value instanceof Uint8Array) {
      blobs.push(value);
      blobLength += value.length;
      return { [BYTES_KEY]: [blobLength - value.length, value.length] };
    }
    if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol' || (typeof value === 'number' && !Number.isFinite(value))) {
      throw new SnapshotError(`section '${id}': ${key || 'the state'} is a ${typeof value} (${String(value)}), which is not plain data`);
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new SnapshotError(`section '${id}': ${key || 'the state'} is not a plain object`);
      if (Object.prototype.hasOwnProperty.call(value, BYTES_KEY)) throw new SnapshotError(`section '${id}': the key ${BYTES_KEY} is reserved`);
    }
    return value;
  });
  const text = new TextEncoder().encode(json ?? 'null');
  const out = new Uint8Array(4 + text.length + blobLength);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 4);
  let at = 4 + text.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

export function decodePlain(id: string, payload: Uint8Array): unknown {
  const bad = (why: string): never => {
    throw new SnapshotError(`section '${id}' is malformed: ${why}`);
  };
  if (payload.length < 4) bad('shorter than its JSON length');
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const n = dv.getUint32(0, true);
  if (4 + n > payload.length) bad('JSON runs past the section');
  const blobs = payload.subarray(4 + n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(4, 4 + n));
  } catch {
    return bad('JSON is not UTF-8');
  }
  try {
    return JSON.parse(text, (_key, value: unknown) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
      const ref = (value as Record<string, unknown>)[BYTES_KEY];
      if (ref === undefined) return value;
      if (!Array.isArray(ref) || ref.length !== 2 || !ref.every((v) => Number.isInteger(v) && v >= 0)) bad('bad blob reference');
      const [off, len] = ref as number[];
      if (off + len > blobs.length) bad('blob runs past the section');
      return blobs.slice(off, off + len);
    }) as unknown;
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    return bad(`JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Checks the shape of a RAM section before any byte is written. */
export function checkRam(state: unknown): RamSnapshot {
  const s = state as Partial<RamSnapshot> | null;
  const ok = s !== null && typeof s === 'object' && Number.isInteger(s.pageSize) && (s.pageSize as number) > 0 &&
    Number.isInteger(s.pages) && Array.isArray(s.runs) &&
    s.runs.every((r: RamRun) => Number.isInteger(r.page) && r.bytes instanceof Uint8Array && r.bytes.length % (s.pageSize as number) === 0);
  if (!ok) throw new SnapshotError("section 'ram' is not a RAM image (pageSize, pages, runs of whole pages)");
  return s as RamSnapshot;
}

export function ramHeader(ram: RamSnapshot): Uint8Array {
  const h = new Uint8Array(12);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, ram.pageSize, true);
  dv.setUint32(4, ram.pages, true);
  dv.setUint32(8, ram.runs.length, true);
  return h;
}

export function runHeader(ram: RamSnapshot, run: RamRun): Uint8Array {
  const h = new Uint8Array(8);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, run.page, true);
  dv.setUint32(4, run.bytes.length / ram.pageSize, true);
  return h;
}

/** Payload bytes of a RAM section. */
export function ramLength(ram: RamSnapshot): number {
  return ram.runs.reduce((n, r) => n + 8 + r.bytes.length, 12);
}
