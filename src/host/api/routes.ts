// What each operation of the document does with the backend. The request has been
// checked against the document already (./validate.ts), so the casts below only name
// the model type its schema mirrors.

import type { ServerResponse } from 'node:http';
import type { CreateRequest, HostBackend, IncomingRequest, ListFilter, MigrateRequest, PatchRequest, VmActionRequest, VmStatus, VmView } from '../daemon/model.js';
import type { NetworkSpec } from '../daemon/networks.js';
import type { FirewallSpec } from '../../net/switch/index.js';
import { ApiError } from './errors.js';
import { METRICS_TYPE, OPENAPI } from './openapi.js';
import { streamEvents } from './stream.js';
import type { Call } from './validate.js';

export type Reply =
  | { status: number; json?: unknown; headers?: Record<string, string> }
  | { status: 200; text: string; type: string }
  /** Takes the response over (Server-Sent Events). */
  | { stream: (res: ServerResponse) => void };

type Handler = (backend: HostBackend, call: Call) => Reply | Promise<Reply>;

const ok = (json: unknown): Reply => ({ status: 200, json });
const created = (vm: VmView): Reply =>
  ({ status: 201, json: vm, headers: { Location: `/v1/vms/${encodeURIComponent(vm.name)}` } });

function filter(q: Record<string, unknown>): ListFilter {
  const f: ListFilter = {};
  if (q.all !== undefined) f.all = q.all as boolean;
  if (q.status !== undefined) f.status = q.status as VmStatus;
  if (q.owner !== undefined) f.owner = q.owner as string;
  if (q.idle !== undefined) f.idleSeconds = q.idle as number;
  // label=k=v: the key ends at the first '=' (keys cannot hold one; values can).
  const pair = (kv: string, at = kv.indexOf('=')) => [kv.slice(0, at), kv.slice(at + 1)];
  if (q.label !== undefined) f.labels = Object.fromEntries((q.label as string[]).map((kv) => pair(kv)));
  return f;
}

/** Handlers by operationId; the server checks at start that these and the document's
 *  operations are the same set. attachConsole is served on the upgrade (./server.ts). */
export const HANDLERS: Record<string, Handler> = {
  getOpenApi: () => ok(OPENAPI),
  getHost: (b) => ok(b.info()),
  listVms: (b, c) => ok(b.list(filter(c.query))),
  createVm: async (b, c) => created(await b.create(c.body as CreateRequest)),
  getVm: (b, c) => ok(b.get(c.path.vm)),
  patchVm: (b, c) => ok(b.patch(c.path.vm, c.body as PatchRequest)),
  deleteVm: async (b, c) => {
    await b.remove(c.path.vm, { force: c.query.force === true });
    return { status: 204 };
  },
  actOnVm: async (b, c) => ok(await b.action(c.path.vm, c.body as VmActionRequest)),
  makeTemplate: async (b, c) => ok(await b.makeTemplate(c.path.vm)),
  cloneVm: async (b, c) => created(await b.clone(c.path.vm, c.body as { name: string })),
  migrateVm: async (b, c) => ok(await b.migrate(c.path.vm, c.body as MigrateRequest)),
  acceptMigration: async (b, c) => {
    const v = await b.acceptMigration(c.body as IncomingRequest);
    return { status: 201, json: v, headers: { Location: `/v1/vms/${encodeURIComponent(v.vm.name)}` } };
  },
  listImages: async (b) => ok(await b.images()),
  listNetworks: (b) => ok(b.listNetworks()),
  createNetwork: async (b, c) => {
    const n = await b.createNetwork(c.body as NetworkSpec);
    return { status: 201, json: n, headers: { Location: `/v1/networks/${n.name}` } };
  },
  getNetwork: (b, c) => ok(b.getNetwork(c.path.network)),
  putNetworkFirewall: (b, c) => ok(b.setNetworkFirewall(c.path.network, c.body as FirewallSpec)),
  deleteNetworkFirewall: (b, c) => ok(b.setNetworkFirewall(c.path.network, null)),
  deleteNetwork: (b, c) => {
    b.removeNetwork(c.path.network);
    return { status: 204 };
  },
  getMetrics: (b) => ({ status: 200, text: b.metrics(), type: METRICS_TYPE }),
  streamEvents: (b) => ({ stream: (res) => streamEvents(b, res) }),
  attachConsole: () => {
    throw new ApiError(426, 'upgrade-required', 'the console is a WebSocket: ask for Upgrade: websocket', undefined, { Upgrade: 'websocket' });
  },
};
