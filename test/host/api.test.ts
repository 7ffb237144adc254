// The daemon API's routes, driven over real HTTP on the Unix socket against the FakeHost,
// each request and response held to the served OpenAPI document.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { VM_SPEC_SCHEMA } from '../../src/vmm/spec.js';
import { Harness } from './api-fixture.js';

let h: Harness;
before(async () => { h = await Harness.start(); });
after(() => h.stop());

type View = { id: string; name: string; status: string; owner: string; labels: Record<string, string>; ttlSeconds?: number; template?: boolean; clonedFrom?: string };
const names = (json: unknown) => (json as View[]).map((v) => v.name).sort();

test('the document is OpenAPI 3.1 and uses the VmSpec schema itself, by reference', async () => {
  const served = (await h.call('GET', '/openapi.json')).json as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
    components: { schemas: Record<string, unknown> };
  };
  assert.deepEqual(served.components.schemas.VmSpec, JSON.parse(JSON.stringify(VM_SPEC_SCHEMA)));
  assert.deepEqual((served.paths['/v1/vms'].post.requestBody as { content: Record<string, unknown> }).content['application/json'],
    { schema: { $ref: '#/components/schemas/CreateRequest' } });
  assert.equal(JSON.stringify(served).split('"memory":{').length - 1, 1, 'the VmSpec schema appears once');
});

test('GET /v1/host', async () => {
  const r = await h.call('GET', '/v1/host');
  assert.equal(r.status, 200);
  assert.equal((r.json as { cpus: number }).cpus, 2);
});

test('POST /v1/vms creates (201, Location), GET /v1/vms/{vm} by name and by id', async () => {
  const r = await h.call('POST', '/v1/vms', { json: { spec: { name: 'alpha', memory: 64 << 20 }, owner: 'ann', labels: { team: 'a' }, ttlSeconds: 60 } });
  assert.equal(r.status, 201);
  assert.equal(r.headers.location, '/v1/vms/alpha');
  const vm = r.json as View & { spec: { harts: number } };
  assert.equal(vm.status, 'stopped');
  assert.equal(vm.spec.harts, 1, 'the spec comes back with its defaults');
  assert.equal(((await h.call('GET', `/v1/vms/${vm.id}`)).json as View).name, 'alpha');
  assert.equal(((await h.call('GET', '/v1/vms/alpha')).json as View).id, vm.id);
});

test('GET /v1/vms filters: default (with a worker), all, status, owner, label (repeated), idle', async () => {
  await h.create('f-run', { owner: 'bob', labels: { team: 'b', tier: 'web' } });
  await h.create('f-stopped', { owner: 'bob', labels: { team: 'b' } });
  await h.call('POST', '/v1/vms/f-run/actions', { json: { type: 'start' } });
  const list = async (q: string) => names((await h.call('GET', `/v1/vms${q}`)).json).filter((n) => n.startsWith('f-'));
  assert.deepEqual(await list(''), ['f-run']);
  assert.deepEqual(await list('?all=true'), ['f-run', 'f-stopped']);
  assert.deepEqual(await list('?status=stopped'), ['f-stopped']);
  assert.deepEqual(await list('?all=true&owner=bob'), ['f-run', 'f-stopped']);
  assert.deepEqual(await list('?all=true&label=team=b&label=tier=web'), ['f-run']);
  assert.deepEqual(await list('?all=true&idle=0'), ['f-run', 'f-stopped']);
  assert.deepEqual(await list('?all=true&idle=3600'), []);
});

test('PATCH /v1/vms/{vm} changes owner and labels, sets and clears the TTL', async () => {
  await h.create('patched');
  let r = await h.call('PATCH', '/v1/vms/patched', { json: { owner: 'carol', labels: { x: 'y' }, ttlSeconds: 30 } });
  assert.equal(r.status, 200);
  assert.deepEqual([(r.json as View).owner, (r.json as View).labels, (r.json as View).ttlSeconds], ['carol', { x: 'y' }, 30]);
  r = await h.call('PATCH', '/v1/vms/patched', { json: { ttlSeconds: null } });
  assert.equal((r.json as View).ttlSeconds, undefined);
});

test('POST /v1/vms/{vm}/actions: every action, with the state the backend reports', async () => {
  await h.create('acts');
  const act = async (json: object) => {
    const r = await h.call('POST', '/v1/vms/acts/actions', { json });
    assert.equal(r.status, 200, r.text);
    return (r.json as View).status;
  };
  assert.equal(await act({ type: 'start' }), 'running');
  assert.equal(await act({ type: 'pause' }), 'paused');
  assert.equal(await act({ type: 'snapshot', name: 'snap1' }), 'paused');
  assert.equal(await act({ type: 'resume' }), 'running');
  assert.equal(await act({ type: 'reset' }), 'running');
  assert.equal(await act({ type: 'restore', name: 'snap1' }), 'running');
  assert.equal(await act({ type: 'powerdown' }), 'running');
  assert.equal(await act({ type: 'stop' }), 'stopped');
});

test('DELETE /v1/vms/{vm}: 204; a running VM only with force=true', async () => {
  await h.create('doomed');
  await h.call('POST', '/v1/vms/doomed/actions', { json: { type: 'start' } });
  assert.equal((await h.call('DELETE', '/v1/vms/doomed')).status, 409);
  const r = await h.call('DELETE', '/v1/vms/doomed?force=true');
  assert.equal(r.status, 204);
  assert.equal((await h.call('GET', '/v1/vms/doomed')).status, 404);
});

