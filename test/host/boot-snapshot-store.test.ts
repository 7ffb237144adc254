// The boot-snapshot store beside an image: keys follow every input, a snapshot reads back
// as written, a damaged one is removed with its reason told (so the run remakes it), and
// only the newest few are kept.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BootSnapshots, keyOf, rvisorBuild, type BootSnapshotKey } from '../../src/host/image/boot-snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-bootsnap-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY: BootSnapshotKey = {
  build: 'b1', image: { name: 'debian', kernel: 'k', initrd: 'i', layout: 5 }, memory: 512 << 20, harts: 1, exec: 'jit',
  append: 'console=ttyS0', nics: [{ mac: 'default' }], shares: [], disks: [],
};
const state = (n: number) => new Map<string, unknown>([['hart0', { pc: n, regs: new Uint8Array([n, 2, 3]) }]]);

test('the key changes with every input and not otherwise; the build is stable within a process', () => {
  assert.equal(keyOf(KEY), keyOf(structuredClone(KEY)));
  const variants: Partial<BootSnapshotKey>[] = [{ build: 'b2' }, { memory: 256 << 20 }, { harts: 2 }, { exec: 'interp' }, { append: 'console=ttyS0 x' },
    { nics: [] }, { shares: [{ tag: 't', readOnly: false }] }, { disks: [{ readOnly: true }] }, { image: { ...KEY.image, kernel: 'k2' } }];
  const keys = new Set([keyOf(KEY), ...variants.map((v) => keyOf({ ...KEY, ...v }))]);
  assert.equal(keys.size, variants.length + 1);
  assert.match(rvisorBuild(), /^[0-9a-f]{16}$/);
  assert.equal(rvisorBuild(), rvisorBuild());
});

test('written, listed and read back; a damaged file is removed with the reason, a missing one is just missing', () => {
  const store = new BootSnapshots(join(dir, 'image-a'));
  const key = keyOf(KEY);
  const warnings: string[] = [];
  assert.equal(store.read(key, (w) => warnings.push(w)), undefined);
  store.write(key, KEY, state(7));
  assert.deepEqual(store.read(key, (w) => warnings.push(w))?.get('hart0'), { pc: 7, regs: new Uint8Array([7, 2, 3]) });
  const [info] = store.list();
  assert.equal(info.key, key);
  assert.equal(info.memory, 512 << 20);
  assert.ok(info.size > 0 && info.created !== '');
  writeFileSync(info.file, 'RVSNAP\0\0 not really');
  assert.equal(store.read(key, (w) => warnings.push(w)), undefined);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /is unusable \(.*\): booting to make it again/);
  assert.equal(existsSync(info.file), false, 'removed');
  assert.deepEqual(store.list(), []);
});

test('only the newest eight are kept; removeAll empties the store', async () => {
  const store = new BootSnapshots(join(dir, 'image-b'));
  for (let i = 0; i < 10; i++) {
    store.write(keyOf({ ...KEY, memory: (i + 1) << 20 }), { ...KEY, memory: (i + 1) << 20 }, state(i));
    await new Promise((r) => setTimeout(r, 2));
  }
  const kept = store.list().map((s) => s.memory >> 20).sort((a, b) => a - b);
  assert.deepEqual(kept, [3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(store.removeAll(), 8);
  assert.equal(existsSync(store.dir), false);
  assert.deepEqual(readdirSync(join(dir, 'image-b')), []);
});
