// A connection without the kernel in between: the server's own connection handler gets
// one end (as net.Server would hand it a Socket) and the fuzzer holds the other. Bytes
// written by the server are collected in order; bytes fed arrive as 'data'. Everything
// the protocol servers use of a Socket (data/close/error/drain events, write, pause,
// writable, writableLength, destroy) is plain stream.Duplex, so the server code runs
// unchanged, at the speed of a function call rather than of a syscall round trip.

import { Duplex } from 'node:stream';

export class MemorySocket extends Duplex {
  /** Everything the server wrote, one entry per write. */
  readonly written: Buffer[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.written.push(chunk);
    done();
  }

  override _read(): void {
    // Data is pushed by feed(); there is nothing to pull.
  }

  /** Delivers bytes to the server as one read. */
  feed(bytes: Uint8Array): void {
    this.push(Buffer.from(bytes));
  }

  /** Takes what the server wrote since the last call, as one string. */
  takeText(): string {
    const text = Buffer.concat(this.written).toString('utf8');
    this.written.length = 0;
    return text;
  }
}
