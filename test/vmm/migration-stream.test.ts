// The migration stream's frames: round trips, and every kind of bad stream the
// destination must refuse with a MigrationError (never another exception): garbage, a
// newer major version, a corrupt byte anywhere, an oversized section, a cut stream,
// pages beyond the guest's memory; and random mutations of a valid stream.

import assert from 'node:assert/strict';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { test } from 'node:test';
import {
  crc32, decodeJson, decodeRam, encodeFrame, encodeJsonFrame, encodePreamble, encodeRam, FrameDecoder, FrameType,
  MAX_FRAME_PAYLOAD, MigrationError,
} from '../../src/vmm/migration/stream.js';

const concat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

function sample(): Uint8Array {
  const page = (fill: number) => new Uint8Array(4096).fill(fill);
  return concat([
    encodePreamble(),
    ...encodeJsonFrame(FrameType.Hello, { memory: 1 << 20, harts: 1 }),
    ...encodeFrame(FrameType.Ram, encodeRam(4096, [{ page: 0 }, { page: 3, bytes: page(7) }, { page: 255 }])),
    ...encodeFrame(FrameType.State, Uint8Array.of(1, 2, 3)),
    ...encodeFrame(FrameType.End, new Uint8Array(0)),
  ]);
}

test('CRC-32 is zlib\'s', () => {
  const b = new TextEncoder().encode('The quick brown fox jumps over the lazy dog');
  assert.equal(crc32(b), 0x414fa339);
  if (typeof zlibCrc32 === 'function') assert.equal(crc32(b), zlibCrc32(b));
  assert.equal(crc32(b.subarray(10), crc32(b.subarray(0, 10))), 0x414fa339, 'incremental');
});

test('frames round-trip whatever the chunking; zero pages cost five bytes', () => {
  const bytes = sample();
  for (const chunk of [1, 7, 100, bytes.length]) {
    const d = new FrameDecoder();
    const frames = [];
    for (let at = 0; at < bytes.length; at += chunk) frames.push(...d.push(bytes.slice(at, at + chunk)));
    assert.deepEqual(frames.map((f) => f.type), [FrameType.Hello, FrameType.Ram, FrameType.State, FrameType.End]);
    assert.equal(d.pending, 0);
    assert.deepEqual(decodeJson(frames[0], 'HELLO'), { memory: 1 << 20, harts: 1 });
    const pages = decodeRam(frames[1].payload, 4096, 256);
    assert.deepEqual(pages.map((p) => [p.page, p.bytes?.[0]]), [[0, undefined], [3, 7], [255, undefined]]);
    assert.equal(frames[1].payload.length, 8 + 5 + (5 + 4096) + 5);
  }
});

test('bad streams are refused with a MigrationError that says why', () => {
  const refuse = (bytes: Uint8Array, why: RegExp) => assert.throws(() => new FrameDecoder().push(bytes), (e: unknown) => e instanceof MigrationError && why.test(e.message));
  refuse(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /bad magic/);
  refuse(encodePreamble({ major: 2, minor: 0 }), /format 2\.0 is not supported/);
  const big = new Uint8Array(8);
  big[0] = FrameType.Ram;
  new DataView(big.buffer).setUint32(4, MAX_FRAME_PAYLOAD + 1, true);
  refuse(concat([encodePreamble(), big]), /oversized section/);
  refuse(concat([encodePreamble(), ...encodeFrame(42 as FrameType, new Uint8Array(1))]), /unknown type 42/);
  // A newer minor's unknown frame is skipped.
  const newer = new FrameDecoder().push(concat([encodePreamble({ major: 1, minor: 9 }), ...encodeFrame(42 as FrameType, new Uint8Array(1)), ...encodeFrame(FrameType.End, new Uint8Array(0))]));
  assert.deepEqual(newer.map((f) => f.type), [FrameType.End]);
  // One flipped bit anywhere after the preamble fails the CRC (or a header check).
  const good = sample();
  for (let at = 16; at < good.length; at += 97) {
    const bad = good.slice();
    bad[at] ^= 0x10;
    assert.throws(() => new FrameDecoder().push(bad), MigrationError, `byte ${at}`);
  }
  // A cut stream is left pending, never taken for whole frames.
  const d = new FrameDecoder();
  const frames = d.push(good.subarray(0, good.length - 3));
  assert.equal(frames.at(-1)?.type, FrameType.State);
  assert.ok(d.pending > 0);
  // After a failure the decoder takes nothing more.
  const failed = new FrameDecoder();
  assert.throws(() => failed.push(new Uint8Array(16)));
  assert.throws(() => failed.push(good), /already failed/);
});

test('RAM frames naming pages beyond the guest, or lying about their length, are refused', () => {
  const ram = encodeRam(4096, [{ page: 300, bytes: new Uint8Array(4096).fill(1) }]);
  assert.throws(() => decodeRam(ram, 4096, 256), /page 300 is beyond the guest's 256 pages/);
  assert.throws(() => decodeRam(ram, 65536, 256), /page size 4096, not 65536/);
  assert.throws(() => decodeRam(ram.subarray(0, 100), 4096, 1024), /runs past the frame/);
  const lying = ram.slice();
  new DataView(lying.buffer).setUint32(4, 1 << 30, true);
  assert.throws(() => decodeRam(lying, 4096, 1024), /cannot fit/);
  const kind = ram.slice();
  kind[12] = 9;
  assert.throws(() => decodeRam(kind, 4096, 1024), /unknown kind 9/);
});

test('random mutations of a valid stream only ever raise MigrationError', () => {
  let seed = Number(process.env.RVISOR_FUZZ_SEED ?? 777);
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  const good = sample();
  for (let round = 0; round < 500; round++) {
    const b = good.slice(0, Math.floor(rand() * good.length) + 1);
    for (let k = Math.floor(rand() * 4); k >= 0; k--) b[Math.floor(rand() * b.length)] = rand() * 256;
    try {
      for (const f of new FrameDecoder().push(b)) if (f.type === FrameType.Ram) decodeRam(f.payload, 4096, 256);
    } catch (e) {
      assert.ok(e instanceof MigrationError, String(e));
    }
  }
});
