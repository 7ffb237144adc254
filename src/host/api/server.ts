// The host daemon's REST API: HTTP on a Unix socket, and optionally on TCP with a bearer
// token, over a HostBackend.
//
// The stack is node:http + ws + Ajv, with a small router read from the OpenAPI document,
// rather than fastify. Ajv is already the project's validator (vmm/spec.ts), and ws is
// the WebSocket library @fastify/websocket itself wraps, so this adds one small, widely
// used dependency with no others of its own. Fastify would bring a framework whose route
// schemas are a second description beside the OpenAPI document (or a plugin to derive
// one from the other), and whose unknown method is a 404, not a 405. Here the document
// is the router's input, so routes, checks and documentation are one definition.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { HostBackend } from '../daemon/model.js';
import { bearerCheck, listenUnix } from './access.js';
import { ApiError, failure, refuseOnSocket } from './errors.js';
import { BODY_LIMIT, JSON_TYPE, OPENAPI } from './openapi.js';
import { HANDLERS, type Reply } from './routes.js';
import { serveConsole } from './stream.js';
import { Router, type Document } from './validate.js';

export interface ApiOptions {
  /** Default: $XDG_RUNTIME_DIR/rvisor/api.sock. */
  socketPath?: string;
  /** Also listen on TCP (port 0: any free port); needs tokenFile. */
  listen?: { host: string; port: number };
  /** A file holding the bearer token TCP clients must send. */
  tokenFile?: string;
  /** Where faults and warnings go; default stderr. */
  log?: (line: string) => void;
}

export interface ApiServer {
  close(): Promise<void>;
  socketPath: string;
  /** The TCP port, when listening on TCP. */
  port?: number;
}

/** Input frames larger than this close the console: typed input is small. */
const CONSOLE_FRAME_LIMIT = 64 << 10;

type Authorize = (authorization: string | undefined) => void;

const tooLarge = () => new ApiError(413, 'body-too-large', `the request body is over ${BODY_LIMIT} bytes`, undefined, { Connection: 'close' });

function url(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://rvisor');
  } catch {
    throw new ApiError(400, 'bad-url', `not a request target: ${req.url}`);
  }
}

/** The body as JSON, or undefined when there is none. Past the limit, the rest is read
 *  and dropped (not kept), so that the client gets its 413 rather than a reset. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  if (Number(req.headers['content-length'] ?? 0) > BODY_LIMIT) throw tooLarge();
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT) return void chunks.push(chunk);
      req.removeAllListeners('data').resume();
      reject(tooLarge());
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    // The client went away mid-body: nobody is left to answer, and it is no fault to log.
    req.once('error', () => reject(new ApiError(400, 'aborted', 'the request body ended early')));
  });
  if (!body.length) return undefined;
  const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== JSON_TYPE) throw new ApiError(415, 'unsupported-media-type', `the body must be ${JSON_TYPE}, not ${type ?? 'untyped'}`);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (e) {
    const problem = `body: not JSON (${(e as Error).message})`;
    throw new ApiError(400, 'bad-json', problem, [problem]);
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if ('stream' in reply) return reply.stream(res);
  if ('text' in reply) return void res.writeHead(200, { 'Content-Type': reply.type }).end(reply.text);
  if (reply.json === undefined) return void res.writeHead(reply.status, reply.headers).end();
  const text = JSON.stringify(reply.json);
  res.writeHead(reply.status, { ...reply.headers, 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) }).end(text);
}

export async function startApi(backend: HostBackend, opts: ApiOptions = {}): Promise<ApiServer> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  if (opts.listen && opts.tokenFile === undefined) throw new Error('api: listening on TCP needs a tokenFile (the bearer token clients must send)');
  const router = new Router(OPENAPI as unknown as Document);
  const missing = router.operationIds.filter((id) => !HANDLERS[id]).concat(Object.keys(HANDLERS).filter((id) => !router.operationIds.includes(id)));
  if (missing.length) throw new Error(`api: the document and the handlers disagree on: ${missing.join(', ')}`);
  const wss = new WebSocketServer({ noServer: true, maxPayload: CONSOLE_FRAME_LIMIT });

  /** Authentication first (over TCP nothing, not even a 404, is told without the token), then the route. */
  function locate(req: IncomingMessage, authorize: Authorize) {
    authorize(req.headers.authorization);
    const target = url(req);
    return { target, route: router.find(req.method ?? 'GET', target.pathname) };
  }

  async function respond(req: IncomingMessage, res: ServerResponse, authorize: Authorize): Promise<void> {
    try {
      const { target, route } = locate(req, authorize);
      const call = route.check(target.searchParams, await readJson(req));
      send(res, await HANDLERS[route.id](backend, call));
    } catch (e) {
      const f = failure(e, log);
      if (res.headersSent) res.destroy();
      else send(res, { status: f.status, json: f.body, headers: f.headers });
    }
  }

  /** Only the console takes a WebSocket. Its attachment is made before the handshake so
   *  that an unknown or stopped VM is an HTTP refusal, and detached if the handshake fails. */
  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, authorize: Authorize): void {
    socket.on('error', () => socket.destroy());
    try {
      const { target, route } = locate(req, authorize);
      if (route.id !== 'attachConsole' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
        throw new ApiError(400, 'no-upgrade', `${target.pathname} does not take ${req.headers.upgrade ?? 'an'} upgrade`);
      }
      const attachment = backend.console(route.check(target.searchParams, undefined).path.vm);
      let upgraded = false;
      socket.once('close', () => {
        if (!upgraded) attachment.detach();
      });
      wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        serveConsole(attachment, ws, log);
      });
    } catch (e) {
      refuseOnSocket(socket, failure(e, log));
    }
  }

  function server(authorize: Authorize): Server {
    const s = createServer((req, res) => {
      // A client that goes away mid-request must not become an unhandled 'error'.
      req.on('error', () => {});
      void respond(req, res, authorize);
    });
    // Accept failures (EMFILE and the like) are logged, not thrown at the process.
    s.on('error', (e) => log(`api: server error: ${e.message}`));
    s.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(req, socket, head, authorize));
    // What the HTTP parser refuses still gets an Error body.
    s.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) =>
      refuseOnSocket(socket, failure(new ApiError(400, 'bad-http', `malformed HTTP request (${e.code ?? e.message})`), log)));
    return s;
  }

  // Read before anything listens: a bad token file stops the start, not half of it.
  const tcpCheck = opts.listen && opts.tokenFile !== undefined ? await bearerCheck(opts.tokenFile, log) : undefined;
  const servers = [server(() => {})];
  const close = () => {
    for (const ws of wss.clients) ws.terminate();
    return Promise.all(servers.filter((s) => s.listening).map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    }))).then(() => {});
  };
  const socketPath = await listenUnix(servers[0], opts.socketPath);
  if (!opts.listen || !tcpCheck) return { socketPath, close };
  try {
    const tcp = server(tcpCheck);
    servers.push(tcp);
    const { host, port } = opts.listen;
    await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen(port, host, resolve));
    return { socketPath, port: (tcp.address() as AddressInfo).port, close };
  } catch (e) {
    await close();
    throw e;
  }
}
