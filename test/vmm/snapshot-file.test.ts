// The snapshot file: round trip, and every way a file can be wrong is refused with a
// SnapshotError that says which (truncated, corrupt, wrong version, not a snapshot).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotError } from '../../src/devices/snapshot.js';
import type { MachineSnapshot } from '../../src/machine/virt-snapshot.js';
import { encodePlain } from '../../src/vmm/snapshot-codec.js';
import { encodeSnapshot, HEADER_BYTES, readSnapshot, SNAPSHOT_VERSION, writeSnapshot } from '../../src/vmm/snapshot-file.js';

function sample(): MachineSnapshot {
  const page = (fill: number) => new Uint8Array(4096).fill(fill);
  const two = new Uint8Array(8192);
  two.set(page(1));
  two.set(page(2), 4096);
  return new Map<string, unknown>([
    ['config', { board: 'virt', memSize: 65536, slots: [{ base: 0x10001000, name: '', deviceId: 0 }] }],
    ['uart0', { rx: Uint8Array.of(104, 105), ier: 1, fifoEnabled: true, nested: { blob: new Uint8Array(0), text: 'é\u0000"' } }],
    ['ram', { pageSize: 4096, pages: 16, runs: [{ page: 0, bytes: page(9) }, { page: 5, bytes: two }] }],
  ]);
}

function withDir(t: { after(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-snapfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const refused = (path: string, message: RegExp) =>
  assert.throws(() => readSnapshot(path), (e: unknown) => e instanceof SnapshotError && message.test(e.message));

test('round trip: sections, blobs and RAM runs come back equal', (t) => {
  const dir = withDir(t);
  const file = join(dir, 's.rvsnap');
  writeSnapshot(file, sample());
  const back = readSnapshot(file);
  assert.deepEqual([...back.keys()], ['config', 'uart0', 'ram']);
  assert.deepEqual(back, sample());
  assert.deepEqual(readdirSync(dir), ['s.rvsnap'], 'no temporary file is left behind');
  const bytes = readFileSync(file);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'RVSNAP\0\0');
  // RAM is binary: the file is not much larger than its pages.
  assert.ok(bytes.length < 4 * 4096 + 1024, `${bytes.length} bytes`);
});

test('a snapshot streams into any byte sink: the same bytes as the file, and they read back', (t) => {
  const dir = withDir(t);
  const chunks: Uint8Array[] = [];
  // The sink copies: RAM chunks are views of guest memory, valid only during write().
  encodeSnapshot(sample(), { write: (b) => chunks.push(Uint8Array.from(b)) });
  assert.ok(chunks.length > 4, 'streamed in pieces, not built whole');
  const streamed = Buffer.concat(chunks);
  writeSnapshot(join(dir, 'f.rvsnap'), sample());
  assert.deepEqual(streamed, readFileSync(join(dir, 'f.rvsnap')));
  writeFileSync(join(dir, 'g.rvsnap'), streamed);
  assert.deepEqual(readSnapshot(join(dir, 'g.rvsnap')), sample());
});

test('a file truncated anywhere is refused as truncated', (t) => {
  const dir = withDir(t);
  const file = join(dir, 's.rvsnap');
  writeSnapshot(file, sample());
  const bytes = readFileSync(file);
  const cut = join(dir, 'cut.rvsnap');
  for (let n = 0; n < bytes.length; n++) {
    writeFileSync(cut, bytes.subarray(0, n));
    refused(cut, /truncated/);
  }
  writeFileSync(cut, Buffer.concat([bytes, Buffer.of(0)]));
  refused(cut, /1 bytes past its end/);
});

test('any flipped byte past the header fields is a checksum error', (t) => {
  const dir = withDir(t);
  const file = join(dir, 's.rvsnap');
  writeSnapshot(file, sample());
  const bytes = readFileSync(file);
  const bad = join(dir, 'bad.rvsnap');
  for (let i = 0; i < bytes.length; i++) {
    if (i >= 8 && i < 10) continue; // the major version: next test
    if (i >= 16 && i < HEADER_BYTES) continue; // the file length: reported as such
    const copy = Buffer.from(bytes);
    copy[i] ^= 0x20;
    writeFileSync(bad, copy);
    refused(bad, i < 8 ? /bad magic/ : /checksum/);
  }
});

test('another major version is refused; a newer minor is read, unknown sections kept', (t) => {
  const dir = withDir(t);
  const file = join(dir, 's.rvsnap');
  writeSnapshot(file, sample(), { major: SNAPSHOT_VERSION.major + 1, minor: 0, patch: 0 });
  refused(file, /format 2\.0\.0 is not supported/);
  writeSnapshot(file, sample(), { major: 0, minor: 9, patch: 0 });
  refused(file, /format 0\.9\.0/);
  const newer = sample();
  newer.set('gpu', { mode: 3 });
  writeSnapshot(file, newer, { major: SNAPSHOT_VERSION.major, minor: SNAPSHOT_VERSION.minor + 1, patch: 7 });
  assert.deepEqual(readSnapshot(file).get('gpu'), { mode: 3 });
  writeSnapshot(file, sample(), { ...SNAPSHOT_VERSION, patch: 3 });
  assert.deepEqual(readSnapshot(file), sample());
});

test('other files are not snapshots', (t) => {
  const dir = withDir(t);
  const file = join(dir, 'x');
  writeFileSync(file, 'RVSNAQ\0\0' + 'x'.repeat(100));
  refused(file, /bad magic/);
  writeFileSync(file, '');
  refused(file, /truncated/);
});

test('state that is not plain data is refused when written', () => {
  assert.throws(() => encodePlain('x', { v: 1n }), /bigint/);
  assert.throws(() => encodePlain('x', { v: new Int32Array(2) }), /not a plain object/);
  assert.throws(() => encodePlain('x', { v: NaN }), SnapshotError);
  assert.throws(() => encodePlain('x', { $bytes: [0, 1] }), /reserved/);
  assert.throws(() => writeSnapshot(join(tmpdir(), 'never'), new Map([['ram', { pageSize: 4096, pages: 1, runs: [{ page: 0, bytes: new Uint8Array(5) }] }]])), /RAM image/);
});
