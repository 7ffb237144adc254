// Every refusal the API sends has one shape, `{"error": {code, message, problems?}}`
// (the Error schema), whatever refused: the HTTP layer, the backend, or a fault.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { SpecError } from '../../vmm/spec.js';
import { HostError } from '../daemon/model.js';

/** A refusal by the HTTP layer itself (routing, parsing, checking, authentication). */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems?: string[],
    /** Extra response headers, e.g. Allow for a 405. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface Failure {
  status: number;
  body: { error: { code: string; message: string; problems?: string[] } };
  headers: Record<string, string>;
}

/** What to send for anything thrown while serving a request. Faults (anything not a
 *  refusal) are logged with their stack and answered without detail: a 500 says nothing
 *  about the daemon's insides to the client. */
export function failure(e: unknown, log: (line: string) => void): Failure {
  const make = (status: number, code: string, message: string, problems?: string[], headers = {}): Failure =>
    ({ status, headers, body: { error: { code, message, ...(problems?.length ? { problems } : {}) } } });
  if (e instanceof ApiError) return make(e.status, e.code, e.message, e.problems, e.headers);
  if (e instanceof HostError) return make(e.status, e.code, e.message, e.problems);
  // The backend checks a spec with parseVmSpec; the rules between fields (a share tag
  // used twice) only it knows, and its SpecError names each field.
  if (e instanceof SpecError) return make(400, 'bad-spec', e.message, e.problems);
  log(`api: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return make(500, 'internal', 'internal error (logged by the daemon)');
}

/** Answers on a bare socket: for refusals before or instead of an HTTP response object
 *  (a WebSocket upgrade refused, a request the HTTP parser rejected). */
export function refuseOnSocket(socket: Duplex, f: Failure): void {
  const body = JSON.stringify(f.body);
  const head = [`HTTP/1.1 ${f.status} ${STATUS_CODES[f.status] ?? ''}`, 'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close',
    ...Object.entries(f.headers).map(([k, v]) => `${k}: ${v}`)];
  if (socket.writable) socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}
