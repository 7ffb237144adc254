// The NBD protocol's wire constants and fixed-size records (NetworkBlockDevice/nbd
// doc/proto.md): the fixed newstyle handshake, option haggling, and the transmission
// phase with simple replies. Everything is big-endian. No I/O here: the server session
// and the client both build on these.

export const NBD_DEFAULT_PORT = 10809;

export const NBDMAGIC = 0x4e42444d41474943n; // "NBDMAGIC"
export const IHAVEOPT = 0x49484156454f5054n; // "IHAVEOPT"
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;

// Handshake flags (server) and client flags.
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;

// Options.
export const OPT_EXPORT_NAME = 1;
export const OPT_ABORT = 2;
export const OPT_LIST = 3;
export const OPT_INFO = 6;
export const OPT_GO = 7;

// Option reply types; errors have bit 31 set.
export const REP_ACK = 1;
export const REP_SERVER = 2;
export const REP_INFO = 3;
export const REP_ERR_UNSUP = 0x80000001;
export const REP_ERR_POLICY = 0x80000002;
export const REP_ERR_INVALID = 0x80000003;
export const REP_ERR_UNKNOWN = 0x80000006;
export const REP_ERR_TOO_BIG = 0x80000009;

// NBD_REP_INFO kinds.
export const INFO_EXPORT = 0;
export const INFO_BLOCK_SIZE = 3;

// Transmission flags.
export const TFLAG_HAS_FLAGS = 1 << 0;
export const TFLAG_READ_ONLY = 1 << 1;
export const TFLAG_SEND_FLUSH = 1 << 2;
export const TFLAG_SEND_FUA = 1 << 3;
export const TFLAG_SEND_TRIM = 1 << 5;
export const TFLAG_SEND_WRITE_ZEROES = 1 << 6;
export const TFLAG_CAN_MULTI_CONN = 1 << 8;

// Commands and their flags.
export const CMD_READ = 0;
export const CMD_WRITE = 1;
export const CMD_DISC = 2;
export const CMD_FLUSH = 3;
export const CMD_TRIM = 4;
export const CMD_CACHE = 5;
export const CMD_WRITE_ZEROES = 6;
export const CMD_FLAG_FUA = 1 << 0;
export const CMD_FLAG_NO_HOLE = 1 << 1;
export const CMD_FLAG_FAST_ZERO = 1 << 4;

// Errors, as Linux's errno values (the protocol fixes these numbers).
export const EPERM = 1;
export const EIO = 5;
export const ENOMEM = 12;
export const EINVAL = 22;
export const ENOSPC = 28;
export const EOVERFLOW = 75;
export const ENOTSUP = 95;
export const ESHUTDOWN = 108;

/** The largest read or write either side accepts in one request: QEMU's limit too, so a
 *  qemu-nbd server or client never meets a refusal from us it would not make itself. */
export const MAX_REQUEST = 32 << 20;
/** Option payloads are names and small lists; anything longer is refused unread. */
export const MAX_OPTION = 4096 + 64;
/** The spec's longest string (an export name). */
export const MAX_NAME = 4096;

export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const OPTION_HEAD_BYTES = 16;
export const OPTION_REPLY_HEAD_BYTES = 20;

export interface Request {
  flags: number;
  type: number;
  /** The client's cookie, echoed in the reply; opaque, kept as 8 bytes. */
  handle: Uint8Array;
  offset: number;
  length: number;
}

export class NbdProtocolError extends Error {
  override name = 'NbdProtocolError';
}

/** A 64-bit offset as a JS number; beyond 2^53 is beyond any disk we serve, so it reads
 *  as Infinity and fails every range check. */
export function getOffset(v: DataView, at: number): number {
  const hi = v.getUint32(at);
  return hi >= 0x200000 ? Infinity : hi * 2 ** 32 + v.getUint32(at + 4);
}

export function setU64(v: DataView, at: number, value: number): void {
  v.setUint32(at, Math.floor(value / 2 ** 32));
  v.setUint32(at + 4, value >>> 0);
}

export function encodeRequest(r: Request): Uint8Array {
  const b = new Uint8Array(REQUEST_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, REQUEST_MAGIC);
  v.setUint16(4, r.flags);
  v.setUint16(6, r.type);
  b.set(r.handle, 8);
  setU64(v, 16, r.offset);
  v.setUint32(24, r.length);
  return b;
}

/** Parses a request header; throws NbdProtocolError on a bad magic. */
export function decodeRequest(b: Uint8Array): Request {
  const v = new DataView(b.buffer, b.byteOffset, REQUEST_BYTES);
  const magic = v.getUint32(0);
  if (magic !== REQUEST_MAGIC) throw new NbdProtocolError(`bad request magic 0x${magic.toString(16)}`);
  return { flags: v.getUint16(4), type: v.getUint16(6), handle: b.slice(8, 16), offset: getOffset(v, 16), length: v.getUint32(24) };
}

export function encodeSimpleReply(error: number, handle: Uint8Array): Uint8Array {
  const b = new Uint8Array(SIMPLE_REPLY_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, SIMPLE_REPLY_MAGIC);
  v.setUint32(4, error);
  b.set(handle, 8);
  return b;
}

export function encodeOption(option: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(OPTION_HEAD_BYTES + data.length);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, IHAVEOPT);
  v.setUint32(8, option);
  v.setUint32(12, data.length);
  b.set(data, OPTION_HEAD_BYTES);
  return b;
}

export function encodeOptionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const b = new Uint8Array(OPTION_REPLY_HEAD_BYTES + data.length);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, OPTION_REPLY_MAGIC);
  v.setUint32(8, option);
  v.setUint32(12, type);
  v.setUint32(16, data.length);
  b.set(data, OPTION_REPLY_HEAD_BYTES);
  return b;
}

/** NBD_OPT_GO / NBD_OPT_INFO data: the export name and the info kinds asked for. */
export function encodeGo(name: string, infos: number[]): Uint8Array {
  const n = new TextEncoder().encode(name);
  const b = new Uint8Array(4 + n.length + 2 + 2 * infos.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, n.length);
  b.set(n, 4);
  v.setUint16(4 + n.length, infos.length);
  infos.forEach((k, i) => v.setUint16(6 + n.length + 2 * i, k));
  return b;
}

export function isErrorReply(type: number): boolean {
  return (type & 0x80000000) !== 0;
}

/** What an errno a server sent means, for the message a user reads. */
export function errnoText(e: number): string {
  switch (e) {
    case EPERM: return 'EPERM (the export is read-only)';
    case EIO: return 'EIO (I/O error on the server)';
    case ENOMEM: return 'ENOMEM';
    case EINVAL: return 'EINVAL (request out of range or malformed)';
    case ENOSPC: return 'ENOSPC (no space left on the server)';
    case EOVERFLOW: return 'EOVERFLOW (request too large)';
    case ENOTSUP: return 'ENOTSUP';
    case ESHUTDOWN: return 'ESHUTDOWN (the server is shutting down)';
    default: return `error ${e}`;
  }
}
