// The live-migration stream: what a source sends a destination (and the few answers that
// come back), as checksummed frames after a versioned preamble. No Node API: both ends,
// and a browser tab later, decode the same bytes.
//
//   preamble  "RVMIGR\0\0" | u16 major | u16 minor | u32 0               (16 bytes)
//   frame     u8 type | u8 0 | u16 0 | u32 payloadLength | payload | u32 CRC-32
//             (the CRC covers the 8 header bytes and the payload)
//
// Frames, source to destination: HELLO (JSON: the machine configuration the destination
// checks before accepting anything), RAM (pages of one pre-copy round or of the final
// stop-and-copy), STATE (the machine's non-RAM snapshot, snapshot-file.ts's encoding),
// END, SYNC (1.1: answer once everything before is applied); and destination to source:
// ACCEPT (1.1: JSON, the destination's version; empty from 1.0), REFUSE (JSON: why),
// SYNCED, RESUMED (the guest runs there: the source may release it), ERROR (JSON: why).
// CANCEL goes either way. The answers are frames without a preamble (the destination's
// decoder checks the version).
//
// DISK (1.1, disk-mirror.ts) carries blocks of local disks copied along, HELLO's
// `mirror` lists them ({index, size}); a destination without such a disk refuses.
//
// A dry run (1.1, dry-run.ts) is a session of its own: HELLO with `probe`, then STATE,
// SYNC and PROBE frames, ended by CANCEL; the destination then waits for a real source.
//
// SYNC exists because a socket buffers megabytes: without it the source would take a
// round as sent when the destination still had seconds of it to apply, and that backlog
// would land in the guest's downtime.
//
// RAM payload: u32 pageSize | u32 count | count entries of u32 page | u8 kind
// (0 zero page, 1 data) | pageSize bytes for data. Zero pages cost 5 bytes.
//
// Compatibility: a reader takes its own major version and any minor; an unknown frame
// type in a newer minor is skipped, in the same minor it is an error. All integers are
// little-endian.

export const MIGRATION_MAGIC = 'RVMIGR\0\0';
export const MIGRATION_VERSION = { major: 1, minor: 1 } as const;
export const PREAMBLE_BYTES = 16;
const FRAME_HEAD = 8;
const FRAME_TAIL = 4;
/** No frame is longer: a RAM frame carries at most this much, a STATE frame too (the
 *  non-RAM state of a VM is a few hundred KiB). A length beyond it is refused unread. */
export const MAX_FRAME_PAYLOAD = 32 << 20;

export const enum FrameType {
  Hello = 1,
  Accept = 2,
  Refuse = 3,
  Ram = 4,
  State = 5,
  End = 6,
  Resumed = 7,
  Error = 8,
  Cancel = 9,
  Sync = 10,
  Synced = 11,
  /** A dry run's RAM frames (dry-run.ts): decoded and checked, then dropped. */
  Probe = 12,
  /** Blocks of a local disk copied along (disk-mirror.ts). */
  Disk = 13,
}
const KNOWN_TYPES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface Frame {
  type: number;
  payload: Uint8Array;
}

// CRC-32 (IEEE 802.3, as zlib's), table-driven.
// CRC-32 (IEEE), eight bytes a step ("slicing-by-8"): table k gives the CRC of a byte
// followed by k zero bytes. A byte at a time ran at ~300 MB/s here, which a 512 MiB
// guest's migration paid on both ends.
const CRC_TABLES = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  const n = bytes.length;
  let c = ~crc;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)]
      ^ t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export function encodePreamble(version: { major: number; minor: number } = MIGRATION_VERSION): Uint8Array {
  const b = new Uint8Array(PREAMBLE_BYTES);
  b.set(new TextEncoder().encode(MIGRATION_MAGIC));
  const v = new DataView(b.buffer);
  v.setUint16(8, version.major, true);
  v.setUint16(10, version.minor, true);
  return b;
}

/** One frame as the parts to write (header, payload, trailer): the payload is not copied. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array[] {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new MigrationError(`a frame of ${payload.length} bytes is longer than ${MAX_FRAME_PAYLOAD}`);
  const head = new Uint8Array(FRAME_HEAD);
  const v = new DataView(head.buffer);
  v.setUint8(0, type);
  v.setUint32(4, payload.length, true);
  const tail = new Uint8Array(FRAME_TAIL);
  new DataView(tail.buffer).setUint32(0, crc32(payload, crc32(head)), true);
  return [head, payload, tail];
}

export function encodeJsonFrame(type: FrameType, value: unknown): Uint8Array[] {
  return encodeFrame(type, new TextEncoder().encode(JSON.stringify(value)));
}

export function decodeJson(frame: Frame, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.payload)) as unknown;
  } catch {
    throw new MigrationError(`the ${what} frame is not JSON`);
  }
}

/** A page of a RAM frame: `bytes` undefined for a zero page. */
export interface PageEntry {
  page: number;
  bytes?: Uint8Array;
}

/** How many bytes a RAM frame holding these pages takes, at most (all data). */
export function ramFrameBytes(pageSize: number, pages: number): number {
  return 8 + pages * (5 + pageSize);
}

/** Pages into a RAM payload: a page without bytes (the caller found it all zeroes) is
 *  sent as its number alone. */
export function encodeRam(pageSize: number, pages: readonly PageEntry[]): Uint8Array {
  let length = 8;
  for (const p of pages) length += 5 + (p.bytes ? pageSize : 0);
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer);
  v.setUint32(0, pageSize, true);
  v.setUint32(4, pages.length, true);
  let at = 8;
  for (const p of pages) {
    if (p.bytes && p.bytes.length !== pageSize) throw new MigrationError(`page ${p.page}: ${p.bytes.length} bytes, not ${pageSize}`);
    v.setUint32(at, p.page, true);
    v.setUint8(at + 4, p.bytes ? 1 : 0);
    at += 5;
    if (p.bytes) {
      out.set(p.bytes, at);
      at += pageSize;
    }
  }
  return out;
}

