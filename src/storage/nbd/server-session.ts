// One client of an NBD server: bytes in, bytes out, over the exports it is offered. The
// session knows no sockets, so it is tested and fuzzed without one; src/host/nbd-server.ts
// carries it over TCP or a Unix socket.
//
// What it speaks: fixed newstyle handshake (NO_ZEROES), options EXPORT_NAME, GO, INFO,
// LIST and ABORT (STARTTLS, structured replies, meta contexts and extended headers are
// refused with NBD_REP_ERR_UNSUP, which every client falls back from), and in
// transmission READ, WRITE (FUA), FLUSH, TRIM, WRITE_ZEROES (NO_HOLE) and DISC with
// simple replies. A request the export cannot do gets an errno reply and the session
// goes on; only what leaves the stream unparseable (a bad magic) ends it.

import type { BlockBackend } from '../../devices/block.js';
import {
  CMD_DISC, CMD_FLAG_FUA, CMD_FLAG_NO_HOLE, CMD_FLUSH, CMD_READ, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES,
  decodeRequest, EINVAL, EIO, ENOSPC, EPERM, encodeOptionReply, encodeSimpleReply, FLAG_FIXED_NEWSTYLE,
  FLAG_NO_ZEROES, IHAVEOPT, INFO_BLOCK_SIZE, INFO_EXPORT, MAX_NAME, MAX_OPTION, MAX_REQUEST, NBDMAGIC,
  OPT_ABORT, OPT_EXPORT_NAME, OPT_GO, OPT_INFO, OPT_LIST, OPTION_HEAD_BYTES, REP_ACK, REP_ERR_INVALID,
  REP_ERR_TOO_BIG, REP_ERR_UNKNOWN, REP_ERR_UNSUP, REP_INFO, REP_SERVER, REQUEST_BYTES, setU64,
  TFLAG_CAN_MULTI_CONN, TFLAG_HAS_FLAGS, TFLAG_READ_ONLY, TFLAG_SEND_FLUSH, TFLAG_SEND_FUA, TFLAG_SEND_TRIM,
  TFLAG_SEND_WRITE_ZEROES, type Request,
} from './protocol.js';

export interface NbdExport {
  name: string;
  backend: BlockBackend;
  /** Writes refused with EPERM (the backend may be writable for another export). */
  readOnly: boolean;
  description?: string;
}

export interface NbdSessionOptions {
  /** The exports, by name; '' (the default export) names the first. */
  exports: readonly NbdExport[];
  send(bytes: Uint8Array): void;
  /** Ends the connection (after what was sent). `why` is for the server's log. */
  end(why: string): void;
  /** False while the transport's send buffer is full: the session stops taking requests
   *  until resume(), so a client that never reads its replies cannot fill the host's
   *  memory with them. */
  canSend?(): boolean;
  /** Errors the server should log (a failed backend call). */
  log?(line: string): void;
}

const COMMAND_FLAGS = CMD_FLAG_FUA | CMD_FLAG_NO_HOLE;

type Phase = 'clientFlags' | 'options' | 'transmission' | 'ended';

export class NbdServerSession {
  private input: Uint8Array[] = [];
  private inputLength = 0;
  private phase: Phase = 'clientFlags';
  private noZeroes = false;
  private export: NbdExport | undefined;
  /** An option or write payload being thrown away unread (too long to accept). */
  private discard = 0;
  private pendingAfterDiscard: (() => void) | undefined;
  /** Set while pump() runs, so a send() that calls back into resume() cannot recurse. */
  private pumping = false;

  constructor(private readonly o: NbdSessionOptions) {}

  /** The server's greeting; call once when the client connects. */
  start(): void {
    const b = new Uint8Array(18);
    const v = new DataView(b.buffer);
    v.setBigUint64(0, NBDMAGIC);
    v.setBigUint64(8, IHAVEOPT);
    v.setUint16(16, FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    this.o.send(b);
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  /** The export chosen, once in transmission. */
  get exportName(): string | undefined {
    return this.export?.name;
  }

  receive(chunk: Uint8Array): void {
    if (this.phase === 'ended' || chunk.length === 0) return;
    this.input.push(chunk);
    this.inputLength += chunk.length;
    this.pump();
  }

  /** The transport can take more replies. */
  resume(): void {
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.phase !== 'ended' && (this.o.canSend?.() ?? true) && this.step());
    } finally {
      this.pumping = false;
    }
  }

  /** Handles one message if all of it is here; false when more bytes are needed. */
  private step(): boolean {
    if (this.discard > 0) {
      const n = Math.min(this.discard, this.inputLength);
      this.take(n);
      this.discard -= n;
      if (this.discard > 0) return false;
      const then = this.pendingAfterDiscard;
      this.pendingAfterDiscard = undefined;
      then?.();
      return true;
    }
    switch (this.phase) {
      case 'clientFlags': return this.clientFlags();
      case 'options': return this.option();
      case 'transmission': return this.request();
      default: return false;
    }
  }

