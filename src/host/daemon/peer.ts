// Another daemon's REST API, as this daemon calls it (a migration's source asking the
// target for a VM to receive its guest): unix:PATH, or http://HOST:PORT with the other
// daemon's bearer token. Every failure is a HostError 502 that names the other daemon.

import { request, type RequestOptions } from 'node:http';
import { HostError } from './model.js';

/** The largest answer read from another daemon. */
const MAX_REPLY = 1 << 20;

export class PeerDaemon {
  readonly transport: 'unix' | 'tcp';
  private readonly base: RequestOptions;

  constructor(readonly target: string, token?: string) {
    const unix = /^unix:(\/.+)$/.exec(target);
    if (unix) {
      this.transport = 'unix';
      this.base = { socketPath: unix[1] };
      return;
    }
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      throw new HostError(400, 'bad_target', `${target}: not a daemon address (unix:PATH or http://HOST:PORT)`);
    }
    if (url.protocol !== 'http:') throw new HostError(400, 'bad_target', `${target}: only unix:PATH and http://HOST:PORT are supported`);
    this.transport = 'tcp';
    this.base = { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 80), ...(token && { headers: { Authorization: `Bearer ${token}` } }) };
  }

  /** The host name the target was reached by (for a migration URI it listens at). */
  get hostname(): string {
    return this.base.host ?? '127.0.0.1';
  }

  /** A JSON request; resolves with the answer's body when it is 2xx. */
  call<T>(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const fail = (why: string) => reject(new HostError(502, 'target_failed', `the target daemon ${this.target}: ${why}`));
      const req = request({
        ...this.base, method, path, timeout: timeoutMs,
        headers: { ...this.base.headers, ...(payload && { 'Content-Type': 'application/json', 'Content-Length': payload.length }) },
      }, (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (c: Buffer) => {
          length += c.length;
          if (length > MAX_REPLY) res.destroy(new Error('its answer is too long'));
          else chunks.push(c);
        });
        res.once('error', (e) => fail(e.message));
        res.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            return fail(`HTTP ${res.statusCode}, not JSON`);
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(json as T);
          const message = (json as { error?: { message?: unknown } } | undefined)?.error?.message;
          fail(`refused (HTTP ${status}): ${typeof message === 'string' ? message : text.slice(0, 200)}`);
        });
      });
      req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
      req.once('error', (e) => fail(e.message));
      req.end(payload);
    });
  }
}
