// An NBD client connection (async): the fixed newstyle handshake with NBD_OPT_GO (or
// NBD_OPT_EXPORT_NAME for servers without it), then one request at a time with simple
// replies. NbdBackend runs this on a worker thread to give the VMM a synchronous disk;
// tests use it directly to talk to qemu-nbd and to rvisor's server.

import { connect, type Socket } from 'node:net';
import {
  CMD_DISC, encodeGo, encodeOption, encodeRequest, errnoText, FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES, getOffset,
  IHAVEOPT, INFO_BLOCK_SIZE, INFO_EXPORT, isErrorReply, NBDMAGIC, NbdProtocolError, OPT_EXPORT_NAME, OPT_GO,
  OPTION_REPLY_HEAD_BYTES, OPTION_REPLY_MAGIC, REP_ACK, REP_ERR_UNKNOWN, REP_ERR_UNSUP, REP_INFO,
  SIMPLE_REPLY_BYTES, SIMPLE_REPLY_MAGIC, type Request,
} from '../../storage/nbd/protocol.js';
import type { NbdAddress } from '../../storage/nbd/uri.js';

export interface NbdExportInfo {
  size: number;
  /** Transmission flags (TFLAG_*). */
  flags: number;
  /** The server's maximum request, when it said (NBD_INFO_BLOCK_SIZE). */
  maxRequest?: number;
}

/** Reads exact byte counts from a socket. */
class SocketReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(s: Socket) {
    s.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.length += c.length;
      this.waiter?.();
    });
    const fail = (e: Error) => {
      this.failure ??= e;
      this.waiter?.();
    };
    s.on('error', fail);
    s.on('close', () => fail(new Error('the server closed the connection')));
  }

  async read(n: number): Promise<Uint8Array> {
    while (this.length < n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => { this.waiter = resolve; });
      this.waiter = undefined;
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = new Uint8Array(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return out;
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.length);
}

export class NbdConnection {
  private handle = 0;

  private constructor(private readonly socket: Socket, private readonly reader: SocketReader, readonly info: NbdExportInfo) {}

  /** Connects and negotiates `address.export`; throws an Error saying what failed. */
  static async open(address: NbdAddress, timeoutMs = 10_000): Promise<NbdConnection> {
    const s = address.transport === 'unix' ? connect(address.socket) : connect(address.port, address.host);
    s.setNoDelay?.(true);
    const reader = new SocketReader(s);
    const timer = setTimeout(() => s.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('connect', resolve);
        s.once('error', reject);
      });
      const info = await handshake(s, reader, address.export);
      return new NbdConnection(s, reader, info);
    } catch (e) {
      s.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends one request and waits for its reply; resolves with the read data (or an
   *  empty array) and throws on an error reply, with the errno in `.errno`. */
  async request(r: Omit<Request, 'handle'>, payload?: Uint8Array): Promise<Uint8Array> {
    const handle = new Uint8Array(8);
    view(handle).setUint32(4, ++this.handle);
    this.socket.write(encodeRequest({ ...r, handle }));
    if (payload) this.socket.write(payload);
    const reply = await this.reader.read(SIMPLE_REPLY_BYTES);
    const v = view(reply);
    if (v.getUint32(0) !== SIMPLE_REPLY_MAGIC) throw new NbdProtocolError(`bad reply magic 0x${v.getUint32(0).toString(16)}`);
    if (!reply.subarray(8, 16).every((x, i) => x === handle[i])) throw new NbdProtocolError('a reply to a request never sent');
    const errno = v.getUint32(4);
    if (errno !== 0) throw Object.assign(new Error(`the server answered ${errnoText(errno)}`), { errno });
    return r.type === 0 ? this.reader.read(r.length) : new Uint8Array(0);
  }

  /** NBD_CMD_DISC, then close. */
  close(): void {
    if (!this.socket.destroyed) {
      this.socket.end(encodeRequest({ flags: 0, type: CMD_DISC, handle: new Uint8Array(8), offset: 0, length: 0 }));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function handshake(s: Socket, reader: SocketReader, name: string): Promise<NbdExportInfo> {
  const hello = view(await reader.read(18));
  if (hello.getBigUint64(0) !== NBDMAGIC) throw new NbdProtocolError('not an NBD server (no NBDMAGIC)');
  if (hello.getBigUint64(8) !== IHAVEOPT) throw new NbdProtocolError('the server speaks only the oldstyle handshake, which rvisor does not');
  const serverFlags = hello.getUint16(16);
  if (!(serverFlags & FLAG_FIXED_NEWSTYLE)) throw new NbdProtocolError('the server does not speak fixed newstyle');
  const noZeroes = (serverFlags & FLAG_NO_ZEROES) !== 0;
  const cf = new Uint8Array(4);
  view(cf).setUint32(0, FLAG_FIXED_NEWSTYLE | (noZeroes ? FLAG_NO_ZEROES : 0));
  s.write(cf);

  s.write(encodeOption(OPT_GO, encodeGo(name, [INFO_BLOCK_SIZE])));
  const info: Partial<NbdExportInfo> = {};
  for (;;) {
    const head = view(await reader.read(OPTION_REPLY_HEAD_BYTES));
    if (head.getBigUint64(0) !== OPTION_REPLY_MAGIC) throw new NbdProtocolError('bad option reply magic');
    const type = head.getUint32(12);
    const length = head.getUint32(16);
    if (length > 65536) throw new NbdProtocolError('option reply too long');
    const data = await reader.read(length);
    if (type === REP_ACK) break;
    if (type === REP_ERR_UNSUP) return exportName(s, reader, name, noZeroes);
    if (type === REP_ERR_UNKNOWN) throw new Error(`the server has no export '${name}'`);
    if (isErrorReply(type)) {
      const text = new TextDecoder().decode(data);
      throw new Error(`the server refused export '${name}'${text ? `: ${text}` : ` (reply 0x${type.toString(16)})`}`);
    }
    if (type === REP_INFO && data.length >= 2) {
      const d = view(data);
      const kind = d.getUint16(0);
      if (kind === INFO_EXPORT && data.length >= 12) {
        info.size = getOffset(d, 2);
        info.flags = d.getUint16(10);
      } else if (kind === INFO_BLOCK_SIZE && data.length >= 14) {
        info.maxRequest = d.getUint32(10);
      }
    }
  }
  if (info.size === undefined || info.flags === undefined || !Number.isSafeInteger(info.size)) throw new NbdProtocolError('the server never said the export size');
  return info as NbdExportInfo;
}

async function exportName(s: Socket, reader: SocketReader, name: string, noZeroes: boolean): Promise<NbdExportInfo> {
  s.write(encodeOption(OPT_EXPORT_NAME, new TextEncoder().encode(name)));
  const b = view(await reader.read(10));
  if (!noZeroes) await reader.read(124);
  const size = getOffset(b, 0);
  if (!Number.isSafeInteger(size)) throw new NbdProtocolError('export size beyond 2^53');
  return { size, flags: b.getUint16(8) };
}
