// The socket wire between NICs (QEMU's stream network protocol): frames both ways over TCP
// and Unix sockets, one peer at a time, hostile peers hung up on, clear errors.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseStreamAddress, StreamLink } from '../../src/host/net/stream-link.js';
import { encodeStreamFrame, StreamFrameDecoder, StreamFramingError } from '../../src/net/switch/index.js';
import { freePort, sleep, until } from '../boot/support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-stream-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sink(link: StreamLink): Uint8Array[] {
  const got: Uint8Array[] = [];
  link.connect({ deliver: (f) => got.push(f) });
  return got;
}

const frameOf = (n: number, size = 60) => new Uint8Array(size).fill(n);

test('the decoder takes a stream cut anywhere, and refuses lengths no peer sends', () => {
  const frames = [frameOf(1, 60), frameOf(2, 1514), frameOf(3, 14)];
  const stream = Buffer.concat(frames.map(encodeStreamFrame));
  const d = new StreamFrameDecoder();
  const out: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i += 7) out.push(...d.push(stream.subarray(i, i + 7)));
  assert.deepEqual(out, frames);
  assert.equal(d.buffered, 0);
  assert.throws(() => new StreamFrameDecoder().push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1)), StreamFramingError);
  assert.throws(() => new StreamFrameDecoder().push(Uint8Array.of(0, 0, 0, 0)), /a frame of 0 bytes/);
});

test('addresses: HOST:PORT, [v6]:PORT, :PORT is loopback, unix:PATH; junk is null', () => {
  assert.deepEqual(parseStreamAddress('10.1.2.3:99'), { host: '10.1.2.3', port: 99 });
  assert.deepEqual(parseStreamAddress(':5000'), { host: '127.0.0.1', port: 5000 });
  assert.deepEqual(parseStreamAddress('[::1]:5000'), { host: '::1', port: 5000 });
  assert.deepEqual(parseStreamAddress('unix:/tmp/x'), { path: '/tmp/x' });
  for (const bad of ['5000', 'host:0', 'host:70000', 'unix:', 'a:b']) assert.equal(parseStreamAddress(bad), null, bad);
});

for (const kind of ['tcp', 'unix'] as const) {
  test(`frames cross a ${kind} wire both ways, in order`, async () => {
    const address = kind === 'tcp' ? { host: '127.0.0.1', port: await freePort() } : { path: join(dir, 'wire.sock') };
    const server = await StreamLink.listen(address);
    const client = await StreamLink.connect(address);
    after(() => { server.close(); client.close(); });
    const atServer = sink(server), atClient = sink(client);
    await until('the server sees its peer', () => server.connected, 5000);
    for (let i = 0; i < 200; i++) client.deliver(frameOf(i & 0xff, 60 + i));
    server.deliver(frameOf(9, 1514));
    await until('all frames across', () => atServer.length === 200 && atClient.length === 1, 5000);
    assert.ok(atServer.every((f, i) => f.length === 60 + i && f[0] === (i & 0xff)));
    assert.equal(atClient[0].length, 1514);
  });
}

test('a listening wire takes one peer at a time, hangs up on a peer that breaks the framing, then takes the next', async () => {
  const port = await freePort();
  const warnings: string[] = [];
  const server = await StreamLink.listen({ host: '127.0.0.1', port }, (m) => warnings.push(m));
  after(() => server.close());
  const got = sink(server);
  const open = () => new Promise<Socket>((resolve) => { const s = connect(port, '127.0.0.1', () => resolve(s)); s.on('error', () => {}); });
  const closed = (s: Socket) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
  const first = await open();
  first.write(encodeStreamFrame(frameOf(1)));
  await until('the first frame', () => got.length === 1, 5000);
  const second = await open();
  await closed(second); // refused while the first is connected
  first.write(Uint8Array.of(0x7f, 0xff, 0xff, 0xff, 0, 0));
  await closed(first);
  assert.equal(server.stats.badPeers, 1);
  assert.match(warnings.join('\n'), /sent a frame of 2147483647 bytes .*: hung up on it/);
  await until('the first peer gone', () => !server.connected, 5000);
  const third = await open();
  third.write(encodeStreamFrame(frameOf(3)));
  await until('the third peer\'s frame', () => got.length === 2, 5000);
  assert.equal(got[1][0], 3);
  third.destroy();
  // With nobody connected, frames are dropped, not queued without bound.
  await until('the third peer gone', () => !server.connected, 5000);
  for (let i = 0; i < 10; i++) server.deliver(frameOf(4));
  assert.equal(server.stats.txDropped, 10);
});

test('a peer that never reads cannot make the wire hold more than about a MiB', async () => {
  const port = await freePort();
  const server = await StreamLink.listen({ host: '127.0.0.1', port });
  after(() => server.close());
  const lazy = await new Promise<Socket>((resolve) => { const s = connect(port, '127.0.0.1', () => resolve(s)); });
  lazy.pause();
  after(() => lazy.destroy());
  await until('connected', () => server.connected, 5000);
  for (let round = 0; round < 20 && server.stats.txDropped === 0; round++) {
    for (let i = 0; i < 2000; i++) server.deliver(frameOf(5, 1514));
    await sleep(20);
  }
  assert.ok(server.stats.txDropped > 0, 'frames beyond the bound were dropped');
});

test('errors say what went wrong: nobody listening, an address in use', async () => {
  const port = await freePort();
  await assert.rejects(StreamLink.connect({ host: '127.0.0.1', port }), new RegExp(`cannot connect to 127.0.0.1:${port}: nobody listens there`));
  const server = await StreamLink.listen({ host: '127.0.0.1', port });
  after(() => server.close());
  await assert.rejects(StreamLink.listen({ host: '127.0.0.1', port }), /cannot listen on .*: the address is already in use/);
});
