// A local disk copied along with its VM (QMP migrate's blk): the disk's dirty log marks
// what each write, discard and zeroing touches; DISK frames carry blocks (zero blocks
// compactly) and a malformed one is refused before anything is written; over the engine,
// a disk written while the rounds run arrives whole, and a destination without a disk of
// that size refuses at HELLO with the source untouched.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestMemory } from '../../src/cpu/memory.js';
import { socketChannel } from '../../src/host/migration/socket-channel.js';
import { socketPair } from './socket-pair.js';
import { applyDiskFrame, diskFrames, LoggedDisk, MIRROR_BLOCK } from '../../src/vmm/migration/disk-mirror.js';
import { migrateIn, migrateOut, type MigrationDestination, type MigrationSource } from '../../src/vmm/migration/engine.js';
import { MigrationError } from '../../src/vmm/migration/stream.js';
import { MemDisk } from '../devices/virtio/fakes.js';

const BASE = 0x80000000;
const SECTORS = (1 << 20) / 512 + 3; // a last block shorter than the others

test('the dirty log marks every block a write, discard or zeroing touches, once taken', () => {
  const d = new LoggedDisk(new MemDisk(SECTORS));
  d.write(MIRROR_BLOCK - 1, Uint8Array.of(1, 2));
  d.discard(5 * MIRROR_BLOCK, 512);
  d.writeZeroes(d.size - 512, 512, false);
  assert.deepEqual(d.takeDirty(), [0, 1, 5, 16]);
  assert.deepEqual(d.takeDirty(), []);
  assert.throws(() => d.write(d.size, Uint8Array.of(1)), RangeError);
  assert.equal(d.dirtyCount(), 0, 'a refused write marks nothing');
});

test('DISK frames carry data and zero blocks to the disk they name; malformed ones change nothing', () => {
  const from = new MemDisk(SECTORS);
  from.writeZeroes(2 * MIRROR_BLOCK, MIRROR_BLOCK, false);
  const to = new MemDisk(SECTORS);
  to.data.fill(0xee);
  const frames = [...diskFrames(3, from, Array.from({ length: 17 }, (_, b) => b))];
  assert.ok(frames[0].length < 17 * MIRROR_BLOCK, 'the zero block went as its number');
  for (const f of frames) applyDiskFrame(f, new Map([[3, to]]));
  assert.deepEqual(to.data, from.data);
  const other = new MemDisk(SECTORS);
  const before = other.data.slice();
  const bad = (payload: Uint8Array, why: RegExp) => assert.throws(() => applyDiskFrame(payload, new Map([[3, other]])), (e: unknown) => e instanceof MigrationError && why.test(e.message));
  bad(frames[0].subarray(0, frames[0].length - 1), /runs past the frame/);
  const wrongDisk = frames[0].slice();
  new DataView(wrongDisk.buffer).setUint32(0, 9, true);
  bad(wrongDisk, /disk 9 is not mirrored here/);
  const far = frames[0].slice();
  new DataView(far.buffer).setUint32(12, 1000, true);
  bad(far, /block 1000 is beyond the disk/);
  assert.deepEqual(other.data, before, 'a refused frame writes nothing');
});


function ends(disk: LoggedDisk, target: MemDisk) {
  let paused = false;
  const memory = new GuestMemory(BASE, 4 << 20);
  const src: MigrationSource & { paused: boolean } = {
    memory, get paused() { return paused; }, config: () => ({ memory: memory.size }),
    pause: () => { paused = true; }, resume: () => { paused = false; }, throttle: () => {},
    saveState: () => new Map<string, unknown>([['cpu', { pc: 1 }]]), mirror: [{ index: 0, disk }],
  };
  const dst: MigrationDestination = {
    memory: new GuestMemory(BASE, 4 << 20), check: () => undefined, start: async () => {}, run: () => {},
    mirrorTargets: () => new Map([[0, target]]),
  };
  return { src, dst };
}

test('a disk written during the rounds arrives whole at the destination\'s disk', async () => {
  const disk = new LoggedDisk(new MemDisk(SECTORS));
  const target = new MemDisk(SECTORS);
  target.data.fill(0);
  const { src, dst } = ends(disk, target);
  const [a, b] = await socketPair();
  const incoming = migrateIn(dst, socketChannel(b, true));
  let n = 0;
  const stats = await migrateOut(src, socketChannel(a, false), {
    // The guest writes the disk after each round, until the pause.
    onStats: (s) => { if (s.status === 'active' && !src.paused) disk.write((n++ * 3 % 16) * MIRROR_BLOCK + 7, new Uint8Array(600).fill(n)); },
  });
  assert.equal(await incoming, 'migrated');
  assert.equal(stats.status, 'completed');
  assert.ok(n > 0);
  assert.deepEqual(target.data, (disk.inner as MemDisk).data);
  assert.ok(target.flushes > 0, 'the copy was flushed before the guest ran there');
});

test('a destination without a disk of that size refuses at HELLO; the source never paused', async () => {
  const disk = new LoggedDisk(new MemDisk(SECTORS));
  const { src, dst } = ends(disk, new MemDisk(SECTORS - 1));
  const [a, b] = await socketPair();
  const incoming = assert.rejects(migrateIn(dst, socketChannel(b, true)), /bytes, this one/);
  await assert.rejects(migrateOut(src, socketChannel(a, false)), /the destination refused: the source's disk 0 has \d+ bytes, this one \d+/);
  await incoming;
  assert.equal(src.paused, false);
});

test('random mutations of DISK frames either apply within the disk or are refused with a MigrationError', () => {
  const from = new MemDisk(SECTORS);
  const frames = [...diskFrames(0, from, [0, 3, 16])];
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const f = frames[0].slice(0, rand(4) === 0 ? rand(frames[0].length) : frames[0].length);
    for (let k = 0; k < 1 + rand(4); k++) if (f.length) f[rand(Math.min(f.length, 64))] = rand(256);
    const to = new MemDisk(SECTORS);
    try {
      applyDiskFrame(f, new Map([[0, to]]));
    } catch (e) {
      assert.ok(e instanceof MigrationError, `${(e as Error).name}: ${(e as Error).message}`);
      refused++;
    }
  }
  assert.ok(refused > 100, `${refused} of 2000 refused`);
});
