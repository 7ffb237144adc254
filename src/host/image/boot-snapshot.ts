// Boot snapshots: an image's guest saved at the point where its /init is ready for a
// command (init-script.ts, "boot snapshot"), so `rvisor run IMAGE -- CMD` restores it
// instead of booting. They live beside the image, <image dir>/boot-snapshots/KEY.rvsnap
// with KEY.json, so that pulling the image again (which replaces its directory) or
// `image rm` takes them along.
//
// KEY is the SHA-256 of everything the saved guest depends on: rvisor's build, the image's
// files and /init contract, and the machine and devices the guest saw at boot (memory,
// harts, exec mode, kernel command line, NICs' MACs, shares' tags). Nothing per run is in
// it: the command, the identity, the time and the randomness are given after the restore.
// A snapshot that fails its checksum or cannot be read is removed and remade, never used.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnapshotError } from '../../devices/snapshot.js';
import type { MachineSnapshot } from '../../machine/virt-snapshot.js';
import { readSnapshot, SNAPSHOT_VERSION, writeSnapshot } from '../../vmm/snapshot-file.js';

/** What a boot snapshot's guest depends on (hashed into its key; kept beside it, so a
 *  listing can say what each one is for). */
export interface BootSnapshotKey {
  build: string;
  image: { name: string; kernel: string; initrd: string; layout: number };
  memory: number;
  harts: number;
  exec: string;
  append: string;
  nics: { mac: string }[];
  shares: { tag: string; readOnly: boolean }[];
  /** The drives the guest probed, empty at the snapshot point (read-only is negotiated then). */
  disks: { readOnly: boolean }[];
}

export interface BootSnapshotInfo {
  key: string;
  file: string;
  size: number;
  created: string;
  memory: number;
  harts: number;
}

const KEY_FORMAT = 1;
const MAX_KEPT = 8;

export function keyOf(k: BootSnapshotKey): string {
  return createHash('sha256').update(JSON.stringify({ format: KEY_FORMAT, snapshot: SNAPSHOT_VERSION.major, ...k })).digest('hex');
}

let buildId: string | undefined;

/** This rvisor's build: every module file's name, size and modification time (a
 *  rebuilt or upgraded rvisor may save its devices differently). */
export function rvisorBuild(): string {
  if (buildId) return buildId;
  const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (name.endsWith('.js')) hash.update(`${path.slice(root.length)}:${st.size}:${st.mtimeMs}\n`);
    }
  };
  walk(root);
  return (buildId = hash.digest('hex').slice(0, 16));
}

export class BootSnapshots {
  readonly dir: string;

  constructor(imageDir: string) {
    this.dir = join(imageDir, 'boot-snapshots');
  }

  private file(key: string): string {
    return join(this.dir, `${key}.rvsnap`);
  }

  /** The saved machine for `key`, or undefined when there is none. A file that cannot be
   *  used is removed (with `why` told), so the run makes a new one. */
  read(key: string, why: (message: string) => void): MachineSnapshot | undefined {
    const file = this.file(key);
    if (!existsSync(file)) return undefined;
    try {
      return readSnapshot(file);
    } catch (e) {
      // Another run may have pruned it meanwhile.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (!(e instanceof SnapshotError)) throw e;
      why(`boot snapshot ${key.slice(0, 12)} is unusable (${e.message}): booting to make it again`);
      this.remove(key);
      return undefined;
    }
  }

  /** Saves the machine (written whole, then renamed into place); returns its size. */
  write(key: string, k: BootSnapshotKey, state: MachineSnapshot): number {
    mkdirSync(this.dir, { recursive: true });
    writeSnapshot(this.file(key), state);
    const meta = join(this.dir, `${key}.json`);
    // Two runs may make the same snapshot at once: each writes its own file, the last
    // rename wins, and either is whole.
    writeFileSync(`${meta}.${process.pid}`, JSON.stringify({ created: new Date().toISOString(), ...k }, null, 2) + '\n');
    renameSync(`${meta}.${process.pid}`, meta);
    this.prune();
    return statSync(this.file(key)).size;
  }

  /** What KEY.json says (empty when it is missing or unreadable: such a snapshot is still
   *  listed, and its key alone decides whether it is used). */
  private meta(key: string): Partial<BootSnapshotKey & { created: string }> {
    try {
      return JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8')) as Partial<BootSnapshotKey & { created: string }>;
    } catch {
      return {};
    }
  }

  /** Each snapshot is the RAM its guest had touched (tens of MiB): the newest MAX_KEPT
   *  stay. (Those of another rvisor build can never be used by this one, but another
   *  installation sharing the cache may be using them.) */
  private prune(): void {
    const all = readdirSync(this.dir).filter((n) => n.endsWith('.json')).map((n) => {
      const key = n.slice(0, -'.json'.length);
      // Unreadable metadata sorts as the oldest.
      return { key, created: this.meta(key).created ?? '' };
    }).sort((a, b) => b.created.localeCompare(a.created));
    for (const s of all.slice(MAX_KEPT)) this.remove(s.key);
  }

  remove(key: string): void {
    rmSync(this.file(key), { force: true });
    rmSync(join(this.dir, `${key}.json`), { force: true });
  }

  list(): BootSnapshotInfo[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((n) => n.endsWith('.rvsnap')).sort().map((n) => {
      const key = n.slice(0, -'.rvsnap'.length);
      const file = join(this.dir, n);
      const meta = this.meta(key);
      return { key, file, size: statSync(file).size, created: meta.created ?? '', memory: meta.memory ?? 0, harts: meta.harts ?? 0 };
    });
  }

  removeAll(): number {
    const n = this.list().length;
    rmSync(this.dir, { recursive: true, force: true });
    return n;
  }
}
