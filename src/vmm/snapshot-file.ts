// The snapshot file: a versioned container of sections, checksummed as a whole.
//
//   header   "RVSNAP\0\0" | u16 major | u16 minor | u16 patch | u16 0 | u64 file length
//   section  u8 kind | u16 idLength | id (UTF-8) | u64 payloadLength | payload   (repeated)
//   end      u8 0xff | u16 0 | u64 0
//   SHA-256  of every byte before it
//
// Payload encodings are in snapshot-codec.ts. Compatibility: a reader takes files of its
// own major version. Minor versions only add sections (or fields a reader ignores), so a
// file of a newer minor is read too, its unknown sections kept in the map and ignored by
// restoreVirt; section kinds this reader does not know are skipped in such a file only.
// The file length in the header tells a truncated file from a corrupt one.
//
// Writing streams: RAM goes out run by run from guest memory, hashed as it goes, into a
// temporary file renamed over `path` once complete, so `path` is never half written.

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { SnapshotError } from '../devices/snapshot.js';
import type { MachineSnapshot } from '../machine/virt-snapshot.js';
import { checkRam, decodePlain, encodePlain, KIND_PLAIN, KIND_RAM, ramHeader, ramLength, runHeader } from './snapshot-codec.js';

export const SNAPSHOT_MAGIC = 'RVSNAP\0\0';
export interface SnapshotVersion {
  major: number;
  minor: number;
  patch: number;
}
export const SNAPSHOT_VERSION: Readonly<SnapshotVersion> = { major: 1, minor: 0, patch: 0 };
export const HEADER_BYTES = 24;
const KIND_END = 0xff;
const DIGEST_BYTES = 32;
const CHUNK = 1 << 20;

function sectionHead(kind: number, id: string, payloadLength: number): Uint8Array {
  const name = new TextEncoder().encode(id);
  if (name.length > 0xffff) throw new SnapshotError(`section id '${id.slice(0, 40)}...' is too long`);
  const h = new Uint8Array(11 + name.length);
  const dv = new DataView(h.buffer);
  dv.setUint8(0, kind);
  dv.setUint16(1, name.length, true);
  h.set(name, 3);
  dv.setBigUint64(3 + name.length, BigInt(payloadLength), true);
  return h;
}

/** Where an encoded snapshot goes, chunk by chunk: a file today, a migration socket
 *  later. `write` must take (or copy) the bytes before it returns: RAM chunks are views
 *  of guest memory. */
export interface SnapshotSink {
  write(bytes: Uint8Array): void;
}

/** Streams `snap` into `sink` (synchronously, so guest RAM cannot change under it).
 *  `version` is for tests of other versions' files. */
export function encodeSnapshot(snap: MachineSnapshot, sink: SnapshotSink, version: SnapshotVersion = SNAPSHOT_VERSION): void {
  // Everything but RAM is small: encode it first, so the total length is known up front.
  const parts: { head: Uint8Array; length: number; body: () => Iterable<Uint8Array> }[] = [];
  for (const [id, state] of snap) {
    if (id === 'ram') {
      const ram = checkRam(state);
      parts.push({ head: sectionHead(KIND_RAM, id, ramLength(ram)), length: ramLength(ram), body: function* () {
        yield ramHeader(ram);
        for (const run of ram.runs) { yield runHeader(ram, run); yield run.bytes; }
      } });
    } else {
      const payload = encodePlain(id, state);
      parts.push({ head: sectionHead(KIND_PLAIN, id, payload.length), length: payload.length, body: () => [payload] });
    }
  }
  const end = sectionHead(KIND_END, '', 0);
  const total = parts.reduce((n, p) => n + p.head.length + p.length, HEADER_BYTES + end.length + DIGEST_BYTES);
  const header = new Uint8Array(HEADER_BYTES);
  const dv = new DataView(header.buffer);
  header.set(new TextEncoder().encode(SNAPSHOT_MAGIC));
  dv.setUint16(8, version.major, true);
  dv.setUint16(10, version.minor, true);
  dv.setUint16(12, version.patch, true);
  dv.setBigUint64(16, BigInt(total), true);
  const hash = createHash('sha256');
  const put = (b: Uint8Array) => {
    hash.update(b);
    sink.write(b);
  };
  put(header);
  for (const p of parts) {
    put(p.head);
    for (const b of p.body()) put(b);
  }
  put(end);
  sink.write(hash.digest());
}

/** Writes `snap` to `path` through a temporary file renamed over it once complete and
 *  synced, so `path` is never half written. */
export function writeSnapshot(path: string, snap: MachineSnapshot, version: SnapshotVersion = SNAPSHOT_VERSION): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    encodeSnapshot(snap, { write: (b) => { for (let done = 0; done < b.length;) done += writeSync(fd, b, done, b.length - done); } }, version);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Reads exactly `n` bytes at `pos`; the length check ran first, so short reads are bugs
 *  or a file changing under us. */