/** Parses a RAM payload; every page number is below `pages` and every length fits. */
export function decodeRam(payload: Uint8Array, pageSize: number, pages: number): PageEntry[] {
  const bad = (why: string): never => {
    throw new MigrationError(`a RAM frame is malformed: ${why}`);
  };
  if (payload.length < 8) bad('shorter than its header');
  const v = new DataView(payload.buffer, payload.byteOffset, payload.length);
  if (v.getUint32(0, true) !== pageSize) bad(`page size ${v.getUint32(0, true)}, not ${pageSize}`);
  const count = v.getUint32(4, true);
  if (count > (payload.length - 8) / 5) bad(`${count} pages cannot fit in ${payload.length} bytes`);
  const out: PageEntry[] = [];
  let at = 8;
  for (let i = 0; i < count; i++) {
    if (at + 5 > payload.length) bad('entries run past the frame');
    const page = v.getUint32(at, true);
    const kind = v.getUint8(at + 4);
    at += 5;
    if (page >= pages) bad(`page ${page} is beyond the guest's ${pages} pages`);
    if (kind === 0) out.push({ page });
    else if (kind === 1) {
      if (at + pageSize > payload.length) bad('page data runs past the frame');
      out.push({ page, bytes: payload.subarray(at, at + pageSize) });
      at += pageSize;
    } else bad(`page ${page} has unknown kind ${kind}`);
  }
  if (at !== payload.length) bad(`${payload.length - at} bytes after the last page`);
  return out;
}

/**
 * Frames out of a byte stream, in arrival order. push() takes chunks of any size and
 * returns the frames they complete; any violation (bad magic, other major version, a
 * length beyond MAX_FRAME_PAYLOAD, a CRC mismatch, an unknown type) throws a
 * MigrationError, after which the decoder takes nothing more.
 */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private length = 0;
  private preambleSeen: boolean;
  private failed = false;
  /** The peer's version, once its preamble arrived. */
  peerVersion: { major: number; minor: number } | undefined;
  /** Bytes taken so far (for progress and error messages). */
  received = 0;

  constructor(o: { expectPreamble?: boolean } = {}) {
    this.preambleSeen = !(o.expectPreamble ?? true);
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.failed) throw new MigrationError('the stream already failed');
    this.chunks.push(chunk);
    this.length += chunk.length;
    this.received += chunk.length;
    const out: Frame[] = [];
    try {
      for (;;) {
        const f = this.next();
        if (!f) break;
        if (f.type !== -1) out.push(f);
      }
    } catch (e) {
      this.failed = true;
      throw e;
    }
    return out;
  }

  /** Bytes held that make no whole frame yet: nonzero when a stream ends means it was cut. */
  get pending(): number {
    return this.length;
  }

  private next(): Frame | undefined {
    if (!this.preambleSeen) {
      const p = this.take(PREAMBLE_BYTES);
      if (!p) return undefined;
      const magic = new TextEncoder().encode(MIGRATION_MAGIC);
      if (!magic.every((b, i) => p[i] === b)) throw new MigrationError('not an rvisor migration stream (bad magic)');
      const v = new DataView(p.buffer, p.byteOffset);
      const major = v.getUint16(8, true), minor = v.getUint16(10, true);
      if (major !== MIGRATION_VERSION.major) {
        throw new MigrationError(`migration stream format ${major}.${minor} is not supported: this rvisor takes format ${MIGRATION_VERSION.major}.x`);
      }
      this.peerVersion = { major, minor };
      this.preambleSeen = true;
      return { type: -1, payload: p };
    }
    const head = this.peek(FRAME_HEAD);
    if (!head) return undefined;
    const v = new DataView(head.buffer, head.byteOffset, FRAME_HEAD);
    const type = v.getUint8(0);
    const length = v.getUint32(4, true);
    if (v.getUint8(1) !== 0 || v.getUint16(2, true) !== 0) throw new MigrationError('a frame header is malformed (reserved bytes set)');
    if (length > MAX_FRAME_PAYLOAD) throw new MigrationError(`a frame of ${length} bytes is longer than ${MAX_FRAME_PAYLOAD} (oversized section)`);
    if (this.length < FRAME_HEAD + length + FRAME_TAIL) return undefined;
    const all = this.take(FRAME_HEAD + length + FRAME_TAIL)!;
    const payload = all.subarray(FRAME_HEAD, FRAME_HEAD + length);
    const crc = new DataView(all.buffer, all.byteOffset + FRAME_HEAD + length, 4).getUint32(0, true);
    if (crc32(payload, crc32(all.subarray(0, FRAME_HEAD))) !== crc) throw new MigrationError(`a frame of type ${type} fails its CRC-32 (corrupt stream)`);
    if (!KNOWN_TYPES.has(type)) {
      if ((this.peerVersion?.minor ?? 0) > MIGRATION_VERSION.minor) return { type: -1, payload };
      throw new MigrationError(`a frame of unknown type ${type}`);
    }
    return { type, payload };
  }

  private peek(n: number): Uint8Array | undefined {
    if (this.length < n) return undefined;
    if (this.chunks[0].length < n) {
      const b = new Uint8Array(this.length);
      let at = 0;
      for (const c of this.chunks) {
        b.set(c, at);
        at += c.length;
      }
      this.chunks = [b];
    }
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Uint8Array | undefined {
    const b = this.peek(n);
    if (!b) return undefined;
    const first = this.chunks[0];
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.length -= n;
    return b;
  }
}
