// The QMP input splitter and the monitors' address syntax.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonSplitter } from '../../src/vmm/qmp/json-stream.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressError, listen, parseGdbAddress, parseListenAddress } from '../../src/vmm/address.js';

const enc = (s: string) => new TextEncoder().encode(s);
const texts = (chunks: ReturnType<JsonSplitter['push']>) => chunks.map((c) => (c.ok ? c.text : `ERR ${c.error}`));

test('values split across pushes and merged in one push come out whole, in order', () => {
  const s = new JsonSplitter();
  const input = '{"execute":"a","arguments":{"x":"}{\\"\\\\"}}{"execute":"b"}\r\n[1,[2]] "str{" 42 true\n';
  // Byte by byte: every split point.
  const got: string[] = [];
  for (const b of enc(input)) got.push(...texts(s.push(Uint8Array.of(b))));
  got.push(...texts(s.flush()));
  const expected = ['{"execute":"a","arguments":{"x":"}{\\"\\\\"}}', '{"execute":"b"}', '[1,[2]]', '"str{"', '42', 'true'];
  assert.deepEqual(got, expected);
  // All at once.
  const s2 = new JsonSplitter();
  assert.deepEqual([...texts(s2.push(enc(input))), ...texts(s2.flush())], expected);
  for (const t of expected) JSON.parse(t);
});

test('multi-byte UTF-8 split between pushes is reassembled', () => {
  const s = new JsonSplitter();
  const bytes = enc('{"k":"é€"}');
  const cut = 7; // inside the two-byte é
  assert.deepEqual(s.push(bytes.subarray(0, cut)), []);
  assert.deepEqual(texts(s.push(bytes.subarray(cut))), ['{"k":"é€"}']);
});

test('a stray closing brace is an error and the stream carries on', () => {
  const s = new JsonSplitter();
  assert.deepEqual(texts(s.push(enc('} {"a":1}'))), ["ERR JSON parse error, unexpected '}'", '{"a":1}']);
});

test('an oversized value is reported once, skipped, and the next value parses', () => {
  const s = new JsonSplitter(64);
  const big = `{"execute":"x","arguments":{"pad":"${'y'.repeat(200)}","o":{"p":[1,2]}}}`;
  const out = texts(s.push(enc(big + '{"execute":"ok"}')));
  assert.equal(out.length, 2);
  assert.match(out[0], /^ERR JSON parse error, input exceeds 64 bytes/);
  assert.equal(out[1], '{"execute":"ok"}');
});

test("nesting deeper than QEMU's 1024 levels is reported once and skipped; 1024 is fine", () => {
  const s = new JsonSplitter();
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  assert.deepEqual(texts(s.push(enc(deep(1024)))), [deep(1024)]);
  // Strings do not count, and a bracket inside one opens nothing.
  assert.deepEqual(texts(s.push(enc(`["${'['.repeat(2000)}"]`))), [`["${'['.repeat(2000)}"]`]);
  assert.deepEqual(texts(s.push(enc(`${deep(200000)}{"execute":"b"}`))), ['ERR JSON nesting depth limit exceeded', '{"execute":"b"}']);
});

test('QEMU address syntax for --qmp and --gdb', () => {
  assert.deepEqual(parseListenAddress('unix:/tmp/q.sock,server=on,wait=off'), { kind: 'unix', path: '/tmp/q.sock' });
  assert.deepEqual(parseListenAddress('tcp:0.0.0.0:4444'), { kind: 'tcp', host: '0.0.0.0', port: 4444 });
  assert.deepEqual(parseListenAddress('tcp::4444'), { kind: 'tcp', host: '127.0.0.1', port: 4444 });
  assert.deepEqual(parseListenAddress('tcp:[::1]:4444'), { kind: 'tcp', host: '::1', port: 4444 });
  assert.deepEqual(parseGdbAddress('tcp::1234'), { kind: 'tcp', host: '127.0.0.1', port: 1234 });
  assert.deepEqual(parseGdbAddress(':1234'), { kind: 'tcp', host: '127.0.0.1', port: 1234 });
  assert.deepEqual(parseGdbAddress('1234'), { kind: 'tcp', host: '127.0.0.1', port: 1234 });
  assert.throws(() => parseListenAddress('tcp::99999'), AddressError);
  assert.throws(() => parseListenAddress('tcp::http'), AddressError);
  assert.throws(() => parseListenAddress('unix:'), AddressError);
  assert.throws(() => parseListenAddress('stdio'), /use unix:PATH or tcp/);
});

test('listen on unix: a stale socket is replaced, a regular file is not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-addr-'));
  try {
    const path = join(dir, 'stale.sock');
    // A process that dies while listening leaves its socket file behind.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    const s = createServer();
    await listen(s, { kind: 'unix', path });
    await new Promise((r) => s.close(r));
    const file = join(dir, 'file');
    writeFileSync(file, 'keep');
    await assert.rejects(listen(createServer(), { kind: 'unix', path: file }), /EADDRINUSE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
