// An NBD server over TCP or a Unix socket: each connection is one NbdServerSession over
// the exports (disk images opened once, shared by every client). `rvisor nbd serve`
// runs one; tests run it in-process.

import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { NbdServerSession, type NbdExport } from '../../storage/nbd/server-session.js';

export interface NbdListen {
  /** TCP: host and port (port 0 picks one). */
  host?: string;
  port?: number;
  /** Or a Unix socket path. */
  socket?: string;
}

export interface NbdServerOptions {
  exports: NbdExport[];
  log?: (line: string) => void;
  /** At most this many clients at once; more are refused at accept (default 64). */
  maxClients?: number;
}

/** Replies waiting in a client's socket past this stop the session taking requests. */
const SEND_HIGH_WATER = 64 << 20;

export class NbdServer {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  private socketPath: string | undefined;
  /** Connections served so far, for the log and for tests. */
  connections = 0;

  constructor(private readonly o: NbdServerOptions) {}

  /** Starts listening; resolves with where (the port a port 0 got). */
  async listen(at: NbdListen): Promise<{ host?: string; port?: number; socket?: string }> {
    const server = createServer((s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (at.socket !== undefined) server.listen(at.socket, () => resolve());
      else server.listen(at.port ?? 10809, at.host ?? '127.0.0.1', () => resolve());
    });
    server.on('error', (e) => this.o.log?.(`nbd: ${e.message}`));
    if (at.socket !== undefined) {
      this.socketPath = at.socket;
      return { socket: at.socket };
    }
    const a = server.address();
    return typeof a === 'object' && a ? { host: a.address, port: a.port } : {};
  }

  private accept(s: Socket): void {
    if (this.clients.size >= (this.o.maxClients ?? 64)) {
      this.o.log?.('nbd: too many clients; connection refused');
      s.destroy();
      return;
    }
    this.clients.add(s);
    this.connections++;
    const who = s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'unix';
    s.setNoDelay(true);
    const session = new NbdServerSession({
      exports: this.o.exports,
      send: (b) => {
        if (!s.destroyed) s.write(b);
      },
      end: (why) => {
        if (why !== 'client disconnected' && why !== 'client aborted') this.o.log?.(`nbd: ${who}: ${why}; closing`);
        s.end();
      },
      canSend: () => s.writableLength < SEND_HIGH_WATER,
      log: this.o.log,
    });
    s.on('drain', () => session.resume());
    s.on('data', (chunk: Buffer) => {
      session.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      // A session that stopped taking requests leaves the rest of the input unread too.
      if (s.writableLength >= SEND_HIGH_WATER) {
        s.pause();
        s.once('drain', () => s.resume());
      }
    });
    s.on('error', () => { /* a reset client: 'close' follows */ });
    s.on('close', () => this.clients.delete(s));
    session.start();
  }

  /** Stops accepting, drops every client, flushes and closes nothing else: the exports'
   *  backends belong to whoever made them. */
  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.socketPath !== undefined) rmSync(this.socketPath, { force: true });
  }
}
