// The host daemon's REST API as the CLI's VM commands use it: JSON over HTTP on the
// daemon's Unix socket, and the console as a WebSocket on the same socket. As with
// docker and virsh, the command is a thin client: the daemon owns the VMs.

import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { WebSocket } from 'ws';
import { defaultSocketPath } from '../host/api/access.js';
import { EXIT_USAGE, UsageError } from './errors.js';

/** `--host unix:PATH`, else $RVISOR_HOST (the same form), else the daemon's own default. */
export function socketPathOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const given = flag ?? (env.RVISOR_HOST || undefined);
  if (given !== undefined) {
    const path = /^unix:(.+)$/.exec(given)?.[1];
    if (!path) throw new UsageError(`${flag !== undefined ? '--host' : 'RVISOR_HOST='}${given}: expected unix:PATH (the daemon's socket)`);
    return path;
  }
  try {
    return defaultSocketPath(env);
  } catch {
    throw new UsageError("XDG_RUNTIME_DIR is not set: name the daemon's socket with --host unix:PATH (or RVISOR_HOST)");
  }
}

/** A refusal from the daemon: its Error body, `{"error": {code, message, problems}}`. */
export class DaemonError extends Error {
  override name = 'DaemonError';

  constructor(readonly status: number, readonly code: string, message: string, readonly problems: string[] = []) {
    super(message);
  }

  /** 2 when the daemon found the request itself malformed (a bad spec or value: the
   *  status a bad flag gets); 1 when it refused what was asked (no such VM, a state that
   *  does not allow it, a name taken) or failed at it. */
  get exitStatus(): number {
    return [400, 413, 415, 422].includes(this.status) ? EXIT_USAGE : 1;
  }
}

/** Prints a refusal as one line, and each problem the message does not already say on
 *  a line of its own (the daemon's messages list theirs today); returns the exit status. */
export function report(e: DaemonError): number {
  const extra = e.problems.filter((p) => !e.message.includes(p));
  process.stderr.write(`rvisor: ${e.message}\n${extra.map((p) => `  ${p}\n`).join('')}`);
  return e.exitStatus;
}

function refusal(status: number, text: string): DaemonError {
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; problems?: string[] } };
    return new DaemonError(status, error.code, error.message, error.problems);
  } catch {
    return new DaemonError(status, 'http', `the daemon answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
}

/** A response's whole body, as text. */
function text(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('error', reject);
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export const vmPath = (vm: string, tail = '') => `/v1/vms/${encodeURIComponent(vm)}${tail}`;

export class ApiClient {
  constructor(readonly socketPath: string) {}

  /** A socket error as the user should see it. Cannot connect: a missing or dead socket
   *  means no daemon, anything else is named (2: theirs to fix). Lost on the way: the
   *  daemon went away (1, as a refusal: not a fault of this command). */
  private failed(e: NodeJS.ErrnoException): Error {
    if (e.syscall !== 'connect') return new DaemonError(0, 'connection-lost', `the daemon at ${this.socketPath} went away (${e.code ?? e.message})`);
    if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
      return new UsageError(`no daemon is running at ${this.socketPath} (start one with \`rvisor serve\`)`);
    }
    return new UsageError(`cannot reach the daemon at ${this.socketPath}: ${e.message}`);
  }

  /** One request; the parsed JSON reply (undefined for none), or a DaemonError. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const sent = body === undefined ? undefined : JSON.stringify(body);
    const headers = sent === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(sent) };
    const { status, reply } = await new Promise<{ status: number; reply: string }>((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path, headers }, (res) => {
        text(res).then((reply) => resolve({ status: res.statusCode ?? 0, reply }), (e) => reject(this.failed(e)));
      });
      req.on('error', (e) => reject(this.failed(e)));
      req.end(sent);
    });
    if (status >= 400) throw refusal(status, reply);
    try {
      return reply ? JSON.parse(reply) : undefined;
    } catch {
      throw new DaemonError(status, 'bad-reply', `the daemon's reply to ${method} ${path} is not JSON`);
    }
  }

  /** The VM's console, open, its output going to `output` from the first byte; a
   *  refusal of the upgrade (no such VM, not running) is a DaemonError. */
  console(vm: string, output: (bytes: Buffer) => void): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://rvisor${vmPath(vm, '/console')}`, { createConnection: () => connect(this.socketPath) });
      // Before 'open': output sent with the handshake's answer is read on a nextTick,
      // before the code awaiting this promise runs. A Buffer: ws's default binaryType.
      ws.on('message', (data) => output(data as Buffer));
      // Stays on: an error after a refusal (the request destroyed below) must not be unhandled.
      const failed = (e: Error) => reject(this.failed(e));
      ws.on('error', failed);
      ws.once('open', () => {
        ws.off('error', failed);
        resolve(ws);
      });
      ws.once('unexpected-response', (req, res) => {
        text(res).then((reply) => reject(refusal(res.statusCode ?? 0, reply)), (e) => reject(this.failed(e))).finally(() => req.destroy());
      });
    });
  }
}
