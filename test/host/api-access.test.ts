// Who can reach the daemon API: the Unix socket (0600 in a 0700 directory; a dead
// daemon's socket is replaced, a live one's is not) and TCP with the bearer token.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { startApi } from '../../src/host/api/server.js';
import { FakeHost } from './api-double.js';
import { Harness, send, type Target } from './api-fixture.js';

const scratch = mkdtempSync(join(tmpdir(), 'rvisor-api-access-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const quiet = { log: () => {} };
const mode = (path: string) => statSync(path).mode & 0o777;
const fresh = (name: string) => mkdtempSync(join(scratch, `${name}-`));

test('the default socket: $XDG_RUNTIME_DIR/rvisor/api.sock, 0600, its directory made 0700', async () => {
  const runtime = fresh('xdg');
  mkdirSync(join(runtime, 'rvisor'), { mode: 0o755 });
  chmodSync(join(runtime, 'rvisor'), 0o755);
  const saved = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = runtime;
  try {
    const api = await startApi(new FakeHost(), quiet);
    assert.equal(api.socketPath, join(runtime, 'rvisor', 'api.sock'));
    assert.ok(lstatSync(api.socketPath).isSocket());
    assert.equal(mode(api.socketPath), 0o600);
    assert.equal(mode(join(runtime, 'rvisor')), 0o700);
    assert.equal((await send({ socketPath: api.socketPath }, 'GET', '/v1/host')).status, 200);
    await api.close();
    assert.equal(existsSync(api.socketPath), false, 'closing removes the socket');
    delete process.env.XDG_RUNTIME_DIR;
    await assert.rejects(startApi(new FakeHost(), quiet), /XDG_RUNTIME_DIR is not set/);
  } finally {
    process.env.XDG_RUNTIME_DIR = saved;
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
  }
});

test('a named socket path: 0600, a missing directory made 0700', async () => {
  const socketPath = join(fresh('named'), 'sub', 'api.sock');
  const api = await startApi(new FakeHost(), { ...quiet, socketPath });
  assert.equal(mode(socketPath), 0o600);
  assert.equal(mode(join(socketPath, '..')), 0o700);
  await api.close();
});

test("a dead daemon's socket is replaced", async () => {
  const socketPath = join(fresh('stale'), 'api.sock');
  // A daemon that dies without closing: its socket file stays, and nothing answers on it.
  const dead = spawnSync(process.execPath, ['-e',
    `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(dead.signal, 'SIGKILL');
  assert.ok(lstatSync(socketPath).isSocket(), 'the stale socket is there');
  const api = await startApi(new FakeHost(), { ...quiet, socketPath });
  assert.equal((await send({ socketPath }, 'GET', '/v1/host')).status, 200);
  await api.close();
});

test("a live daemon's socket is refused, and that daemon goes on", async () => {
  const socketPath = join(fresh('live'), 'api.sock');
  const first = await startApi(new FakeHost(), { ...quiet, socketPath });
  await assert.rejects(startApi(new FakeHost(), { ...quiet, socketPath }), /another daemon is already listening on .*api\.sock/);
  assert.equal((await send({ socketPath }, 'GET', '/v1/host')).status, 200);
  await first.close();
});

test('a file that is not a socket is left alone and refused', async () => {
  const socketPath = join(fresh('file'), 'api.sock');
  writeFileSync(socketPath, 'mine');
  await assert.rejects(startApi(new FakeHost(), { ...quiet, socketPath }), /exists and is not a socket/);
  assert.equal(readFileSync(socketPath, 'utf8'), 'mine');
});

test('TCP without a token file is refused at start, before anything listens', async () => {
  const socketPath = join(fresh('notoken'), 'api.sock');
  await assert.rejects(startApi(new FakeHost(), { ...quiet, socketPath, listen: { host: '127.0.0.1', port: 0 } }), /needs a tokenFile/);
  const tokenFile = join(scratch, 'short-token');
  writeFileSync(tokenFile, 'short\n', { mode: 0o600 });
  await assert.rejects(startApi(new FakeHost(), { ...quiet, socketPath, listen: { host: '127.0.0.1', port: 0 }, tokenFile }), /too short/);
  assert.equal(existsSync(socketPath), false);
});

test('TCP: no token 401, wrong token 401, the right token 200; the Unix socket needs none', async () => {
  const token = 'tok-0123456789abcdef0123456789abcdef';
  const tokenFile = join(scratch, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const h = await Harness.start({ listen: { host: '127.0.0.1', port: 0 }, tokenFile });
  try {
    assert.ok(h.api.port && h.api.port > 0);
    const tcp: Target = { host: '127.0.0.1', port: h.api.port };
    const get = async (headers: Record<string, string>) => {
      const r = await send(tcp, 'GET', '/v1/host', { headers });
      h.contract.checkResponse('GET', '/v1/host', r);
      return r;
    };
    for (const headers of [{}, { Authorization: 'Bearer wrong-token-wrong-token-wrong' }, { Authorization: `Bearer ${token}x` },
      { Authorization: `Basic ${token}` }] as Record<string, string>[]) {
      const r = await get(headers);
      assert.equal(r.status, 401, JSON.stringify(headers));
      assert.equal((r.json as { error: { code: string } }).error.code, 'unauthorized');
      assert.equal(r.headers['www-authenticate'], 'Bearer');
    }
    assert.equal((await get({ Authorization: `Bearer ${token}` })).status, 200);
    assert.equal((await send(tcp, 'GET', '/nowhere')).status, 401, 'no route is told to a client without the token');
    assert.equal((await h.call('GET', '/v1/host')).status, 200, 'the Unix socket takes no token');

    await h.create('tcp-vm');
    await h.call('POST', '/v1/vms/tcp-vm/actions', { json: { type: 'start' } });
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${h.api.port}/v1/vms/tcp-vm/console`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('a console opened without the token')));
      ws.on('error', () => {});
    });
    assert.equal(status, 401, 'the console over TCP needs the token too');
    const ws = new WebSocket(`ws://127.0.0.1:${h.api.port}/v1/vms/tcp-vm/console`, { headers: { Authorization: `Bearer ${token}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.close();
  } finally {
    await h.stop();
  }
});
