// The migration engine's channel over a TCP or Unix socket, and the destination's
// listener (QEMU's -incoming tcp:HOST:PORT): it takes one source and refuses every later
// connection, so a second source can never write into a VM being migrated.

import { connect, createServer, type Server, type Socket } from 'node:net';
import type { MigrationChannel } from '../../vmm/migration/engine.js';
import { FrameDecoder, type Frame, MigrationError } from '../../vmm/migration/stream.js';

export type MigrationAddress = { host: string; port: number } | { socket: string };

/** QEMU's migration URIs: tcp:HOST:PORT ([v6]:PORT too) and unix:PATH. */
export function parseMigrationUri(uri: string): MigrationAddress {
  const unix = /^unix:(.+)$/.exec(uri);
  if (unix) return { socket: unix[1] };
  const tcp = /^tcp:(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(uri);
  if (tcp && Number(tcp[2]) <= 65535) return { host: tcp[1].replace(/^\[(.*)\]$/, '$1'), port: Number(tcp[2]) };
  throw new MigrationError(`${uri}: not a migration URI (tcp:HOST:PORT or unix:PATH)`);
}

/** A channel over a connected socket. `receivesPreamble`: the destination's side. */
export function socketChannel(s: Socket, receivesPreamble: boolean): MigrationChannel {
  const decoder = new FrameDecoder({ expectPreamble: receivesPreamble });
  const frames: Frame[] = [];
  let waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    waiter?.reject(failure);
    waiter = undefined;
  };
  s.setNoDelay(true);
  s.on('data', (chunk: Buffer) => {
    let got: Frame[];
    try {
      got = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (e) {
      fail(e as Error);
      s.destroy();
      return;
    }
    for (const f of got) {
      if (waiter) {
        waiter.resolve(f);
        waiter = undefined;
      } else frames.push(f);
    }
  });
  s.on('error', (e) => fail(new MigrationError(`the migration connection failed: ${e.message}`)));
  s.on('close', () => fail(new MigrationError('the peer closed the migration connection')));
  return {
    send: async (parts) => {
      if (failure) throw failure;
      let ok = true;
      for (const p of parts) ok = s.write(p) && ok;
      if (!ok) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => { s.off('close', onClose); resolve(); };
          const onClose = () => { s.off('drain', onDrain); reject(failure ?? new MigrationError('the peer closed the migration connection')); };
          s.once('drain', onDrain);
          s.once('close', onClose);
        });
      }
    },
    next: () => {
      const f = frames.shift();
      if (f) return Promise.resolve(f);
      if (failure) return Promise.reject(failure);
      return new Promise<Frame>((resolve, reject) => { waiter = { resolve, reject }; });
    },
    close: () => { s.end(); },
  };
}

/** Connects to a destination. */
export async function connectMigration(at: MigrationAddress, timeoutMs = 10_000): Promise<MigrationChannel> {
  const s = 'socket' in at ? connect(at.socket) : connect(at.port, at.host);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { s.destroy(); reject(new MigrationError(`no connection to the destination within ${timeoutMs / 1000} s`)); }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); resolve(); });
    s.once('error', (e) => { clearTimeout(timer); reject(new MigrationError(`cannot reach the destination: ${e.message}`)); });
  });
  return socketChannel(s, false);
}

/** Listens for one incoming migration: one source at a time, taken when accept() asks
 *  for it; a connection while one is served (or none is asked for) is closed unread. A
 *  dry run's session ends and the next accept() takes the real source. */
export class IncomingListener {
  private server: Server | undefined;
  private waiting: ((c: MigrationChannel) => void) | undefined;
  refused = 0;

  /** Resolves with where it listens (the port a port 0 got). */
  async listen(at: MigrationAddress): Promise<MigrationAddress> {
    const server = createServer();
    this.server = server;
    server.on('connection', (s) => {
      const take = this.waiting;
      if (!take) {
        this.refused++;
        s.destroy();
        return;
      }
      this.waiting = undefined;
      take(socketChannel(s, true));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if ('socket' in at) server.listen(at.socket, resolve);
      else server.listen(at.port, at.host, resolve);
    });
    const a = server.address();
    return typeof a === 'object' && a ? { host: a.address, port: a.port } : at;
  }

  /** The next source's channel. */
  accept(): Promise<MigrationChannel> {
    return new Promise((resolve) => (this.waiting = resolve));
  }

  close(): void {
    this.server?.close();
  }
}
