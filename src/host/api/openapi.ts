// The OpenAPI 3.1 document of the daemon API, served at GET /openapi.json. It is not only
// documentation: the server takes its routes, parameters and request body schemas from
// here (./validate.ts), so what is described is what is checked.

import { ref, SCHEMAS, VM_STATUSES } from './schemas.js';

export const JSON_TYPE = 'application/json';
export const METRICS_TYPE = 'text/plain; version=0.0.4';
/** The largest request body taken. */
export const BODY_LIMIT = 1 << 20;

const json = (schema: unknown) => ({ [JSON_TYPE]: { schema } });

/** The error responses, one per status: the body is always an Error. */
const ERRORS = {
  400: 'The request is malformed or names a bad field: `problems` lists each.',
  401: 'Over TCP only: no bearer token, or not the right one.',
  404: 'No such VM (or snapshot, template or image).',
  409: "The VM's state does not allow it (e.g. starting a running VM), or the name is taken.",
  405: 'The path does not take this method (Allow lists those it takes).',
  413: `The request body is over ${BODY_LIMIT} bytes.`,
  415: 'The request body is not application/json.',
  422: 'Something the request names is missing on this host (a file, an image).',
  426: 'A WebSocket upgrade is needed.',
  500: 'A fault in the daemon (it is logged); the request may be retried.',
  502: 'Another daemon (a migration target) refused, failed or could not be reached: the message says which.',
  503: 'The daemon cannot do it now (e.g. shutting down).',
} as const;
type ErrorStatus = keyof typeof ERRORS;

const errorRef = (status: ErrorStatus) => ({ $ref: `#/components/responses/E${status}` });

interface Op {
  id: string;
  summary: string;
  params?: unknown[];
  body?: string;
  ok: Record<string, unknown>;
  errors?: ErrorStatus[];
}

/** Every operation can be refused over TCP (401), can fail (500), and may be refused for
 *  a reason of the backend's own (default); a body can be too big or of the wrong type. */
function op({ id, summary, params, body, ok, errors = [] }: Op) {
  const statuses = new Set<ErrorStatus>([...errors, 401, 500]);
  if (body) [400, 413, 415].forEach((s) => statuses.add(s as ErrorStatus));
  if (params?.length) statuses.add(400);
  return {
    operationId: id,
    summary,
    ...(params?.length ? { parameters: params } : {}),
    ...(body ? { requestBody: { required: true, content: json(ref(body)) } } : {}),
    responses: {
      ...ok,
      ...Object.fromEntries([...statuses].sort((a, b) => a - b).map((s) => [String(s), errorRef(s)])),
      default: { description: 'Any other refusal, with its status.', content: json(ref('Error')) },
    },
  };
}

const networkParam = { name: 'network', in: 'path', required: true, description: 'A network by name.', schema: ref('NetworkName') };
const vmParam = { name: 'vm', in: 'path', required: true, description: 'A VM by name or id.', schema: ref('Name') };
const query = (name: string, description: string, schema: unknown, extra = {}) =>
  ({ name, in: 'query', required: false, description, schema, ...extra });

const reply = (description: string, schema: string | unknown, headers?: unknown) =>
  ({ description, content: json(typeof schema === 'string' ? ref(schema) : schema), ...(headers ? { headers } : {}) });
const view = (description: string) => ({ 200: reply(description, 'VmView') });
const createdView = (description: string) => ({
  201: reply(description, 'VmView', { Location: { description: "The new VM's URL.", schema: { type: 'string' } } }),
});

