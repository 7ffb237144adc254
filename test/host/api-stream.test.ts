// The daemon API's two streams: events as Server-Sent Events, and the console as a
// WebSocket (several readers, input to the guest, closing detaches).

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { Harness } from './api-fixture.js';

let h: Harness;
before(async () => { h = await Harness.start(); });
after(() => h.stop());

/** Resolves once `cond` holds (checked on every turn of the event loop), or fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Sse { event: string; data: unknown }

/** A subscriber to /v1/events, its events queued in order as they arrive. */
function subscribe(on = h): Promise<{ received: Sse[]; close: () => void; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const received: Sse[] = [];
    const req = request({ socketPath: on.api.socketPath, path: '/v1/events' }, (res) => {
      on.contract.checkResponse('GET', '/v1/events', { status: res.statusCode ?? 0, headers: res.headers, json: undefined, text: '' });
      let buffered = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        const blocks = buffered.split('\n\n');
        buffered = blocks.pop() ?? '';
        for (const block of blocks) {
          const fields = block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
          if (!fields.length) continue; // a comment: the greeting or a keep-alive
          const f = Object.fromEntries(fields);
          received.push({ event: f.event, data: JSON.parse(f.data) });
        }
      });
      res.on('error', () => {});
      resolve({ received, close: () => req.destroy(), ended: new Promise((done) => res.once('close', done)) });
    });
    req.on('error', (e) => (received.length ? undefined : reject(e)));
    req.end();
  });
}

test('events: every subscriber gets them in order, named as QMP names them, each a HostEvent', async () => {
  const [a, b] = [await subscribe(), await subscribe()];
  assert.equal(h.host.subscribers, 2, 'subscribed once the headers are in');
  const vm = await h.create('ev');
  await h.call('POST', '/v1/vms/ev/actions', { json: { type: 'start' } });
  await h.call('POST', '/v1/vms/ev/actions', { json: { type: 'pause' } });
  h.host.emit(h.host.get('ev'), 'CRASHED', { reason: 'test' });
  await h.call('DELETE', '/v1/vms/ev?force=true');
  const order = ['CREATED', 'RESUME', 'STOP', 'CRASHED', 'DELETED'];
  for (const s of [a, b]) {
    await until(() => s.received.length === order.length, 'the events');
    assert.deepEqual(s.received.map((e) => e.event), order);
    for (const e of s.received) {
      assert.deepEqual(h.contract.problems(h.contract.schema('HostEvent'), e.data), []);
      assert.equal((e.data as { event: string }).event, e.event);
      assert.deepEqual((e.data as { vm: unknown }).vm, { id: vm.id, name: 'ev' });
    }
  }
  assert.deepEqual((a.received[3].data as { data: unknown }).data, { reason: 'test' });
  a.close();
  b.close();
  await until(() => h.host.subscribers === 0, 'the unsubscribes');
});

/** A console reader over the Unix socket, its frames collected. */
async function reader(vm: string): Promise<{ ws: WebSocket; frames: Buffer[] }> {
  const ws = new WebSocket(`ws+unix://${h.api.socketPath}:/v1/vms/${vm}/console`);
  const frames: Buffer[] = [];
  ws.on('message', (data: Buffer, binary: boolean) => {
    assert.ok(binary, 'output is binary frames');
    frames.push(data);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, frames };
}

test('console: two readers both get the output; input from either reaches the guest; closing detaches', async () => {
  const vm = await h.create('con');
  await h.call('POST', '/v1/vms/con/actions', { json: { type: 'start' } });
  const [one, two] = [await reader('con'), await reader('con')];
  assert.equal(h.host.attachments.get(vm.id)?.size, 2);

  h.host.output('con', new TextEncoder().encode('login: '));
  h.host.output('con', Uint8Array.of(0, 255, 10));
  for (const r of [one, two]) {
    await until(() => r.frames.length === 2, 'the output');
    assert.deepEqual(r.frames.map((f) => [...f]), [[...Buffer.from('login: ')], [0, 255, 10]]);
  }

  const inputs = () => (h.host.inputs.get(vm.id) ?? []).map((b) => Buffer.from(b).toString('latin1'));
  one.ws.send(Buffer.from([1, 2, 3]));
  await until(() => inputs().length === 1, 'binary input');
  two.ws.send('ls -l\n');
  await until(() => inputs().length === 2, 'text input');
  assert.deepEqual(inputs(), ['\x01\x02\x03', 'ls -l\n']);

  one.ws.close();
  await until(() => h.host.attachments.get(vm.id)?.size === 1, 'the detach');
  h.host.output('con', Uint8Array.of(42));
  await until(() => two.frames.length === 3, 'output after the other left');
  assert.equal(one.frames.length, 2);
  two.ws.close();
  await until(() => h.host.attachments.get(vm.id)?.size === 0, 'the last detach');
});

test('console refusals are HTTP errors before the upgrade: unknown VM 404, stopped VM 409', async () => {
  await h.create('asleep');
  for (const [vm, status, code] of [['nobody', 404, 'no-such-vm'], ['asleep', 409, 'bad-state']] as const) {
    const reply = await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws+unix://${h.api.socketPath}:/v1/vms/${vm}/console`);
      ws.on('open', () => reject(new Error('opened')));
      ws.on('error', () => {});
      ws.on('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (d) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      });
    });
    const json = JSON.parse(reply.text) as { error: { code: string } };
    assert.equal(reply.status, status);
    assert.equal(json.error.code, code);
    h.contract.checkResponse('GET', `/v1/vms/${vm}/console`, { ...reply, json });
  }
});

test('closing the API ends the streams it holds: consoles detach, subscribers unsubscribe', async () => {
  const other = await Harness.start();
  await other.create('c2');
  await other.call('POST', '/v1/vms/c2/actions', { json: { type: 'start' } });
  const ws = new WebSocket(`ws+unix://${other.api.socketPath}:/v1/vms/c2/console`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const closed = new Promise((resolve) => ws.once('close', resolve));
  const events = await subscribe(other);
  await other.stop();
  await closed;
  await events.ended;
  assert.equal(other.host.attachments.get(other.host.get('c2').id)?.size, 0);
  assert.equal(other.host.subscribers, 0);
});