test('POST /v1/vms/{vm}/template, then POST /v1/vms/{vm}/clones (201)', async () => {
  await h.create('base', { owner: 'dan' });
  const t = await h.call('POST', '/v1/vms/base/template');
  assert.equal(t.status, 200);
  assert.equal((t.json as View).template, true);
  const c = await h.call('POST', '/v1/vms/base/clones', { json: { name: 'base-1', labels: { copy: '1' } } });
  assert.equal(c.status, 201);
  assert.equal(c.headers.location, '/v1/vms/base-1');
  assert.deepEqual([(c.json as View).clonedFrom, (c.json as View).owner], [(t.json as View).id, 'dan']);
});

test('POST /v1/vms/{vm}/migrate (200, the figures; a bad target is a 400); POST /v1/migrations (201, the waiting VM)', async () => {
  await h.create('traveller');
  await h.call('POST', '/v1/vms/traveller/actions', { json: { type: 'start' } });
  const bad = await h.call('POST', '/v1/vms/traveller/migrate', { json: { target: 'ftp://elsewhere' } });
  assert.equal(bad.status, 400);
  const p = await h.call('POST', '/v1/vms/traveller/migrate', { json: { target: 'unix:/run/other.sock', dryRun: true } });
  assert.equal(p.status, 200);
  assert.equal((p.json as { converges: boolean }).converges, true);
  const m = await h.call('POST', '/v1/vms/traveller/migrate', { json: { target: 'http://10.0.0.2:7000', token: 'secret', downtimeLimitMs: 100 } });
  assert.equal(m.status, 200);
  assert.equal((m.json as { target: string }).target, 'http://10.0.0.2:7000');
  const i = await h.call('POST', '/v1/migrations', { json: { spec: { name: 'arrival', memory: 64 << 20 }, transport: 'tcp' } });
  assert.equal(i.status, 201);
  assert.equal(i.headers.location, '/v1/vms/arrival');
  assert.equal((i.json as { vm: View }).vm.status, 'incoming');
  assert.equal((await h.call('POST', '/v1/migrations', { json: { spec: { name: 'x', memory: 64 << 20 }, transport: 'carrier-pigeon' } })).status, 400);
});

test('GET /v1/images', async () => {
  const r = await h.call('GET', '/v1/images');
  assert.equal(r.status, 200);
  assert.equal((r.json as { name: string }[])[0].name, 'debian');
});

test('networks: POST creates (201, Location), GET lists and shows one, DELETE removes; a taken name is a 409, a bad one a 400', async () => {
  const r = await h.call('POST', '/v1/networks', { json: { name: 'lan' } });
  assert.equal(r.status, 201);
  assert.equal(r.headers.location, '/v1/networks/lan');
  assert.equal((await h.call('POST', '/v1/networks', { json: { name: 'lan' } })).status, 409);
  assert.equal((await h.call('POST', '/v1/networks', { json: { name: 'Bad Name' } })).status, 400);
  assert.equal((await h.call('POST', '/v1/networks', { json: { name: 'x', vlan: 3 } })).status, 400);
  assert.deepEqual(names((await h.call('GET', '/v1/networks')).json), ['lan']);
  assert.equal(((await h.call('GET', '/v1/networks/lan')).json as { socket: string }).socket, '/state/networks/lan.sock');
  const fw = { policy: { in: 'deny' }, rules: [{ action: 'allow', direction: 'in', proto: 'tcp', port: '22' }] };
  const put = await h.call('PUT', '/v1/networks/lan/firewall', { json: fw });
  assert.equal(put.status, 200);
  assert.deepEqual((put.json as { firewall: unknown }).firewall, fw);
  assert.equal((await h.call('PUT', '/v1/networks/lan/firewall', { json: { rules: [{ action: 'permit', direction: 'in' }] } })).status, 400, 'the schema checks rules');
  assert.equal((await h.call('PUT', '/v1/networks/lan/firewall', { json: { rules: [], extra: 1 } })).status, 400);
  assert.equal((await h.call('PUT', '/v1/networks/wan/firewall', { json: { rules: [] } })).status, 404);
  assert.equal(((await h.call('DELETE', '/v1/networks/lan/firewall')).json as { firewall?: unknown }).firewall, undefined);
  assert.equal((await h.call('DELETE', '/v1/networks/lan')).status, 204);
  assert.equal((await h.call('GET', '/v1/networks/lan')).status, 404);
  assert.equal((await h.call('DELETE', '/v1/networks/lan')).status, 404);
});

test('GET /metrics is Prometheus text', async () => {
  const r = await h.call('GET', '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4');
  assert.match(r.text, /^rvisor_vms\{status="stopped"\} \d+$/m);
});

test('the console without a WebSocket upgrade is a 426', async () => {
  await h.create('plain');
  await h.call('POST', '/v1/vms/plain/actions', { json: { type: 'start' } });
  const r = await h.call('GET', '/v1/vms/plain/console');
  assert.equal(r.status, 426);
  assert.equal(r.headers.upgrade, 'websocket');
});

test('every operation but the two streams has been driven here (api-stream.test.ts has those)', () => {
  const all = Object.values(h.contract.doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
  assert.deepEqual(all.filter((id) => !h.contract.seen.has(id)), ['streamEvents']);
});
