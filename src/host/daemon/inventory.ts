// The daemon's inventory: every VM it knows, kept so that it survives the daemon. One file
// per VM, `<dir>/<id>.json` holding `{ "version": 1, "record": VmRecord }`, as libvirt keeps
// one XML file per domain: a change rewrites one small file atomically (durable.ts), so a
// crash at any moment loses at most the change being made, never another VM, and a
// half-written definition is never read. The files are the truth; the maps here are a
// cache of them, which is safe because one Inventory owns the directory (its lock).
//
// Opening reads every definition and checks it as strictly as a new one (record.ts).
// A file that fails is moved to `<dir>/quarantine/` with a warning: never loaded, never
// silently lost, and never in the way of the others. Temporary files a crash left are
// removed. The directory also holds the VMs' own subdirectories (`<dir>/<id>/`, disk
// overlays), which this class leaves to the daemon.

import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lockDir, removeDurable, syncDir, TEMP_FILE, writeDurable } from './durable.js';
import { HostError, type VmRecord } from './model.js';
import { insideState } from './paths.js';
import { checkRecord } from './record.js';

/** The file format; a file of any other version is quarantined, not guessed at. */
export const INVENTORY_VERSION = 1;

export interface InventoryOptions {
  /** Problems that do not stop the daemon (a quarantined file); default: stderr. */
  warn?: (message: string) => void;
  /** The state directory: `dir` must lie inside it (insideState). */
  root?: string;
  /** touch() writes lastActive at most this often per VM (default 60 s); a crash loses
   *  less than this much of it. */
  touchIntervalMs?: number;
}