const paths = {
  '/openapi.json': {
    get: op({ id: 'getOpenApi', summary: 'This document.', ok: { 200: reply('The OpenAPI 3.1 document.', { type: 'object' }) } }),
  },
  '/v1/host': {
    get: op({ id: 'getHost', summary: 'The host: version, CPUs, memory, VMs per status.', ok: { 200: reply('The host.', 'HostInfo') } }),
  },
  '/v1/vms': {
    get: op({
      id: 'listVms',
      summary: 'The VMs: by default those with a worker (starting, running, paused, debug).',
      params: [
        query('all', 'Every VM, whatever its status.', { type: 'boolean' }),
        query('status', 'Only VMs in this status.', { enum: VM_STATUSES }),
        query('owner', 'Only VMs of this owner.', { type: 'string', minLength: 1, maxLength: 256 }),
        query('label', 'Only VMs with this label (key=value); repeat it: every one must match.',
          { type: 'array', maxItems: 64, items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}=' } },
          { style: 'form', explode: true }),
        query('idle', 'Only VMs with no guest activity for at least this many seconds.', { type: 'integer', minimum: 0 }),
      ],
      ok: { 200: reply('The VMs that match every filter given.', { type: 'array', items: ref('VmView') }) },
    }),
    post: op({ id: 'createVm', summary: 'Defines a VM (stopped).', body: 'CreateRequest', ok: createdView('The new VM.'), errors: [409] }),
  },
  '/v1/vms/{vm}': {
    get: op({ id: 'getVm', summary: 'One VM.', params: [vmParam], ok: view('The VM.'), errors: [404] }),
    patch: op({ id: 'patchVm', summary: "Changes a VM's owner, labels or TTL.", params: [vmParam], body: 'PatchRequest', ok: view('The VM as changed.'), errors: [404, 409] }),
    delete: op({
      id: 'deleteVm',
      summary: 'Removes a VM and its files.',
      params: [vmParam, query('force', 'Stop it first if it runs (else a running VM is a 409).', { type: 'boolean' })],
      ok: { 204: { description: 'Removed.' } },
      errors: [404, 409],
    }),
  },
  '/v1/vms/{vm}/actions': {
    post: op({
      id: 'actOnVm', summary: 'Starts, stops, pauses, resumes, resets, powers down, snapshots or restores a VM.',
      params: [vmParam], body: 'VmActionRequest', ok: view('The VM after the action.'), errors: [404, 409],
    }),
  },
  '/v1/vms/{vm}/template': {
    post: op({ id: 'makeTemplate', summary: 'Turns a stopped VM into a template.', params: [vmParam], ok: view('The template.'), errors: [404, 409] }),
  },
  '/v1/vms/{vm}/clones': {
    post: op({
      id: 'cloneVm', summary: "A new VM whose disks are overlays on the template's.",
      params: [vmParam], body: 'CloneRequest', ok: createdView('The clone.'), errors: [404, 409],
    }),
  },
  '/v1/vms/{vm}/migrate': {
    post: op({
      id: 'migrateVm',
      summary: 'Moves a running VM to another daemon, live (pre-copy), and removes it here once it runs there. Its writable disks must be on NBD. A failure leaves it running here.',
      params: [vmParam], body: 'MigrateRequest',
      ok: { 200: reply("The migration's figures, or with dryRun the prediction.", { oneOf: [ref('MigrationReport'), ref('MigrationPrediction')] }) },
      errors: [404, 409, 502],
    }),
  },
  '/v1/migrations': {
    post: op({
      id: 'acceptMigration',
      summary: "A source daemon's request: define a VM from its spec that waits (status incoming) for the guest; it is removed again if the guest never arrives.",
      body: 'IncomingRequest', ok: { 201: reply('The waiting VM and where it listens.', 'IncomingView') }, errors: [409, 422],
    }),
  },
  '/v1/vms/{vm}/console': {
    get: op({
      id: 'attachConsole',
      summary: "The VM's serial console as a WebSocket: binary frames out are its output; binary or text frames in are input. Many may attach; closing detaches.",
      params: [vmParam],
      ok: { 101: { description: 'Switching to the WebSocket protocol.' } },
      errors: [404, 409, 426],
    }),
  },
  '/v1/networks': {
    get: op({ id: 'listNetworks', summary: 'The virtual switches.', ok: { 200: reply('The networks.', { type: 'array', items: ref('NetworkView') }) } }),
    post: op({
      id: 'createNetwork', summary: 'Defines a virtual switch; VMs join it with a NIC of network switch.',
      body: 'NetworkSpec', ok: { 201: reply('The new network.', 'NetworkView') }, errors: [409],
    }),
  },
  '/v1/networks/{network}': {
    get: op({ id: 'getNetwork', summary: 'One switch: its ports with their counters, the MAC table.', params: [networkParam], ok: { 200: reply('The network.', 'NetworkView') }, errors: [404] }),
    delete: op({ id: 'deleteNetwork', summary: 'Removes a switch that has no ports attached.', params: [networkParam], ok: { 204: { description: 'Removed.' } }, errors: [404, 409] }),
  },
  '/v1/networks/{network}/firewall': {
    put: op({
      id: 'putNetworkFirewall', summary: "Replaces every VM port's firewall on the switch (at once, for running VMs too; tracked flows start again).",
      params: [networkParam], body: 'Firewall', ok: { 200: reply('The network.', 'NetworkView') }, errors: [404],
    }),
    delete: op({ id: 'deleteNetworkFirewall', summary: 'Removes the firewall: VM ports pass everything (MAC and IP spoofing checks stay).', params: [networkParam], ok: { 200: reply('The network.', 'NetworkView') }, errors: [404] }),
  },
  '/v1/images': {
    get: op({ id: 'listImages', summary: 'The guest images pulled on this host.', ok: { 200: reply('The images.', { type: 'array', items: ref('ImageView') }) } }),
  },
  '/v1/events': {
    get: op({
      id: 'streamEvents',
      summary: "Every VM's events as Server-Sent Events: `event:` is the HostEvent's event (QMP's names), `data:` the HostEvent as JSON (schema HostEvent).",
      ok: { 200: { description: 'An endless event stream; lines starting with a colon are keep-alives.', content: { 'text/event-stream': { schema: { type: 'string' } } } } },
    }),
  },
  '/metrics': {
    get: op({
      id: 'getMetrics',
      summary: 'Prometheus metrics.',
      ok: { 200: { description: `The text exposition format (${METRICS_TYPE}).`, content: { 'text/plain': { schema: { type: 'string' } } } } },
    }),
  },
} as const;

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'rvisor host daemon',
    version: '1',
    description: 'Drives the VMs of one host. On the Unix socket no token is needed (its mode, 0600, is the access control); '
      + 'over TCP every request needs `Authorization: Bearer <token>`. An unknown path is a 404 and a method a path does not '
      + `take is a 405 (with Allow), both with an Error body. Request bodies are JSON, at most ${BODY_LIMIT} bytes, and no object `
      + 'takes fields it does not list.',
  },
  // Either no credentials (the Unix socket) or the bearer token (TCP).
  security: [{}, { bearer: [] }],
  paths,
  components: {
    schemas: SCHEMAS,
    responses: Object.fromEntries(Object.entries(ERRORS).map(([status, description]) =>
      [`E${status}`, { description, content: json(ref('Error')) }])),
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The token in the daemon\'s token file.' } },
  },
} as const;
