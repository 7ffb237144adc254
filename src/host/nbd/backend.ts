// A disk on an NBD server (`--disk nbd://HOST:PORT/NAME`): a BlockBackend whose reads
// and writes go to the server. BlockBackend is synchronous (virtio-blk completes a
// request in the notify that posted it), so the socket lives on a worker thread and this
// side waits for each answer with Atomics.wait: the vCPU is stalled for the round trip,
// as it is for a local disk's pread.

import { Worker } from 'node:worker_threads';
import type { BlockBackend } from '../../devices/block.js';
import { DiskError } from '../../storage/errors.js';
import { serialOf } from '../../storage/open.js';
import {
  CMD_FLUSH, CMD_READ, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES, CMD_FLAG_NO_HOLE, TFLAG_READ_ONLY, TFLAG_SEND_FLUSH,
  TFLAG_SEND_TRIM, TFLAG_SEND_WRITE_ZEROES,
} from '../../storage/nbd/protocol.js';
import { nbdUri, type NbdAddress } from '../../storage/nbd/uri.js';
import { CHUNK_BYTES, type ChannelInit, CONTROL_SLOTS, getText, Slot, State, TEXT_BYTES } from './sync-channel.js';

export interface NbdBackendOptions {
  readOnly?: boolean;
  /** Default: the export's name (cut to 20 bytes), or 'nbd'. */
  serial?: string;
  /** How long a dropped connection may take to come back (default 10 s). */
  reconnectMs?: number;
  /** How long one request may take before it fails with an I/O error (default 60 s). */
  requestMs?: number;
}

export class NbdBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  readonly serial: string;
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly text: SharedArrayBuffer;
  private readonly worker: Worker;
  private readonly exportFlags: number;
  private readonly chunk: number;
  private readonly requestMs: number;
  private readonly where: string;
  private closed = false;

  constructor(readonly address: NbdAddress, o: NbdBackendOptions = {}) {
    this.where = nbdUri(address);
    const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
    const data = new SharedArrayBuffer(CHUNK_BYTES);
    this.text = new SharedArrayBuffer(TEXT_BYTES);
    this.control = new Int32Array(control);
    this.data = new Uint8Array(data);
    this.requestMs = o.requestMs ?? 60_000;
    const connectMs = 10_000;
    const init: ChannelInit = { address, control, data, text: this.text, reconnectMs: o.reconnectMs ?? 10_000, connectMs };
    this.control[Slot.State] = State.Request;
    this.worker = new Worker(new URL('./client-worker.js', import.meta.url), { workerData: init, name: 'nbd' });
    // The worker never keeps the process alive: this thread waits on it only while blocked.
    this.worker.unref();
    try {
      this.await(connectMs + 5000, 'connecting');
    } catch (e) {
      void this.worker.terminate();
      throw e;
    }
    const c = this.control;
    this.size = (c[Slot.SizeHigh] >>> 0) * 2 ** 32 + (c[Slot.SizeLow] >>> 0);
    this.exportFlags = c[Slot.ExportFlags];
    const max = c[Slot.MaxRequest] >>> 0;
    this.chunk = max > 0 ? Math.min(CHUNK_BYTES, max) : CHUNK_BYTES;
    const exportReadOnly = (this.exportFlags & TFLAG_READ_ONLY) !== 0;
    if (exportReadOnly && !o.readOnly) {
      this.close();
      throw new DiskError(`${this.where}: the export is read-only (open it with ro)`);
    }
    this.readOnly = o.readOnly ?? false;
    this.serial = o.serial ?? (address.export ? serialOf(address.export) : 'nbd');
  }

  /** Waits for the worker's answer to the request in flight; throws a DiskError for an
   *  error reply, a lost connection or no answer in time. */
  private await(timeoutMs: number, what: string): void {
    const c = this.control;
    const deadline = Date.now() + timeoutMs;
    while (Atomics.load(c, Slot.State) === State.Request) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(c, Slot.State, State.Request, left) === 'timed-out') {
        throw new DiskError(`${this.where}: no answer from the NBD server within ${Math.round(timeoutMs / 1000)} s (${what})`);
      }
    }
    const result = c[Slot.Result];
    const message = result === 0 ? '' : getText(this.text, c);
    Atomics.store(c, Slot.State, State.Idle);
    Atomics.notify(c, Slot.State);
    if (result !== 0) throw new DiskError(`${this.where}: ${message || `error ${result}`}`);
  }

  private request(type: number, offset: number, length: number, flags = 0): void {
    if (this.closed) throw new DiskError(`${this.where}: closed`);
    const c = this.control;
    c[Slot.Type] = type;
    c[Slot.Flags] = flags;
    c[Slot.Length] = length;
    c[Slot.OffsetHigh] = Math.floor(offset / 2 ** 32);
    c[Slot.OffsetLow] = offset >>> 0;
    Atomics.store(c, Slot.State, State.Request);
    Atomics.notify(c, Slot.State);
    this.await(this.requestMs, `a ${NAMES[type]} of ${length} bytes at ${offset}`);
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new DiskError(`${this.where}: ${length} bytes at ${offset} are beyond the disk's ${this.size}`);
    }
  }

  read(offset: number, dest: Uint8Array): void {
    this.checkRange(offset, dest.length);
    for (let at = 0; at < dest.length; at += this.chunk) {
      const n = Math.min(this.chunk, dest.length - at);
      this.request(CMD_READ, offset + at, n);
      dest.set(this.data.subarray(0, n), at);
    }
  }

  write(offset: number, src: Uint8Array): void {
    if (this.readOnly) throw new DiskError(`${this.where}: read-only`);
    this.checkRange(offset, src.length);
    for (let at = 0; at < src.length; at += this.chunk) {
      const n = Math.min(this.chunk, src.length - at);
      this.data.set(src.subarray(at, at + n));
      this.request(CMD_WRITE, offset + at, n);
    }
  }

  flush(): void {
    if (this.closed || !(this.exportFlags & TFLAG_SEND_FLUSH)) return;
    this.request(CMD_FLUSH, 0, 0);
  }

  discard(offset: number, length: number): void {
    if (this.readOnly) throw new DiskError(`${this.where}: read-only`);
    this.checkRange(offset, length);
    if (!(this.exportFlags & TFLAG_SEND_TRIM)) return;
    this.ranges(offset, length, (at, n) => this.request(CMD_TRIM, at, n));
  }

  writeZeroes(offset: number, length: number, unmap: boolean): void {
    if (this.readOnly) throw new DiskError(`${this.where}: read-only`);
    this.checkRange(offset, length);
    if (this.exportFlags & TFLAG_SEND_WRITE_ZEROES) {
      this.ranges(offset, length, (at, n) => this.request(CMD_WRITE_ZEROES, at, n, unmap ? 0 : CMD_FLAG_NO_HOLE));
      return;
    }
    const zeroes = new Uint8Array(Math.min(length, this.chunk));
    for (let at = 0; at < length; at += zeroes.length) this.write(offset + at, zeroes.subarray(0, Math.min(zeroes.length, length - at)));
  }

  /** Splits a range into requests the 32-bit length field can carry. */
  private ranges(offset: number, length: number, each: (at: number, n: number) => void): void {
    const max = 1 << 30;
    for (let at = 0; at < length; at += max) each(offset + at, Math.min(max, length - at));
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      Atomics.store(this.control, Slot.State, State.Close);
      Atomics.notify(this.control, Slot.State);
    }
  }
}

const NAMES: Record<number, string> = { 0: 'read', 1: 'write', 3: 'flush', 4: 'trim', 6: 'write-zeroes' };
