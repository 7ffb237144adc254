// qcow2 images as an attacker makes them: valid images (rvisor's, and qemu-img's in every
// shape it writes: v2, refcount widths, compressed clusters, internal snapshots, backing
// files) with their header, L1, L2, refcount table, refcount blocks and snapshot table
// mutated, then opened, checked, converted and written as a guest would.
//
// Checked for every input:
// - a raw disk opened without a format never lets a write make it probe as qcow2;
// - every operation succeeds or throws a DiskError (one clear line), nothing else;
// - an image that fails to open is left byte for byte as it was;
// - a write never lands on the header (only the fields rvisor maintains may change);
// - when the mutated image was still consistent (check found no corruption), every
//   guest operation succeeds, reads return what was written, and check finds no
//   corruption afterwards.

import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDisk, convertDisk, createDisk, DiskError, diskInfo, openDisk, probeFormat } from '../../../src/storage/index.js';
import type { BlockBackend } from '../../../src/devices/block.js';
import { type FuzzSession, type FuzzTarget, mutateBytes, type Rng } from '../harness.js';

/** A valid image and where its metadata lies (host offsets), to aim mutations at. */
interface Seed {
  name: string;
  bytes: Uint8Array;
  cs: number;
  l1: number;
  l1Size: number;
  refTable: number;
  refBlocks: number[];
  l2s: number[];
  data: number[];
  snapshots: number;
}

const u64 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at) * 2 ** 32 + new DataView(b.buffer, b.byteOffset).getUint32(at + 4);
const OFFSET_MASK_HI = 0x00ffffff;

function describe(name: string, bytes: Uint8Array): Seed {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const cs = 2 ** v.getUint32(20);
  const entries = (at: number, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n && at + i * 8 + 8 <= bytes.length; i++) {
      const off = (v.getUint32(at + i * 8) & OFFSET_MASK_HI) * 2 ** 32 + ((v.getUint32(at + i * 8 + 4) & 0xfffffe00) >>> 0);
      if (off !== 0 && off % cs === 0) out.push(off);
    }
    return out;
  };
  const l1 = u64(bytes, 40);
  const l1Size = v.getUint32(36);
  const refTable = u64(bytes, 48);
  const l2s = entries(l1, l1Size);
  return {
    name, bytes, cs, l1, l1Size, refTable,
    refBlocks: entries(refTable, (v.getUint32(56) * cs) / 8),
    l2s, data: l2s.flatMap((l2) => entries(l2, cs / 8)),
    snapshots: v.getUint32(60) ? u64(bytes, 64) : 0,
  };
}

function qemuImg(...args: string[]): boolean {
  const r = spawnSync('qemu-img', args, { stdio: 'ignore' });
  return r.status === 0;
}

/** Writes a recognisable pattern through rvisor's own qcow2 code. */
function fill(file: string, spots: [offset: number, length: number][]): void {
  const d = openDisk({ file, format: 'qcow2' });
  spots.forEach(([o, n], i) => d.write(o, new Uint8Array(n).fill(0x30 + i)));
  d.flush();
  d.close();
}