  private clientFlags(): boolean {
    const b = this.take(4);
    if (!b) return false;
    const flags = new DataView(b.buffer, b.byteOffset).getUint32(0);
    // Unknown client flags: the spec has the server end the session.
    if ((flags & ~(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)) !== 0) return this.finish(`unknown client flags 0x${flags.toString(16)}`);
    this.noZeroes = (flags & FLAG_NO_ZEROES) !== 0;
    this.phase = 'options';
    return true;
  }

  private option(): boolean {
    const head = this.peek(OPTION_HEAD_BYTES);
    if (!head) return false;
    const v = new DataView(head.buffer, head.byteOffset);
    if (v.getBigUint64(0) !== IHAVEOPT) return this.finish('bad option magic');
    const option = v.getUint32(8);
    const length = v.getUint32(12);
    if (length > MAX_OPTION) {
      this.take(OPTION_HEAD_BYTES);
      // EXPORT_NAME has no error reply: the session can only end.
      if (option === OPT_EXPORT_NAME) return this.finish('export name too long');
      this.discard = length;
      this.pendingAfterDiscard = () => this.o.send(encodeOptionReply(option, REP_ERR_TOO_BIG));
      return true;
    }
    if (this.inputLength < OPTION_HEAD_BYTES + length) return false;
    this.take(OPTION_HEAD_BYTES);
    const data = length === 0 ? new Uint8Array(0) : this.take(length)!;
    switch (option) {
      case OPT_EXPORT_NAME: return this.exportByName(data);
      case OPT_ABORT:
        this.o.send(encodeOptionReply(option, REP_ACK));
        return this.finish('client aborted');
      case OPT_LIST: return this.list(data);
      case OPT_GO:
      case OPT_INFO: return this.go(option, data);
      default:
        this.o.send(encodeOptionReply(option, REP_ERR_UNSUP));
        return true;
    }
  }

  private lookup(name: string): NbdExport | undefined {
    return name === '' ? this.o.exports[0] : this.o.exports.find((e) => e.name === name);
  }

  private transmissionFlags(e: NbdExport): number {
    // One server process serialises every connection's requests on one backend, so a
    // flush on any connection covers writes completed on all: multi-conn is safe.
    return TFLAG_HAS_FLAGS | TFLAG_SEND_FLUSH | TFLAG_SEND_FUA | TFLAG_SEND_TRIM | TFLAG_SEND_WRITE_ZEROES
      | TFLAG_CAN_MULTI_CONN | (e.readOnly ? TFLAG_READ_ONLY : 0);
  }

  private exportByName(data: Uint8Array): boolean {
    const name = decodeName(data);
    const e = name === undefined ? undefined : this.lookup(name);
    if (!e) return this.finish('no such export');
    const b = new Uint8Array(this.noZeroes ? 10 : 134);
    const v = new DataView(b.buffer);
    setU64(v, 0, e.backend.size);
    v.setUint16(8, this.transmissionFlags(e));
    this.o.send(b);
    this.export = e;
    this.phase = 'transmission';
    return true;
  }

  private list(data: Uint8Array): boolean {
    if (data.length !== 0) {
      this.o.send(encodeOptionReply(OPT_LIST, REP_ERR_INVALID));
      return true;
    }
    for (const e of this.o.exports) {
      const name = new TextEncoder().encode(e.name);
      const r = new Uint8Array(4 + name.length);
      new DataView(r.buffer).setUint32(0, name.length);
      r.set(name, 4);
      this.o.send(encodeOptionReply(OPT_LIST, REP_SERVER, r));
    }
    this.o.send(encodeOptionReply(OPT_LIST, REP_ACK));
    return true;
  }

  private go(option: number, data: Uint8Array): boolean {
    const v = new DataView(data.buffer, data.byteOffset, data.length);
    const nameLength = data.length >= 4 ? v.getUint32(0) : -1;
    const infosAt = 4 + nameLength;
    const infos = nameLength >= 0 && nameLength <= MAX_NAME && data.length >= infosAt + 2 ? v.getUint16(infosAt) : -1;
    const name = infos >= 0 && data.length === infosAt + 2 + 2 * infos ? decodeName(data.subarray(4, infosAt)) : undefined;
    if (name === undefined) {
      this.o.send(encodeOptionReply(option, REP_ERR_INVALID));
      return true;
    }
    const e = this.lookup(name);
    if (!e) {
      this.o.send(encodeOptionReply(option, REP_ERR_UNKNOWN));
      return true;
    }
    const info = new Uint8Array(12);
    const iv = new DataView(info.buffer);
    iv.setUint16(0, INFO_EXPORT);
    setU64(iv, 2, e.backend.size);
    iv.setUint16(10, this.transmissionFlags(e));
    this.o.send(encodeOptionReply(option, REP_INFO, info));
    // Byte-granular I/O works on every backend; 4 KiB is what the guest's pages want.
    const bs = new Uint8Array(14);
    const bv = new DataView(bs.buffer);
    bv.setUint16(0, INFO_BLOCK_SIZE);
    bv.setUint32(2, 1);
    bv.setUint32(6, 4096);
    bv.setUint32(10, MAX_REQUEST);
    this.o.send(encodeOptionReply(option, REP_INFO, bs));
    this.o.send(encodeOptionReply(option, REP_ACK));
    if (option === OPT_GO) {
      this.export = e;
      this.phase = 'transmission';
    }
    return true;
  }

