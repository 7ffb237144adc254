// NBD with Debian's own tools on both sides: `rvisor nbd serve` read and written by
// qemu-img and qemu-io, NbdBackend (the VMM's disk) against qemu-nbd, a server that
// keeps serving its other clients while one sends garbage, and a client that comes back
// after its server restarts.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NbdBackend } from '../../src/host/nbd/backend.js';
import { NbdConnection } from '../../src/host/nbd/connection.js';
import { NbdServer } from '../../src/host/nbd/server.js';
import { CMD_READ, CMD_WRITE } from '../../src/storage/nbd/protocol.js';
import { openDisk } from '../../src/storage/index.js';
import { CLI, freePort } from '../boot/support.js';
import { serveNbd, spawnNbd, stopNbd } from './nbd-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-nbd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const path = (n: string) => join(dir, n);
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('rvisor nbd serve: qemu-io reads what qemu-io wrote into the qcow2, writes through it, and qemu-img converts the export', async () => {
  run('qemu-img', ['create', '-q', '-f', 'qcow2', path('a.qcow2'), '64M']);
  run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 1M 3M', path('a.qcow2')]);
  const port = await freePort();
  const server = await serveNbd(process.execPath, [CLI, 'nbd', 'serve', path('a.qcow2'), '--export', 'vm-disk', '--port', String(port)], { port });
  const uri = `nbd://127.0.0.1:${port}/vm-disk`;
  assert.match(run('qemu-img', ['info', uri]), /virtual size: 64 MiB/);
  const io = run('qemu-io', ['-f', 'raw',
    '-c', 'read -P 0xab 1M 3M', '-c', 'read -P 0 0 1M',
    '-c', 'write -P 0xcd 10M 5M', '-c', 'write -z 11M 64k', '-c', 'discard 12M 1M', '-c', 'flush', uri]);
  assert.doesNotMatch(io, /fail|error/i, io);
  // The default export ('') is the one export.
  run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', `nbd://127.0.0.1:${port}`, path('out.raw')]);
  // An export the server does not have: qemu's own message.
  assert.throws(() => run('qemu-img', ['info', `nbd://127.0.0.1:${port}/nope`]), /export not available/);
  assert.equal(await stopNbd(server), 0);
  run('qemu-img', ['check', '-q', path('a.qcow2')]);
  const expected = Buffer.alloc(64 << 20);
  expected.fill(0xab, 1 << 20, 4 << 20);
  expected.fill(0xcd, 10 << 20, 15 << 20);
  expected.fill(0, 11 << 20, (11 << 20) + (64 << 10));
  expected.fill(0, 12 << 20, 13 << 20);
  const out = readFileSync(path('out.raw'));
  // The discarded MiB reads as zeroes or as what it held: the protocol leaves it open.
  out.fill(0, 12 << 20, 13 << 20);
  assert.ok(out.equals(expected), 'the converted export is the image');
  run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', path('a.qcow2'), path('back.raw')]);
  const back = readFileSync(path('back.raw'));
  back.fill(0, 12 << 20, 13 << 20);
  assert.ok(back.equals(expected), 'the qcow2 holds what was written over NBD');
});