function makeSeeds(dir: string): Seed[] {
  const f = (n: string) => join(dir, n);
  const files: string[] = [];
  createDisk({ file: f('small.qcow2'), format: 'qcow2', size: 2 ** 20, clusterSize: 512 });
  fill(f('small.qcow2'), [[0, 4096], [70_000, 1000], [2 ** 20 - 512, 512]]);
  files.push('small.qcow2');
  createDisk({ file: f('big-cluster.qcow2'), format: 'qcow2', size: 4 * 2 ** 20 });
  fill(f('big-cluster.qcow2'), [[0, 65536], [3 * 2 ** 20, 4096]]);
  files.push('big-cluster.qcow2');
  createDisk({ file: f('base.raw'), format: 'raw', size: 2 ** 20 });
  createDisk({ file: f('overlay.qcow2'), format: 'qcow2', backing: 'base.raw', backingFormat: 'raw', clusterSize: 4096 });
  fill(f('overlay.qcow2'), [[8192, 4096]]);
  files.push('overlay.qcow2');
  // qemu-img's own shapes, when it is installed (it is in CI).
  if (spawnSync('qemu-img', ['--version'], { stdio: 'ignore' }).status === 0) {
    const shapes: [string, string[]][] = [
      ['v2.qcow2', ['-o', 'compat=0.10,cluster_size=4096']],
      ['refcount1.qcow2', ['-o', 'refcount_bits=1,cluster_size=1024']],
      ['refcount64.qcow2', ['-o', 'refcount_bits=64,cluster_size=2048']],
    ];
    for (const [name, opts] of shapes) {
      if (!qemuImg('create', '-q', '-f', 'qcow2', ...opts, f(name), '1M')) continue;
      fill(f(name), [[0, 8192], [500_000, 3000]]);
      files.push(name);
    }
    writeFileSync(f('plain.raw'), new Uint8Array(2 ** 20).map((_, i) => (i % 4096 < 2048 ? i & 0xff : 0)));
    if (qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', f('plain.raw'), f('compressed.qcow2'))) files.push('compressed.qcow2');
    if (qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', f('snap.qcow2'), '1M')) {
      fill(f('snap.qcow2'), [[0, 4096]]);
      if (qemuImg('snapshot', '-c', 'one', f('snap.qcow2'))) {
        // rvisor opens images with snapshots read-only: QEMU writes the second layer.
        const io = spawnSync('qemu-io', ['-c', 'write -P 0x41 4096 4096', f('snap.qcow2')], { stdio: 'ignore' });
        if (io.status === 0 && qemuImg('snapshot', '-c', 'two', f('snap.qcow2'))) files.push('snap.qcow2');
      }
    }
  }
  return files.map((n) => describe(n, new Uint8Array(readFileSync(f(n)))));
}

const HEADER_FIELDS: [at: number, bytes: 4 | 8][] = [
  [4, 4], [8, 8], [16, 4], [20, 4], [24, 8], [32, 4], [36, 4], [40, 8], [48, 8], [56, 4], [60, 4], [64, 8],
  [72, 8], [80, 8], [88, 8], [96, 4], [100, 4], [104, 4], [112, 4], [116, 4],
];
/** Header words rvisor itself writes: the refcount table's place, and the feature bits. */
const MAINTAINED = [[48, 60], [72, 80], [88, 96]];

/** Somewhere a table entry could point: at metadata, at data, past the end, or nowhere. */
function aim(rng: Rng, s: Seed): number {
  const all = [0, s.l1, s.refTable, ...s.refBlocks, ...s.l2s, ...s.data, s.snapshots].filter((x) => x >= 0);
  switch (rng.int(5)) {
    case 0: return 0;
    case 1: return rng.pick(all);
    case 2: return Math.ceil(s.bytes.length / s.cs) * s.cs + rng.int(4) * s.cs;
    case 3: return rng.pick(all) + rng.pick([1, 8, 512, s.cs / 2]);
    default: return rng.int(s.bytes.length / s.cs + 2) * s.cs;
  }
}

function setEntry(rng: Rng, b: Uint8Array, at: number, off: number): void {
  if (at + 8 > b.length) return;
  const v = new DataView(b.buffer, b.byteOffset);
  let hi = Math.floor(off / 2 ** 32) & OFFSET_MASK_HI;
  if (rng.chance(0.7)) hi |= 0x80000000; // COPIED
  if (rng.chance(0.1)) hi |= 0x40000000; // compressed
  if (rng.chance(0.05)) hi |= 1 << (24 + rng.int(6)); // reserved
  let lo = off >>> 0;
  if (rng.chance(0.1)) lo |= 1; // zero cluster
  if (rng.chance(0.05)) lo |= 1 << (1 + rng.int(8));
  v.setUint32(at, hi >>> 0);
  v.setUint32(at + 4, lo >>> 0);
}

/** One structure-aware mutation of a copy of the seed. */
function mutate(rng: Rng, s: Seed, b: Uint8Array): Uint8Array {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  switch (rng.int(9)) {
    case 0: {
      const [at, n] = rng.pick(HEADER_FIELDS);
      if (at + n > b.length) return b;
      if (n === 8 && rng.chance(0.5)) v.setUint32(at, rng.interesting(32));
      v.setUint32(at + n - 4, rng.chance(0.5) ? rng.interesting(32) : aim(rng, s));
      return b;
    }
    case 1:
      setEntry(rng, b, s.l1 + rng.int(Math.max(1, s.l1Size)) * 8, aim(rng, s));
      return b;
    case 2:
      if (s.l2s.length) setEntry(rng, b, rng.pick(s.l2s) + rng.int(s.cs / 8) * 8, aim(rng, s));
      return b;
    case 3:
      setEntry(rng, b, s.refTable + rng.int(Math.max(1, s.refBlocks.length + 1)) * 8, aim(rng, s));
      return b;
    case 4: {
      // A refcount block with counts wiped, or set to the width's maximum.
      if (!s.refBlocks.length) return b;
      const blk = rng.pick(s.refBlocks);
      if (rng.chance(0.5)) b.fill(0, blk, Math.min(b.length, blk + s.cs));
      else for (let i = 0; i < 4; i++) if (blk + 8 <= b.length) b[blk + rng.int(Math.min(s.cs, b.length - blk))] = rng.interesting(8);
      return b;
    }
    case 5: {
      if (!s.snapshots) return mutateBytes(rng, b);
      const at = s.snapshots + rng.pick([0, 4, 8, 12, 14, 36, 40 + rng.int(40)]);
      if (at + 4 <= b.length) v.setUint32(at, rng.interesting(32));
      return b;
    }
    case 6: return b.slice(0, rng.int(b.length + 1)); // truncated
    case 7: {
      const region = rng.pick([0, s.l1, s.refTable, ...s.l2s]);
      if (region >= b.length) return b;
      const cut = b.subarray(region, Math.min(b.length, region + 256));
      b.set(mutateBytes(rng, cut, 1 + rng.int(3)).subarray(0, cut.length), region);
      return b;
    }
    default: return b; // unmutated: the guest's operations on a good image
  }
}

/** Runs `op`; a DiskError is a clear refusal (returned), anything else fails the input. */
function attempt(what: string, op: () => void): DiskError | null {
  try {
    op();
    return null;
  } catch (e) {
    if (e instanceof DiskError) return e;
    throw new Error(`${what}: not a clear error: ${(e as Error)?.stack ?? String(e)}`);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A guest's requests on the opened disk. Returns what each sector must read now, for the
 * sectors the requests decided (each write fills with one byte value, so a sector is
 * one number): written, zeroed, or dropped again by a discard (contents unspecified).
 */
function guestOps(rng: Rng, d: BlockBackend, cs: number, clean: boolean): Map<number, number> {
  const shadow = new Map<number, number>();
  const size = d.size;
  if (size < 512) return shadow;
  const n = 1 + rng.int(8);
  for (let i = 0; i < n; i++) {
    const at = rng.int(size / 512) * 512;
    const len = Math.min(size - at, 512 * (1 + rng.int(Math.max(1, (3 * cs) / 512))));
    const kind = rng.int(10);
    const fillByte = 1 + rng.int(255);
    if (process.env.RVISOR_FUZZ_KEEP) console.log(`op ${kind} at ${at} length ${len} fill ${fillByte}`);
    const err = attempt(`guest op ${kind} at ${at}+${len}`, () => {
      if (kind < 5) d.write(at, new Uint8Array(len).fill(fillByte));
      else if (kind < 7) d.read(at, new Uint8Array(len));
      else if (kind === 7) d.discard(at, len);
      else if (kind === 8) d.writeZeroes(at, len, rng.chance(0.5));
      else d.flush();
    });
    // check does not inflate compressed clusters (nor does qemu-img's): bad deflate data
    // passes it and is found only when read.
    if (err && clean && !/compressed cluster/.test(err.message)) throw new Error(`a consistent image refused a guest request: ${err.message}`);
    if (err || kind >= 9 || kind === 5 || kind === 6) continue;
    for (let o = at; o < at + len; o += 512) {
      if (kind < 5) shadow.set(o, fillByte);
      else if (kind === 8) shadow.set(o, 0);
      else shadow.delete(o);
    }
  }
  return shadow;
}

function readBack(d: BlockBackend, shadow: Map<number, number>): void {
  const got = new Uint8Array(512);
  for (const [o, want] of shadow) {
    d.read(o, got);
    if (!got.every((x) => x === want)) throw new Error(`sector at ${o} reads ${got[0]}, not the ${want} written`);
  }
}

function readHead(file: string, n: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const b = new Uint8Array(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

class Qcow2Fuzz implements FuzzSession {
  private readonly dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'rvisor-fuzz-qcow2-'));
  private readonly seeds = makeSeeds(this.dir);

  /**
   * A guest on a raw disk opened without a format writes sector 0 with a qcow2 header,
   * or parts of one: whatever it manages, the file must still probe as raw.
   */
  private probedRaw(rng: Rng): void {
    const file = join(this.dir, 'probed.img');
    writeFileSync(file, new Uint8Array(8192));
    const d = openDisk({ file });
    const header = rng.pick(this.seeds).bytes.subarray(0, 512);
    for (let n = 1 + rng.int(4); n > 0; n--) {
      const at = rng.int(8);
      const src = rng.chance(0.5) ? header.subarray(at, at + 1 + rng.int(512 - at)) : mutateBytes(rng, header.subarray(at, at + 8));
      attempt('probed raw write', () => d.write(at, src.subarray(0, Math.min(src.length, 8192 - at))));
    }
    d.close();
    if (probeFormat(file) !== 'raw') throw new Error('a guest write made a probed raw disk probe as qcow2');
  }

  one(rng: Rng): void {
    if (rng.chance(0.05)) return this.probedRaw(rng);
    const s = rng.pick(this.seeds);
    let b: Uint8Array = s.bytes.slice();
    for (let k = 1 + (rng.chance(0.3) ? rng.int(3) : 0); k > 0; k--) b = mutate(rng, s, b);
    if (rng.chance(0.05)) b = mutateBytes(rng, b);
    const file = join(this.dir, `input.qcow2`);
    writeFileSync(file, b);
    // To study one input: `RVISOR_FUZZ_KEEP=x.qcow2 npm run fuzz -- --target qcow2 --from I --count 1`.
    if (process.env.RVISOR_FUZZ_KEEP) writeFileSync(process.env.RVISOR_FUZZ_KEEP, b);
    attempt('disk info', () => diskInfo(file));
    let clean = false;
    attempt('disk check', () => { clean = checkDisk(file).corruptions === 0; });
    if (rng.chance(0.2)) {
      const out = join(this.dir, 'out.raw');
      attempt('disk convert', () => {
        const info = diskInfo(file);
        if (info.virtualSize <= 16 * 2 ** 20) convertDisk(file, out, rng.chance(0.5) ? 'raw' : 'qcow2');
      });
      rmSync(out, { force: true });
    }
    const before = new Uint8Array(readFileSync(file));
    let d: BlockBackend | undefined;
    const refused = attempt('open', () => { d = openDisk({ file, format: 'qcow2' }); });
    if (refused || !d) {
      if (!equal(before, new Uint8Array(readFileSync(file)))) throw new Error(`a refused open changed the file (${refused?.message})`);
      return;
    }
    const disk: BlockBackend = d;
    const cs = 2 ** new DataView(before.buffer).getUint32(20);
    try {
      const shadow = guestOps(rng, disk, cs, clean);
      if (clean) readBack(disk, shadow);
    } finally {
      attempt('close', () => disk.close());
    }
    // A guest with a few MiB of disk has no business growing a consistent image past
    // this (corrupt refcounts may call every cluster in use and push allocations far).
    const grown = statSync(file).size;
    if (clean && grown > 64 * 2 ** 20) throw new Error(`guest requests grew the image file to ${grown} bytes`);
    const after = readHead(file, Math.min(cs, before.length));
    const head = Math.min(cs, before.length, after.length);
    for (let i = 0; i < head; i++) {
      if (before[i] !== after[i] && !MAINTAINED.some(([a, z]) => i >= a && i < z)) throw new Error(`header byte ${i} changed from ${before[i]} to ${after[i]}`);
    }
    if (clean) {
      const c = checkDisk(file);
      if (c.corruptions) throw new Error(`guest requests corrupted a consistent image: ${c.messages.slice(0, 3).join('; ')}`);
    }
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const target: FuzzTarget = {
  name: 'qcow2',
  surface: 'qcow2 images: header, L1/L2, refcounts and snapshot table mutated; info, check, convert, guest I/O',
  open: () => new Qcow2Fuzz(),
};
