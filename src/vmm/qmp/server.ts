// The QMP server: QEMU's greeting, capabilities negotiation, commands with ids, and
// life-cycle events with timestamps to every negotiated client. One JSON value per
// request, split from the stream by JsonSplitter; replies go out in request order.

import { createServer, type Server, type Socket } from 'node:net';
import { listen, type ListenAddress } from '../address.js';
import type { VmControl, VmEvent } from '../control.js';
import { Hmp, QEMU_VERSION } from '../hmp.js';
import { errorText } from '../error-text.js';
import { checkArgs, QmpError, runCommand, type ArgSpec, type CommandContext } from './commands.js';
import { JobTable } from './jobs.js';
import { JsonSplitter, MAX_JSON_BYTES, type JsonChunk } from './json-stream.js';

export interface QmpServerOptions {
  control: VmControl;
  /** Shares the console's monitor (its selected cpu) when given. */
  hmp?: Hmp;
  maxRequestBytes?: number;
  maxUnreadBytes?: number;
}

/** QMP timestamps: wall-clock seconds and microseconds, as QEMU stamps events. */
export function timestamp(nowMs = performance.timeOrigin + performance.now()): { seconds: number; microseconds: number } {
  const us = Math.floor(nowMs * 1000);
  return { seconds: Math.floor(us / 1e6), microseconds: us % 1e6 };
}

/** Bytes of replies a client has not read yet beyond which its requests wait: a client
 *  that sends without reading must not grow the VMM's memory without bound. */
export const MAX_UNREAD_BYTES = 1 << 20;

class Session {
  negotiated = false;
  private readonly splitter: JsonSplitter;
  /** Requests run one after another so replies keep their order across async commands. */
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly socket: Socket, private readonly ctx: CommandContext, maxBytes: number, maxUnread: number) {
    this.splitter = new JsonSplitter(maxBytes);
    this.send({ QMP: { version: { qemu: { ...QEMU_VERSION }, package: 'rvisor' }, capabilities: [] } });
    socket.on('data', (data: Buffer) => {
      for (const chunk of this.splitter.push(data)) this.enqueue(chunk);
      if (socket.writableLength > maxUnread) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
  }

  private enqueue(chunk: JsonChunk): void {
    this.queue = this.queue
      .then(() => (chunk.ok ? this.request(chunk.text) : this.error('GenericError', chunk.error)))
      // A bug below must cost the client one answer, not the session (every later
      // request chains on this promise) nor the VMM (Node ends on an unhandled rejection).
      .catch((e: unknown) => this.error('GenericError', `internal error: ${errorText(e)}`));
  }

  /** Settles once every request received so far has been answered. */
  drained(): Promise<void> {
    return this.queue;
  }

  send(msg: unknown): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(JSON.stringify(msg) + '\r\n');
  }

  private error(cls: string, desc: string, id?: unknown): void {
    this.send(id === undefined ? { error: { class: cls, desc } } : { error: { class: cls, desc }, id });
  }

  private async request(text: string): Promise<void> {
    let req: unknown;
    try {
      req = JSON.parse(text);
    } catch (e) {
      return this.error('GenericError', `JSON parse error, ${errorText(e)}`);
    }
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return this.error('GenericError', 'QMP input must be a JSON object');
    const r = req as Record<string, unknown>;
    const id = r.id;
    for (const key of Object.keys(r)) {
      if (key !== 'execute' && key !== 'arguments' && key !== 'id') return this.error('GenericError', `QMP input member '${key}' is unexpected`, id);
    }
    if (!Object.hasOwn(r, 'execute')) return this.error('GenericError', "QMP input lacks member 'execute'", id);
    if (typeof r.execute !== 'string') return this.error('GenericError', "QMP input member 'execute' must be a string", id);
    const args = r.arguments ?? {};
    if (typeof args !== 'object' || args === null || Array.isArray(args)) return this.error('GenericError', "QMP input member 'arguments' must be an object", id);
    const reply = (ret: unknown) => this.send(id === undefined ? { return: ret } : { return: ret, id });
    const name = r.execute;
    try {
      if (name === 'qmp_capabilities') {
        if (this.negotiated) return this.error('CommandNotFound', 'Capabilities negotiation is already complete, command ignored', id);
        checkArgs(CAPABILITIES_ARGS, args as Record<string, unknown>);
        const enable = (args as { enable?: string[] }).enable;
        if (enable?.length) return this.error('GenericError', `Capability '${enable[0]}' not available`, id);
        this.negotiated = true;
        return reply({});
      }
      if (!this.negotiated) return this.error('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'", id);
      reply(await runCommand(name, args as Record<string, unknown>, this.ctx));
      if (name === 'quit') this.ctx.control.quit();
    } catch (e) {
      if (e instanceof QmpError) return this.error(e.cls, e.message, id);
      // Anything else failed inside the VMM: the client still gets an answer, and the
      // session (whose requests are chained) stays usable.
      return this.error('GenericError', errorText(e), id);
    }
  }
}

/** qmp_capabilities takes only the list of capabilities to enable (rvisor has none). */
const CAPABILITIES_ARGS: ArgSpec = { args: { enable: 'str-list' }, optional: ['enable'] };

export class QmpServer {
  readonly server: Server;
  private readonly sessions = new Set<Session>();
  private readonly unsubscribe: () => void;

  constructor(opts: QmpServerOptions) {
    const broadcast = (e: VmEvent) => this.broadcast(e);
    const ctx: CommandContext = { control: opts.control, hmp: opts.hmp ?? new Hmp(opts.control), jobs: new JobTable(broadcast) };
    const off = [opts.control.onEvent(broadcast), opts.control.migration?.onEvent(broadcast)];
    this.unsubscribe = () => off.forEach((f) => f?.());
    this.server = createServer((socket) => {
      const s = new Session(socket, ctx, opts.maxRequestBytes ?? MAX_JSON_BYTES, opts.maxUnreadBytes ?? MAX_UNREAD_BYTES);
      this.sessions.add(s);
      socket.on('close', () => this.sessions.delete(s));
      // A client that vanishes mid-write must not take the VMM down.
      socket.on('error', () => socket.destroy());
    });
  }

  listen(addr: ListenAddress): Promise<void> {
    return listen(this.server, addr);
  }

  /** Sends an event to every client past capabilities negotiation. */
  broadcast(e: VmEvent): void {
    const msg = { event: e.event, data: e.data ?? {}, timestamp: timestamp() };
    for (const s of this.sessions) if (s.negotiated) s.send(msg);
  }

  get clients(): number {
    return this.sessions.size;
  }

  /** Answers what is still pending (a command that ended the VM, such as
   *  system_powerdown, gets its reply), then closes every connection. */
  async close(): Promise<void> {
    this.unsubscribe();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, 2000).unref());
    await Promise.race([Promise.all([...this.sessions].map((s) => s.drained())), grace]);
    for (const s of this.sessions) {
      s.socket.end();
      setTimeout(() => s.socket.destroy(), 1000).unref();
    }
    await closed;
  }
}
