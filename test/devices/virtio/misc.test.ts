// virtio-rng, virtio-console and virtio-9p: each device's requests end to end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RNG_MAX_REQUEST, VirtioRng } from '../../../src/devices/virtio/rng.js';
import { CONSOLE_INPUT_CAPACITY, VirtioConsole } from '../../../src/devices/virtio/console.js';
import { Virtio9p } from '../../../src/devices/virtio/9p.js';
import { le, TestDriver } from './driver.js';
import { EchoServer } from './fakes.js';

test('rng: buffers come back filled, in chunks the host generator accepts', () => {
  const calls: number[] = [];
  const d = new TestDriver(new VirtioRng((b) => {
    calls.push(b.length);
    if (b.length > 65536) throw new Error('QuotaExceededError');
    b.fill(0x5a);
  }), 4 << 20);
  d.init();
  const q = d.queues[0];
  const small = q.post({ in: [16, 16] });
  const big = q.post({ in: [100_000] });
  const huge = q.post({ in: [RNG_MAX_REQUEST + 4096] });
  q.notify();
  assert.deepEqual(q.takeUsed(), [
    { id: small.head, len: 32 },
    { id: big.head, len: 100_000 },
    { id: huge.head, len: RNG_MAX_REQUEST },
  ]);
  assert.ok(d.read(small.inAddrs[1], 16).every((b) => b === 0x5a));
  assert.ok(d.read(big.inAddrs[0], 100_000).every((b) => b === 0x5a));
  assert.ok(calls.every((n) => n <= 65536));
  assert.equal(d.r(0x008), 4);
  assert.equal(d.status & 0x40, 0);
});

test('console: guest output reaches the sink', () => {
  const out: number[] = [];
  const d = new TestDriver(new VirtioConsole((b) => out.push(...b)));
  d.init();
  assert.equal(d.r(0x008), 3);
  assert.equal(d.deviceFeatures() & 0xffn, 0n, 'no SIZE, no MULTIPORT');
  const tx = d.queues[1];
  const enc = new TextEncoder();
  const p = tx.post({ out: [enc.encode('hello, '), enc.encode('world\n')] });
  tx.notify();
  assert.deepEqual(tx.takeUsed(), [{ id: p.head, len: 0 }]);
  assert.equal(new TextDecoder().decode(Uint8Array.from(out)), 'hello, world\n');
});

test('console: input waits for receive buffers, then fills them in order', () => {
  const con = new VirtioConsole(() => {});
  const d = new TestDriver(con);
  d.init();
  const rx = d.queues[0];
  assert.equal(con.input(new TextEncoder().encode('ls -l\n')), 6);
  assert.deepEqual(rx.takeUsed(), []);
  const a = rx.post({ in: [4] });
  const b = rx.post({ in: [64] });
  rx.notify();
  assert.deepEqual(rx.takeUsed(), [{ id: a.head, len: 4 }, { id: b.head, len: 2 }]);
  assert.equal(new TextDecoder().decode(d.read(a.inAddrs[0], 4)) + new TextDecoder().decode(d.read(b.inAddrs[0], 2)), 'ls -l\n');
  assert.equal(d.line.level, true);
  d.ack();
  const c = rx.post({ in: [64] });
  rx.notify();
  con.input(Uint8Array.of(0x03));
  assert.deepEqual(rx.takeUsed(), [{ id: c.head, len: 1 }], 'input with a buffer waiting goes straight in');
  assert.equal(d.line.level, true);
  assert.equal(con.input(new Uint8Array(CONSOLE_INPUT_CAPACITY + 10)), CONSOLE_INPUT_CAPACITY, 'bounded');
});

test('9p: the readable part is one request, the reply is scattered into the writable part', () => {
  const server = new EchoServer();
  const d = new TestDriver(new Virtio9p(server));
  d.init();
  const q = d.queues[0];
  const msg = le([[19, 4], [100, 1], [1, 2], [8192, 4], [6, 2], [0x30303950, 4], [0x4c2e, 2]]); // Tversion
  const p = q.post({ out: [msg.subarray(0, 7), msg.subarray(7)], in: [5, 100] });
  q.notify();
  assert.deepEqual(server.requests, [msg]);
  assert.deepEqual(server.rooms, [105]);
  assert.deepEqual(q.takeUsed(), [{ id: p.head, len: 19 }]);
  const reply = Uint8Array.from([...d.read(p.inAddrs[0], 5), ...d.read(p.inAddrs[1], 14)]);
  assert.equal(reply[4], 101, 'Rversion');
  assert.deepEqual(reply.subarray(5), msg.subarray(5));
});

test('9p: a reply larger than the room given is truncated to it', () => {
  const server = new EchoServer();
  server.replySize = 500;
  const d = new TestDriver(new Virtio9p(server));
  d.init();
  const q = d.queues[0];
  const p = q.post({ out: [le([[7, 4], [100, 1], [1, 2]])], in: [64] });
  const guard = d.alloc(new Uint8Array(16).fill(0xcc));
  q.notify();
  assert.deepEqual(q.takeUsed(), [{ id: p.head, len: 64 }]);
  assert.ok(d.read(guard, 16).every((b) => b === 0xcc), 'nothing written past the buffer');
  assert.equal(d.status & 0x40, 0);
});
