// Routes and request checks compiled from the OpenAPI document: each operation's path,
// parameters and body schema are the document's own (Ajv resolves JSON pointers into it),
// so the server cannot take a request the document says is wrong, or refuse one it allows.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { describeSchemaError } from '../../vmm/spec.js';
import { ApiError } from './errors.js';
import { JSON_TYPE } from './openapi.js';

interface Parameter { name: string; in: string; required?: boolean; schema: { type?: unknown } }
interface Operation { operationId: string; parameters?: readonly Parameter[]; requestBody?: unknown }
export interface Document { paths: Record<string, Record<string, Operation>>; components: unknown }

/** A request as the handlers get it: checked against the document, query values typed. */
export interface Call { path: Record<string, string>; query: Record<string, unknown>; body: unknown }

interface Route {
  id: string;
  method: string;
  pattern: RegExp;
  pathNames: string[];
  query: Map<string, unknown>;
  checkPath: ValidateFunction;
  checkQuery: ValidateFunction;
  checkBody?: ValidateFunction;
}

const DOC_ID = 'rvisor:openapi';
const pointer = (...parts: string[]) => `${DOC_ID}#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

/** Request problems in the words parseVmSpec uses; an if/then rule's own error only
 *  repeats the one its `then` gave. */
const problems = (errors: ErrorObject[] | null | undefined, root: string) =>
  (errors ?? []).filter((e) => e.keyword !== 'if').map((e) => describeSchemaError(e, root));

/** Query strings are text: a value becomes what its parameter's schema says it is, and
 *  anything that does not parse stays text, for the schema to refuse by name. */
function typed(type: unknown, values: string[]): unknown {
  if (type === 'array') return values;
  if (values.length > 1) return values;
  const [v] = values;
  if (type === 'boolean' && (v === 'true' || v === 'false')) return v === 'true';
  if (type === 'integer' && /^-?\d{1,15}$/.test(v)) return Number(v);
  return v;
}

export class Router {
  private readonly routes: Route[] = [];

  constructor(doc: Document) {
    // strictRequired does not follow a `then: {required}` to the properties of its parent
    // (VmActionRequest's rule); formats are annotations for clients, not checked.
    const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, validateFormats: false });
    ajv.addKeyword('paths').addKeyword('components');
    ajv.addSchema({ $id: DOC_ID, paths: doc.paths, components: doc.components });
    for (const [template, methods] of Object.entries(doc.paths)) {
      const pathNames = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '([^/]+)')}$`);
      for (const [method, op] of Object.entries(methods)) {
        const group = (where: string) => {
          const params = (op.parameters ?? []).map((p, i) => ({ p, i })).filter(({ p }) => p.in === where);
          return {
            types: new Map(params.map(({ p }) => [p.name, p.schema.type])),
            check: ajv.compile({
              type: 'object', additionalProperties: false,
              required: params.filter(({ p }) => p.required).map(({ p }) => p.name),
              properties: Object.fromEntries(params.map(({ p, i }) =>
                [p.name, { $ref: pointer('paths', template, method, 'parameters', String(i), 'schema') }])),
            }),
          };
        };
        const query = group('query');
        this.routes.push({
          id: op.operationId, method: method.toUpperCase(), pattern, pathNames,
          query: query.types, checkQuery: query.check, checkPath: group('path').check,
          checkBody: op.requestBody ? ajv.compile({ $ref: pointer('paths', template, method, 'requestBody', 'content', JSON_TYPE, 'schema') }) : undefined,
        });
      }
    }
  }

  get operationIds(): string[] {
    return this.routes.map((r) => r.id);
  }

  /** The operation a method and path name, or a 404 / 405 refusal. */
  find(method: string, pathname: string): { id: string; check: (search: URLSearchParams, body: unknown) => Call } {
    const matching = this.routes.filter((r) => r.pattern.test(pathname));
    if (!matching.length) throw new ApiError(404, 'no-route', `no such path: ${pathname}`);
    const route = matching.find((r) => r.method === method);
    if (!route) {
      const allow = matching.map((r) => r.method).join(', ');
      throw new ApiError(405, 'method-not-allowed', `${pathname} takes ${allow}, not ${method}`, undefined, { Allow: allow });
    }
    const values = route.pattern.exec(pathname)!.slice(1);
    return { id: route.id, check: (search, body) => this.check(route, values, search, body) };
  }

  private check(route: Route, values: string[], search: URLSearchParams, body: unknown): Call {
    const found: string[] = [];
    const path: Record<string, string> = {};
    route.pathNames.forEach((name, i) => {
      try { path[name] = decodeURIComponent(values[i]); } catch { found.push(`path.${name}: bad percent-encoding`); }
    });
    if (!found.length && !route.checkPath(path)) found.push(...problems(route.checkPath.errors, 'path'));
    const query = Object.fromEntries([...new Set(search.keys())].map((k) => [k, typed(route.query.get(k), search.getAll(k))]));
    if (!route.checkQuery(query)) found.push(...problems(route.checkQuery.errors, 'query'));
    if (!route.checkBody) {
      if (body !== undefined) found.push('body: this operation takes none');
    } else if (body === undefined) found.push('body: missing (a JSON object)');
    else if (!route.checkBody(body)) found.push(...problems(route.checkBody.errors, 'body'));
    if (found.length) throw new ApiError(400, 'invalid-request', `invalid request: ${found.join('; ')}`, found);
    return { path, query, body };
  }
}
