// What the API tests share: the API started over the FakeHost on a socket in a temp
// dir, a real HTTP client (node:http over the Unix socket or TCP), and a contract
// checker that holds every request and response to the served /openapi.json.
//
// The checker is independent of the server's own checks: the document is checked as
// OpenAPI 3.1 by @seriousme/openapi-schema-validator, its $refs resolved by that library,
// and each schema compiled by a separate Ajv 2020 instance here; operations are found by
// matching paths against the document's templates, not through the server's router.

import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiOptions, type ApiServer } from '../../src/host/api/server.js';
import { FakeHost } from './api-double.js';

export type Target = { socketPath: string } | { host: string; port: number };

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed, when it is JSON. */
  json: unknown;
}

export interface Send {
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is (with `type` as its Content-Type, default application/json). */
  raw?: string | Buffer;
  type?: string;
  headers?: Record<string, string>;
}

/** One HTTP request, answered or not (a connection error rejects). */
export function send(target: Target, method: string, path: string, s: Send = {}): Promise<Reply> {
  const body = s.raw ?? (s.json === undefined ? undefined : JSON.stringify(s.json));
  const headers = { ...(body === undefined ? {} : { 'Content-Type': s.type ?? 'application/json' }), ...s.headers };
  return new Promise((resolve, reject) => {
    const req = request({ ...target, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(text) : undefined;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; required?: boolean; schema: { type?: string } }[];
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
/** A path segment decoded, or as sent when it is not valid percent-encoding. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } };

export class Contract {
  private readonly compiled = new Map<object, ValidateFunction>();
  /** operationIds a checked response has been seen for. */
  readonly seen = new Set<string>();

  private constructor(readonly doc: Doc) {}

  /** Fetches /openapi.json and checks it is a valid OpenAPI 3.1 document. */
  static async load(target: Target): Promise<Contract> {
    const served = await send(target, 'GET', '/openapi.json');
    assert.equal(served.status, 200);
    const validator = new Validator();
    const result = await validator.validate(served.json as Parameters<Validator['validate']>[0]);
    assert.deepEqual(result, { valid: true }, 'the served document is valid OpenAPI');
    assert.equal(validator.version, '3.1');
    return new Contract(validator.resolveRefs() as Doc);
  }

  /** The schema's errors for `value`, as Ajv words them (none: an empty list). */
  problems(schema: object, value: unknown): string[] {
    // A fresh Ajv per schema: the resolved document repeats VmSpec (and its $id) in many places.
    let check = this.compiled.get(schema);
    if (!check) this.compiled.set(schema, check = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(schema));
    return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }

  schema(name: string): object {
    return this.doc.components.schemas[name];
  }

  find(method: string, pathname: string): { op: Operation; path: Record<string, string> } | undefined {
    for (const [template, ops] of Object.entries(this.doc.paths)) {
      const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const m = new RegExp(`^${template.replace(/\{\w+\}/g, '([^/]+)')}$`).exec(pathname);
      const op = ops[method.toLowerCase()];
      if (m && op) return { op, path: Object.fromEntries(names.map((n, i) => [n, decoded(m[i + 1])])) };
    }
    return undefined;
  }

  /** What the document finds wrong with a request (its parameters and body). */
  requestProblems(method: string, url: string, body: unknown): string[] {
    const { pathname, searchParams } = new URL(url, 'http://x');
    const found = this.find(method, pathname);
    if (!found) return [`no operation ${method} ${pathname}`];
    const out: string[] = [];
    for (const p of found.op.parameters ?? []) {
      const raw = p.in === 'path' ? [found.path[p.name]] : searchParams.getAll(p.name);
      if (!raw.length || raw[0] === undefined) {
        if (p.required) out.push(`${p.name}: required`);
        continue;
      }
      const t = p.schema.type;
      const value = t === 'array' ? raw : t === 'boolean' ? (raw[0] === 'true' ? true : raw[0] === 'false' ? false : raw[0])
        : t === 'integer' && /^-?\d+$/.test(raw[0]) ? Number(raw[0]) : raw[0];
      out.push(...this.problems(p.schema, value).map((e) => `${p.name}: ${e}`));
    }
    const schema = found.op.requestBody?.content['application/json'].schema;
    if (schema && body === undefined) out.push('body: required');
    if (schema && body !== undefined) out.push(...this.problems(schema, body).map((e) => `body: ${e}`));
    return out;
  }

  /** Asserts the response is one the document describes for this operation. */
  checkResponse(method: string, url: string, r: Pick<Reply, 'status' | 'headers' | 'json' | 'text'>): void {
    const { pathname } = new URL(url, 'http://x');
    const found = this.find(method, pathname);
    assert.ok(found, `${method} ${pathname} is in the document`);
    const described = found.op.responses[String(r.status)] ?? found.op.responses.default;
    assert.ok(described, `${method} ${pathname} ${r.status} is described`);
    this.seen.add(found.op.operationId);
    if (!described.content) return assert.equal(r.text, '', `${r.status} has no body`);
    const type = (r.headers['content-type'] ?? '').split(';')[0].trim();
    const media = described.content[type];
    assert.ok(media, `${method} ${pathname} ${r.status}: ${type} is a described content type`);
    if (type === 'application/json') assert.deepEqual(this.problems(media.schema, r.json), [], `${method} ${pathname} ${r.status} body`);
  }
}

/** The API over a FakeHost on a socket in a temp dir; every call is contract-checked. */
export class Harness {
  private constructor(
    readonly host: FakeHost,
    readonly api: ApiServer,
    readonly contract: Contract,
    readonly dir: string,
    /** What the server logged. */
    readonly logged: string[],
  ) {}

  static async start(opts: ApiOptions = {}, host = new FakeHost()): Promise<Harness> {
    const dir = mkdtempSync(join(tmpdir(), 'rvisor-api-'));
    const logged: string[] = [];
    const api = await startApi(host, { socketPath: join(dir, 'api.sock'), log: (line) => logged.push(line), ...opts });
    return new Harness(host, api, await Contract.load({ socketPath: api.socketPath }), dir, logged);
  }

  get target(): Target {
    return { socketPath: this.api.socketPath };
  }

  /** A request over the Unix socket. The response must be described by the document;
   *  a request the server took (2xx) must be one the document allows. */
  async call(method: string, url: string, s: Send = {}): Promise<Reply> {
    const r = await send(this.target, method, url, s);
    this.contract.checkResponse(method, url, r);
    if (r.status < 300) assert.deepEqual(this.contract.requestProblems(method, url, s.json), [], `${method} ${url}: the document allows it`);
    return r;
  }

  /** A VM defined through the API, with a spec that holds. */
  async create(name: string, extra: Record<string, unknown> = {}): Promise<{ id: string; name: string; status: string }> {
    const r = await this.call('POST', '/v1/vms', { json: { spec: { name, memory: 64 << 20 }, ...extra } });
    assert.equal(r.status, 201, r.text);
    return r.json as { id: string; name: string; status: string };
  }

  async stop(): Promise<void> {
    await this.api.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