function readAt(fd: number, pos: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let done = 0; done < n;) {
    const got = readSync(fd, b, done, n - done, pos + done);
    if (got === 0) throw new SnapshotError('the snapshot file is truncated (it shrank while being read)');
    done += got;
  }
  return b;
}

/** Reads and checks a snapshot file: magic, version, length, checksum, then sections. */
export function readSnapshot(path: string): MachineSnapshot {
  const fd = openSync(path, 'r');
  try {
    return readFd(fd);
  } finally {
    closeSync(fd);
  }
}

function readFd(fd: number): MachineSnapshot {
  const size = fstatSync(fd).size;
  const magic = new TextEncoder().encode(SNAPSHOT_MAGIC);
  const head = readAt(fd, 0, Math.min(size, HEADER_BYTES));
  if (!head.subarray(0, magic.length).every((b, i) => b === magic[i])) throw new SnapshotError('not an rvisor snapshot (bad magic)');
  if (size < HEADER_BYTES) throw new SnapshotError(`the snapshot is truncated: ${size} bytes, shorter than its header`);
  const dv = new DataView(head.buffer);
  const major = dv.getUint16(8, true), minor = dv.getUint16(10, true), patch = dv.getUint16(12, true);
  const v = `${major}.${minor}.${patch}`;
  const cur = SNAPSHOT_VERSION;
  if (major !== cur.major) throw new SnapshotError(`snapshot format ${v} is not supported: this rvisor reads format ${cur.major}.x (up to ${cur.major}.${cur.minor}.${cur.patch})`);
  const total = Number(dv.getBigUint64(16, true));
  if (size < total) throw new SnapshotError(`the snapshot is truncated: ${size} of ${total} bytes`);
  if (size > total) throw new SnapshotError(`the snapshot has ${size - total} bytes past its end`);
  if (total < HEADER_BYTES + 11 + DIGEST_BYTES) throw new SnapshotError('the snapshot is too short to hold its end marker and checksum');

  const hash = createHash('sha256');
  for (let pos = 0; pos < total - DIGEST_BYTES; pos += CHUNK) hash.update(readAt(fd, pos, Math.min(CHUNK, total - DIGEST_BYTES - pos)));
  const digest = readAt(fd, total - DIGEST_BYTES, DIGEST_BYTES);
  if (!hash.digest().equals(digest)) throw new SnapshotError('the snapshot is corrupt: SHA-256 checksum mismatch');

  // The checksum matched, so what follows was written by a writer: a malformed structure
  // here means a writer bug, still reported as a SnapshotError.
  const snap: MachineSnapshot = new Map();
  let pos = HEADER_BYTES;
  const take = (n: number, what: string): Uint8Array => {
    if (pos + n > total - DIGEST_BYTES) throw new SnapshotError(`the snapshot is malformed: ${what} runs past the end`);
    const b = readAt(fd, pos, n);
    pos += n;
    return b;
  };
  for (;;) {
    const fixed = new DataView(take(3, 'a section header').buffer);
    const kind = fixed.getUint8(0);
    const id = new TextDecoder().decode(take(fixed.getUint16(1, true), 'a section id'));
    const length = Number(new DataView(take(8, 'a section length').buffer).getBigUint64(0, true));
    if (kind === KIND_END) break;
    if (snap.has(id)) throw new SnapshotError(`the snapshot is malformed: two sections '${id}'`);
    if (kind === KIND_PLAIN) snap.set(id, decodePlain(id, take(length, `section '${id}'`)));
    else if (kind === KIND_RAM) snap.set(id, readRam(id, length, take));
    else if (minor > cur.minor) pos += length;
    else throw new SnapshotError(`the snapshot is malformed: section '${id}' has unknown kind ${kind}`);
  }
  if (pos !== total - DIGEST_BYTES) throw new SnapshotError('the snapshot is malformed: bytes after the end marker');
  return snap;
}

function readRam(id: string, length: number, take: (n: number, what: string) => Uint8Array): unknown {
  const head = new DataView(take(12, `section '${id}'`).buffer);
  const pageSize = head.getUint32(0, true), pages = head.getUint32(4, true), count = head.getUint32(8, true);
  let used = 12;
  const runs = [];
  for (let i = 0; i < count; i++) {
    const rh = new DataView(take(8, `run ${i} of section '${id}'`).buffer);
    const n = rh.getUint32(4, true) * pageSize;
    used += 8 + n;
    if (used > length) throw new SnapshotError(`section '${id}' is malformed: its runs are longer than the section`);
    runs.push({ page: rh.getUint32(0, true), bytes: take(n, `run ${i} of section '${id}'`) });
  }
  if (used !== length) throw new SnapshotError(`section '${id}' is malformed: ${length - used} bytes after its runs`);
  return { pageSize, pages, runs };
}