test('NbdBackend on qemu-nbd: reads, large split writes, zeroes, flush; errors name the export', async () => {
  run('qemu-img', ['create', '-q', '-f', 'qcow2', path('b.qcow2'), '32M']);
  run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 1M', path('b.qcow2')]);
  const port = await freePort();
  const server = await serveNbd('qemu-nbd', ['-f', 'qcow2', '-x', 'disk', '-b', '127.0.0.1', '-p', String(port), '-t', path('b.qcow2')], { port });
  const b = new NbdBackend({ transport: 'tcp', host: '127.0.0.1', port, export: 'disk' });
  assert.equal(b.size, 32 << 20);
  assert.equal(b.serial, 'disk');
  const head = new Uint8Array(1 << 20);
  b.read(0, head);
  assert.ok(head.every((x) => x === 0x11));
  const big = new Uint8Array(9 << 20).map((_, i) => (i * 31) >> 3);
  b.write(20 << 20, big);
  b.writeZeroes(21 << 20, 4096, true);
  b.flush();
  const back = new Uint8Array(big.length);
  b.read(20 << 20, back);
  big.fill(0, 1 << 20, (1 << 20) + 4096);
  assert.deepEqual(back, big);
  assert.throws(() => b.read(32 << 20, new Uint8Array(1)), /nbd:\/\/127\.0\.0\.1:\d+\/disk: 1 bytes at 33554432 are beyond/);
  b.close();
  assert.throws(() => new NbdBackend({ transport: 'tcp', host: '127.0.0.1', port, export: 'nope' }), /has no export 'nope'/);
  await stopNbd(server);
  run('qemu-img', ['check', '-q', path('b.qcow2')]);
  assert.throws(() => new NbdBackend({ transport: 'tcp', host: '127.0.0.1', port, export: 'disk' }), /ECONNREFUSED/);
  // A read-only export opened writable is refused up front.
  const ro = await serveNbd('qemu-nbd', ['-f', 'qcow2', '-x', 'disk', '-r', '-b', '127.0.0.1', '-p', String(port), '-t', path('b.qcow2')], { port });
  assert.throws(() => new NbdBackend({ transport: 'tcp', host: '127.0.0.1', port, export: 'disk' }), /read-only \(open it with ro\)/);
  const rob = new NbdBackend({ transport: 'tcp', host: '127.0.0.1', port, export: 'disk' }, { readOnly: true });
  rob.read(0, head);
  rob.close();
  await stopNbd(ro);
});

test('a server facing a hostile client keeps serving the others; a client outlives its server restarting', async () => {
  run('qemu-img', ['create', '-q', '-f', 'raw', path('c.raw'), '4M']);
  const socket = path('nbd.sock');
  const backend = openDisk({ file: path('c.raw'), format: 'raw' });
  const server = new NbdServer({ exports: [{ name: 'c', backend, readOnly: false }] });
  await server.listen({ socket });
  const address = { transport: 'unix' as const, socket, export: 'c' };
  const good = await NbdConnection.open(address);
  await good.request({ type: CMD_WRITE, flags: 0, offset: 0, length: 4 }, Uint8Array.of(1, 2, 3, 4));
  // Garbage before the handshake, garbage after it, and a request with an absurd length.
  for (const junk of [Buffer.alloc(4096, 0xff), Buffer.from('GET / HTTP/1.1\r\n\r\n')]) {
    await new Promise<void>((resolve) => {
      const s = connect(socket, () => s.write(junk));
      s.on('close', () => resolve());
      s.on('error', () => {});
      setTimeout(() => s.destroy(), 300);
    });
  }
  const bad = await NbdConnection.open(address);
  await assert.rejects(bad.request({ type: CMD_READ, flags: 0, offset: 2 ** 50, length: 2 ** 31 }), /EINVAL/);
  const r = await good.request({ type: CMD_READ, flags: 0, offset: 0, length: 4 });
  assert.deepEqual([...r], [1, 2, 3, 4]);
  good.close();
  bad.close();

  await server.close();
  backend.close();

  // The VMM's backend rides out a server restart: the request in flight is sent again.
  // (The server is another process: this thread blocks in the backend's read.)
  const args = [CLI, 'nbd', 'serve', path('c.raw'), '-f', 'raw', '--export', 'c', '--socket', socket];
  let child = await serveNbd(process.execPath, args, { socket });
  const b = new NbdBackend(address, { reconnectMs: 10_000 });
  assert.equal(await stopNbd(child), 0);
  child = spawnNbd(process.execPath, args);
  const four = new Uint8Array(4);
  b.read(0, four);
  assert.deepEqual([...four], [1, 2, 3, 4]);
  b.close();
  assert.equal(await stopNbd(child), 0);
});