function byCreated(a: VmRecord, b: VmRecord): number {
  return a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class Inventory {
  /** By id: each record as its file holds it. */
  private readonly records = new Map<string, VmRecord>();
  /** Name to id. */
  private readonly ids = new Map<string, string>();
  /** lastActive times touch() has not written yet, by id. */
  private readonly active = new Map<string, string>();
  private readonly warn: (message: string) => void;
  private readonly touchInterval: number;
  private release: (() => void) | undefined;

  private constructor(readonly dir: string, release: () => void, opts: InventoryOptions) {
    this.release = release;
    this.warn = opts.warn ?? ((m) => process.stderr.write(`rvisor: ${m}\n`));
    this.touchInterval = opts.touchIntervalMs ?? 60_000;
  }

  /** Opens (creating it if need be) and locks the inventory in `dir`, and loads it. Throws
   *  if another live process has it open, or if `dir` is outside `opts.root` (a relative
   *  `dir` is then taken from the root; without a root, from the working directory). */
  static open(dir: string, opts: InventoryOptions = {}): Inventory {
    const checked = opts.root === undefined ? resolve(dir) : insideState(opts.root, dir);
    mkdirSync(checked, { recursive: true, mode: 0o700 });
    const real = realpathSync(checked);
    const release = lockDir(real);
    try {
      const inventory = new Inventory(real, release, opts);
      inventory.load();
      return inventory;
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Every VM, oldest first. */
  list(): VmRecord[] {
    return [...this.records.keys()].map((id) => this.view(id)).sort(byCreated);
  }

  /** The VM with this id, else the one with this name. */
  get(idOrName: string): VmRecord | undefined {
    const id = this.records.has(idOrName) ? idOrName : this.ids.get(idOrName);
    return id === undefined ? undefined : this.view(id);
  }

  byName(name: string): VmRecord | undefined {
    const id = this.ids.get(name);
    return id === undefined ? undefined : this.view(id);
  }

  /** Stores a new VM (its spec with parseVmSpec's defaults filled in); returns it. */
  add(record: VmRecord): VmRecord {
    const next = this.check(record);
    if (this.records.has(next.id)) throw new HostError(409, 'vm_exists', `a VM with id ${next.id} exists`);
    this.claimName(next);
    this.save(next);
    return this.view(next.id);
  }

  /** Replaces VM `id` with what `change` makes of (a copy of) it; the id cannot change. */
  update(id: string, change: (record: VmRecord) => VmRecord): VmRecord {
    const name = this.stored(id).name;
    const next = this.check(change(this.view(id)));
    if (next.id !== id) throw new HostError(422, 'bad_record', `a VM's id cannot change (${id} to ${next.id})`);
    this.claimName(next);
    this.save(next);
    if (next.name !== name) this.ids.delete(name);
    return this.view(id);
  }

  remove(id: string): void {
    const r = this.stored(id);
    removeDurable(this.dir, `${id}.json`);
    this.records.delete(id);
    this.ids.delete(r.name);
    this.active.delete(id);
  }

  /** Records guest activity at `when`. Written at once if what is on disk is at least
   *  the touch interval older, else kept for a later touch, flush() or close(): guest
   *  activity is frequent, and a few seconds of it are not worth an fsync each. */
  touch(id: string, when: Date): void {
    const r = this.stored(id);
    const iso = when.toISOString();
    const current = this.active.get(id) ?? r.lastActive;
    if (current !== undefined && current >= iso) return;
    if (r.lastActive === undefined || when.getTime() - Date.parse(r.lastActive) >= this.touchInterval) this.save({ ...r, lastActive: iso });
    else this.active.set(id, iso);
  }

  /** Writes the lastActive times touch() has kept back. */
  flush(): void {
    for (const id of [...this.active.keys()]) this.save(this.view(id));
  }

  /** Flushes and releases the directory; the object cannot be used after. */
  close(): void {
    if (!this.release) return;
    this.flush();
    this.release();
    this.release = undefined;
  }

  private stored(id: string): VmRecord {
    if (!this.release) throw new Error(`the inventory in ${this.dir} is closed`);
    const r = this.records.get(id);
    if (!r) throw new HostError(404, 'no_such_vm', `no VM with id ${id}`);
    return r;
  }

  /** A copy (callers may change it freely), with any lastActive not yet written. */
  private view(id: string): VmRecord {
    const r = structuredClone(this.stored(id));
    const active = this.active.get(id);
    return active === undefined ? r : { ...r, lastActive: active };
  }

  private check(record: VmRecord): VmRecord {
    if (!this.release) throw new Error(`the inventory in ${this.dir} is closed`);
    const checked = checkRecord(record);
    if ('problems' in checked) throw new HostError(422, 'bad_record', `bad VM record: ${checked.problems.join('; ')}`, checked.problems);
    return checked.record;
  }

  private claimName(r: VmRecord): void {
    const holder = this.ids.get(r.name);
    if (holder !== undefined && holder !== r.id) throw new HostError(409, 'name_taken', `a VM named ${r.name} exists (id ${holder})`);
  }

  /** The file first: the cache changes only once the disk has. */
  private save(r: VmRecord): void {
    writeDurable(this.dir, `${r.id}.json`, JSON.stringify({ version: INVENTORY_VERSION, record: r }, null, 2) + '\n');
    this.records.set(r.id, r);
    this.ids.set(r.name, r.id);
    this.active.delete(r.id);
  }

  private load(): void {
    const found: VmRecord[] = [];
    let changed = false;
    for (const name of readdirSync(this.dir)) {
      if (TEMP_FILE.test(name)) {
        // Only a crashed writer leaves one (we hold the lock): its rename never happened.
        rmSync(join(this.dir, name), { force: true });
        changed = true;
      } else if (name.endsWith('.json') && !name.startsWith('.')) {
        const r = this.read(name);
        if (r) found.push(r);
        else changed = true;
      }
    }
    // Names are unique; two files claiming one (a bug, or files copied in by hand) keep
    // the older VM.
    for (const r of found.sort(byCreated)) {
      const first = this.ids.get(r.name);
      if (first === undefined) {
        this.records.set(r.id, r);
        this.ids.set(r.name, r.id);
      } else {
        this.quarantine(`${r.id}.json`, `names VM ${r.name}, which older VM ${first} already is`);
        changed = true;
      }
    }
    if (changed) syncDir(this.dir);
  }

  /** The record in `dir/name`, or undefined once the file is quarantined. */
  private read(name: string): VmRecord | undefined {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(join(this.dir, name), 'utf8'));
    } catch (e) {
      this.quarantine(name, `cannot be read (${(e as Error).message})`);
      return undefined;
    }
    const { version, record } = (typeof doc === 'object' && doc !== null ? doc : {}) as { version?: unknown; record?: unknown };
    if (version !== INVENTORY_VERSION) {
      this.quarantine(name, `has version ${JSON.stringify(version)}, not ${INVENTORY_VERSION}`);
      return undefined;
    }
    const checked = checkRecord(record);
    const problems = 'problems' in checked ? checked.problems : [];
    if ('record' in checked && `${checked.record.id}.json` !== name) problems.push(`id ${checked.record.id} is not the file's name`);
    if (problems.length || !('record' in checked)) {
      this.quarantine(name, `is not a valid VM definition: ${problems.join('; ')}`);
      return undefined;
    }
    return checked.record;
  }

  /** Moves a bad definition aside, under a name no earlier quarantined file has. */
  private quarantine(name: string, why: string): void {
    const dir = join(this.dir, 'quarantine');
    let target = join(dir, name);
    for (let n = 1; existsSync(target); n++) target = join(dir, `${name}.${n}`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      renameSync(join(this.dir, name), target);
      this.warn(`inventory: ${join(this.dir, name)} ${why}; moved to ${target}`);
    } catch (e) {
      this.warn(`inventory: ${join(this.dir, name)} ${why}; ignored (moving it to ${dir} failed: ${(e as Error).message})`);
    }
  }
}