  private request(): boolean {
    const head = this.peek(REQUEST_BYTES);
    if (!head) return false;
    let r: Request;
    try {
      r = decodeRequest(head);
    } catch (e) {
      return this.finish((e as Error).message);
    }
    if (r.type === CMD_WRITE) {
      if (r.length > MAX_REQUEST) {
        this.take(REQUEST_BYTES);
        this.discard = r.length;
        this.pendingAfterDiscard = () => this.reply(r, EINVAL);
        return true;
      }
      if (this.inputLength < REQUEST_BYTES + r.length) return false;
    }
    this.take(REQUEST_BYTES);
    const payload = r.type === CMD_WRITE ? this.take(r.length) ?? new Uint8Array(0) : undefined;
    return this.execute(r, payload);
  }

  private execute(r: Request, payload: Uint8Array | undefined): boolean {
    const e = this.export!;
    const b = e.backend;
    const inRange = r.offset <= b.size && r.length <= b.size - r.offset;
    const writes = r.type === CMD_WRITE || r.type === CMD_WRITE_ZEROES || r.type === CMD_TRIM;
    if (r.type === CMD_DISC) {
      this.tryRun(r, () => b.flush());
      return this.finish('client disconnected');
    }
    if ((r.flags & ~COMMAND_FLAGS) !== 0 || ((r.flags & CMD_FLAG_NO_HOLE) !== 0 && r.type !== CMD_WRITE_ZEROES)) return this.reply(r, EINVAL);
    if (writes && e.readOnly) return this.reply(r, EPERM);
    switch (r.type) {
      case CMD_READ: {
        if (r.length > MAX_REQUEST || !inRange) return this.reply(r, EINVAL);
        const data = new Uint8Array(r.length);
        const err = this.tryRun(r, () => b.read(r.offset, data));
        this.reply(r, err);
        if (err === 0) this.o.send(data);
        return true;
      }
      case CMD_WRITE:
        if (!inRange) return this.reply(r, ENOSPC);
        return this.reply(r, this.tryRun(r, () => {
          b.write(r.offset, payload!);
          if (r.flags & CMD_FLAG_FUA) b.flush();
        }));
      case CMD_WRITE_ZEROES:
        if (!inRange) return this.reply(r, ENOSPC);
        return this.reply(r, this.tryRun(r, () => {
          b.writeZeroes(r.offset, r.length, (r.flags & CMD_FLAG_NO_HOLE) === 0);
          if (r.flags & CMD_FLAG_FUA) b.flush();
        }));
      case CMD_TRIM:
        if (!inRange) return this.reply(r, EINVAL);
        return this.reply(r, this.tryRun(r, () => {
          b.discard(r.offset, r.length);
          if (r.flags & CMD_FLAG_FUA) b.flush();
        }));
      case CMD_FLUSH:
        return this.reply(r, this.tryRun(r, () => b.flush()));
      default:
        // CACHE, BLOCK_STATUS, RESIZE and anything newer: not offered.
        return this.reply(r, EINVAL);
    }
  }

  /** Runs a backend call; a throw becomes EIO (ENOSPC when the host filesystem is full). */
  private tryRun(r: Request, fn: () => void): number {
    try {
      fn();
      return 0;
    } catch (err) {
      const text = (err as Error).message;
      this.o.log?.(`nbd: export '${this.export?.name}': request type ${r.type} at ${r.offset}+${r.length}: ${text}`);
      return /no space left/.test(text) ? ENOSPC : EIO;
    }
  }

  private reply(r: Request, error: number): boolean {
    this.o.send(encodeSimpleReply(error, r.handle));
    return true;
  }

  private finish(why: string): boolean {
    if (this.phase === 'ended') return false;
    this.phase = 'ended';
    this.input = [];
    this.inputLength = 0;
    this.o.end(why);
    return false;
  }

  /** The first n input bytes without consuming them (undefined while fewer are here). */
  private peek(n: number): Uint8Array | undefined {
    if (this.inputLength < n) return undefined;
    if (this.input[0].length < n) {
      // Coalesce just enough chunks: a header split across reads.
      const b = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = this.input.shift()!;
        b.set(c.subarray(0, n - at), at);
        if (c.length > n - at) this.input.unshift(c.subarray(n - at));
        at += Math.min(c.length, n - at);
      }
      this.input.unshift(b);
    }
    return this.input[0].subarray(0, n);
  }

  private take(n: number): Uint8Array | undefined {
    if (n === 0) return new Uint8Array(0);
    const head = this.peek(n);
    if (!head) return undefined;
    const first = this.input[0];
    const out = head.slice();
    if (first.length === n) this.input.shift();
    else this.input[0] = first.subarray(n);
    this.inputLength -= n;
    return out;
  }
}

/** An export name as UTF-8 without NUL, at most MAX_NAME bytes; undefined otherwise. */
function decodeName(b: Uint8Array): string | undefined {
  if (b.length > MAX_NAME || b.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return undefined;
  }
}
