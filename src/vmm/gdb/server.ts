// `--gdb tcp::1234`: a TCP listener for one GDB at a time (a second debugger would
// fight the first over the same harts, so it is turned away, as gdbserver does).

import { createServer, type Server, type Socket } from 'node:net';
import { listen, type ListenAddress } from '../address.js';
import { GdbSession } from './session.js';
import type { DebugTarget } from './target.js';

export interface GdbServerOptions {
  target: DebugTarget;
  monitor?: (line: string) => Promise<string>;
  /** Told when a debugger attaches or leaves (the CLI prints it on stderr). */
  onConnection?: (event: 'attached' | 'detached', peer: string) => void;
  /** A packet's handler threw (a bug in the stub or the target; GDB got E01). */
  onError?: (e: unknown) => void;
  /** Settles when the target has harts to debug. A debugger that connects earlier (the
   *  CLI listens before the first machine is built) waits: its bytes stay in the socket. */
  ready?: Promise<unknown>;
}

/** The one debugger connection; its session starts once the target is ready. */
interface Active {
  socket: Socket;
  session?: GdbSession;
}

export class GdbServer {
  readonly server: Server;
  private active: Active | undefined;

  constructor(private readonly opts: GdbServerOptions) {
    this.server = createServer((socket) => this.accept(socket));
  }

  private accept(socket: Socket): void {
    if (this.active) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const peer = `${socket.remoteAddress ?? 'unix'}:${socket.remotePort ?? ''}`;
    const active: Active = { socket };
    this.active = active;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.active === active) this.active = undefined;
      if (!active.session) return;
      active.session.dispose();
      this.opts.onConnection?.('detached', peer);
    });
    const start = () => {
      if (socket.destroyed) return;
      const session = new GdbSession({
        target: this.opts.target,
        monitor: this.opts.monitor,
        onError: this.opts.onError,
        write: (b) => { if (socket.writable) socket.write(b); },
        close: () => socket.end(),
      });
      active.session = session;
      this.opts.onConnection?.('attached', peer);
      socket.on('data', (d: Buffer) => session.receive(d));
    };
    if (this.opts.ready) void this.opts.ready.then(start, () => socket.destroy());
    else start();
  }

  listen(addr: ListenAddress): Promise<void> {
    return listen(this.server, addr);
  }

  /** The port actually bound (for tcp::0 in tests). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  close(): Promise<void> {
    this.active?.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
