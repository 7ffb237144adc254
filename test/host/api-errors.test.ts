// Bad input to the daemon API: each is refused with the status the document gives and
// an Error body naming the problem, and none of it hurts the process.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { Harness, send, type Reply } from './api-fixture.js';

let h: Harness;
before(async () => { h = await Harness.start(); });
after(() => h.stop());

type ErrorBody = { error: { code: string; message: string; problems?: string[] } };
const error = (r: Reply) => (r.json as ErrorBody).error;

/** A refusal: its status, its code, and (when given) the problems it must name. */
function refused(r: Reply, status: number, code: string, ...problems: string[]): void {
  assert.equal(r.status, status, r.text);
  assert.equal(error(r).code, code, r.text);
  for (const p of problems) assert.ok(error(r).problems?.includes(p), `${p} in ${r.text}`);
}

const create = (json: unknown) => h.call('POST', '/v1/vms', { json });

test('malformed JSON: 400 bad-json', async () => {
  refused(await h.call('POST', '/v1/vms', { raw: '{"spec": {"memory": 4096' }), 400, 'bad-json');
  refused(await h.call('POST', '/v1/vms', { raw: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), 400, 'bad-json');
});

test('a body over 1 MiB: 413, declared or streamed', async () => {
  const big = JSON.stringify({ spec: { memory: 4096, boot: { append: 'x'.repeat(2 << 20) } } });
  refused(await h.call('POST', '/v1/vms', { raw: big }), 413, 'body-too-large');
  refused(await h.call('POST', '/v1/vms', { raw: big, headers: { 'Transfer-Encoding': 'chunked' } }), 413, 'body-too-large');
});

test('a body that is not application/json: 415', async () => {
  refused(await h.call('POST', '/v1/vms', { raw: '{}', type: 'text/plain' }), 415, 'unsupported-media-type');
});

test('an unknown field: 400 naming it, and the document agrees', async () => {
  const json = { spec: { name: 'u', memory: 4096 }, colour: 'red' };
  refused(await create(json), 400, 'invalid-request', "body: unknown field 'colour'");
  assert.notDeepEqual(h.contract.requestProblems('POST', '/v1/vms', json), []);
  refused(await create({ spec: { name: 'u', memory: 4096, disks: [{ file: 'a', size: 1 }] } }), 400, 'invalid-request', "body.spec.disks.0: unknown field 'size'");
});

test('wrong types and bad VmSpec fields: 400 naming each field', async () => {
  refused(await create({ spec: { name: 'w', memory: '64M' }, ttlSeconds: 'soon' }), 400, 'invalid-request',
    'body.spec.memory: must be integer', 'body.ttlSeconds: must be integer');
  refused(await create({ spec: { name: 'w', memory: 4097, exec: 'fast' } }), 400, 'invalid-request',
    'body.spec.memory: must be multiple of 4096', 'body.spec.exec: must be one of "jit", "interp"');
  refused(await create({ owner: 'x' }), 400, 'invalid-request', "body: missing field 'spec'");
  refused(await create(null), 400, 'invalid-request', 'body: must be object');
  refused(await create([]), 400, 'invalid-request', 'body: must be object');
});

test("the backend's SpecError (a rule between fields) surfaces with its problems", async () => {
  const json = { spec: { name: 'twice', memory: 4096, shares: [{ dir: '/a', tag: 't' }, { dir: '/b', tag: 't' }] } };
  assert.deepEqual(h.contract.requestProblems('POST', '/v1/vms', json), [], 'the schema alone allows it');
  refused(await create(json), 400, 'bad-spec', "shares.1.tag: 't' is used twice");
});

test('an unknown VM: 404', async () => {
  refused(await h.call('GET', '/v1/vms/ghost'), 404, 'no-such-vm');
  refused(await h.call('POST', '/v1/vms/ghost/actions', { json: { type: 'start' } }), 404, 'no-such-vm');
  refused(await h.call('DELETE', '/v1/vms/ghost'), 404, 'no-such-vm');
});

test('an illegal action: 409; a bad action request: 400', async () => {
  await h.create('busy');
  assert.equal((await h.call('POST', '/v1/vms/busy/actions', { json: { type: 'start' } })).status, 200);
  refused(await h.call('POST', '/v1/vms/busy/actions', { json: { type: 'start' } }), 409, 'bad-state');
  refused(await h.call('POST', '/v1/vms/busy/actions', { json: { type: 'resume' } }), 409, 'bad-state');
  refused(await h.call('POST', '/v1/vms/busy/template'), 409, 'bad-state');
  refused(await h.call('POST', '/v1/vms/busy/actions', { json: { type: 'restore', name: 'never' } }), 404, 'no-such-snapshot');
  refused(await h.call('POST', '/v1/vms/busy/actions', { json: { type: 'snapshot' } }), 400, 'invalid-request', "body: missing field 'name'");
  refused(await h.call('POST', '/v1/vms/busy/actions', { json: { type: 'start', name: 'x' } }), 400, 'invalid-request', 'body.name: not allowed here');
  refused(await h.call('POST', '/v1/vms/busy/actions', { json: { type: 'explode' } }), 400, 'invalid-request');
  refused(await h.call('POST', '/v1/vms', { json: { spec: { name: 'busy', memory: 4096 } } }), 409, 'name-taken');
});

test('bad parameters: 400 naming them', async () => {
  refused(await h.call('GET', '/v1/vms?all=yes&idle=-1&status=asleep&label=novalue'), 400, 'invalid-request',
    'query.all: must be boolean', 'query.idle: must be >= 0', 'query.label.0: must match pattern "^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}="');
  refused(await h.call('GET', '/v1/vms?colour=red'), 400, 'invalid-request', "query: unknown field 'colour'");
  refused(await h.call('GET', '/v1/vms?all=true&all=false'), 400, 'invalid-request', 'query.all: must be boolean');
  refused(await h.call('GET', '/v1/vms/bad%ZZ'), 400, 'invalid-request', 'path.vm: bad percent-encoding');
  refused(await h.call('GET', '/v1/vms/-dash'), 400, 'invalid-request');
  refused(await h.call('POST', '/v1/vms/busy/template', { json: {} }), 400, 'invalid-request', 'body: this operation takes none');
});

test('an unknown route: 404; a wrong method: 405 with Allow; both Error bodies', async () => {
  const notFound = await send(h.target, 'GET', '/v2/nothing');
  refused(notFound, 404, 'no-route');
  const wrong = await send(h.target, 'PUT', '/v1/vms');
  refused(wrong, 405, 'method-not-allowed');
  assert.equal(wrong.headers.allow, 'GET, POST');
  for (const r of [notFound, wrong]) assert.deepEqual(h.contract.problems(h.contract.schema('Error'), r.json), []);
});

test('a fault in the backend: 500 with an Error body, logged, and the server goes on', async () => {
  h.host.broken = true;
  try {
    const r = await h.call('GET', '/v1/host');
    refused(r, 500, 'internal');
    assert.doesNotMatch(r.text, /told to break/, 'no detail to the client');
    assert.ok(h.logged.some((l) => /internal error: TypeError: the double was told to break/.test(l)), h.logged.join('\n'));
  } finally {
    h.host.broken = false;
  }
  assert.equal((await h.call('GET', '/v1/host')).status, 200);
});

test('what the HTTP parser refuses: a 400 with an Error body, and the server goes on', async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const s = connect(h.api.socketPath, () => s.end('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'bad-http');
  assert.equal((await h.call('GET', '/v1/host')).status, 200);
});

test('a client that leaves mid-body is no fault: nothing logged, and the server goes on', async () => {
  await new Promise<void>((resolve, reject) => {
    const s = connect(h.api.socketPath, () =>
      s.write('POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sp', () => s.destroy()));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
  assert.equal((await h.call('GET', '/v1/host')).status, 200);
  assert.deepEqual(h.logged.filter((l) => /internal error/.test(l) && !/told to break/.test(l)), []);
});
