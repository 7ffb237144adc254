// Named VM snapshots on the host: <state>/snapshots/NAME/ holds vm.rvsnap (the machine:
// harts, devices, RAM) and a copy of every disk image as it was at that instant, taken
// while the VM is paused and its disks flushed. Loading a snapshot copies the images
// back, so disk writes made after the snapshot are undone, as QEMU's loadvm does with
// internal qcow2 snapshots. Copies are simple and exact, but cost the images' allocated
// size; internal qcow2 snapshots would make this cheap and are the next step.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BlockBackend } from '../devices/block.js';
import { stateRoot } from '../host/index.js';
import { SnapshotError } from '../devices/snapshot.js';
import type { VirtMachine } from '../machine/virt.js';
import { type MachineSnapshot, restoreVirt, saveVirt } from '../machine/virt-snapshot.js';
import { readSnapshot, writeSnapshot } from '../vmm/snapshot-file.js';
import type { DiskSpec } from './device-args.js';
import { UsageError } from './errors.js';

interface Meta {
  created: string;
  disks: { file: string; size: number }[];
}

/** <state>/snapshots (stateRoot: $RVISOR_STATE, else $XDG_STATE_HOME/rvisor, else
 *  ~/.local/state/rvisor). */
export function snapshotRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateRoot(env), 'snapshots');
}

function dirOf(name: string): string {
  if (!/^[\w][\w.-]{0,63}$/.test(name)) throw new UsageError(`bad snapshot name ${JSON.stringify(name)}: letters, digits, '.', '_' and '-'`);
  return join(snapshotRoot(), name);
}

export function listSnapshots(): { name: string; created: string; size: number }[] {
  const root = snapshotRoot();
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((n) => !n.startsWith('.') && existsSync(join(root, n, 'meta.json'))).sort().map((name) => {
    const meta = JSON.parse(readFileSync(join(root, name, 'meta.json'), 'utf8')) as Meta;
    const size = readdirSync(join(root, name)).reduce((n, f) => n + statSync(join(root, name, f)).size, 0);
    return { name, created: meta.created, size };
  });
}

export function removeSnapshot(name: string): void {
  const dir = dirOf(name);
  if (!existsSync(dir)) throw new UsageError(`no snapshot ${name}`);
  rmSync(dir, { recursive: true, force: true });
}

/** Saves the machine (which must not be running a slice: any host callback qualifies)
 *  and copies of its disks under `name`, replacing an older snapshot of that name only
 *  once the new one is complete. */
export function saveSnapshot(name: string, m: VirtMachine, disks: readonly DiskSpec[], backends: readonly BlockBackend[]): void {
  const dir = dirOf(name);
  const tmp = `${dir}.new-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    for (const b of backends) b.flush();
    writeSnapshot(join(tmp, 'vm.rvsnap'), saveVirt(m));
    const meta: Meta = { created: new Date().toISOString(), disks: [] };
    disks.forEach((d, i) => {
      copyFileSync(d.file, join(tmp, `disk${i}`));
      meta.disks.push({ file: realpathSync(d.file), size: statSync(d.file).size });
    });
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Checks that snapshot `name` exists and was taken with these disks; returns its files. */
export function checkSnapshot(name: string, disks: readonly DiskSpec[]): { vm: string; disks: string[] } {
  const dir = dirOf(name);
  if (!existsSync(join(dir, 'meta.json'))) throw new UsageError(`no snapshot ${name} (in ${snapshotRoot()})`);
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  if (meta.disks.length !== disks.length) throw new UsageError(`snapshot ${name} was taken with ${meta.disks.length} disk(s), not ${disks.length}`);
  disks.forEach((d, i) => {
    const file = existsSync(d.file) ? realpathSync(d.file) : d.file;
    if (file !== meta.disks[i].file) throw new UsageError(`snapshot ${name}: disk ${i} was ${meta.disks[i].file}, not ${file}`);
  });
  return { vm: join(dir, 'vm.rvsnap'), disks: disks.map((_, i) => join(dir, `disk${i}`)) };
}

/** A snapshot read, checked against its checksum and decoded: ready to load. */
export interface PreparedLoad {
  name: string;
  state: MachineSnapshot;
  diskFiles: string[];
}

/**
 * Reads and decodes snapshot `name` before anything is changed: a corrupt or unknown
 * file is refused here, while the disks are still as they were.
 */
export function prepareLoad(name: string, disks: readonly DiskSpec[]): PreparedLoad {
  const files = checkSnapshot(name, disks);
  try {
    return { name, state: readSnapshot(files.vm), diskFiles: files.disks };
  } catch (e) {
    if (e instanceof SnapshotError) throw new UsageError(`snapshot ${name}: ${e.message}`);
    throw e;
  }
}

/**
 * Applies a prepared snapshot's machine state to `m`, which must be built with the same
 * configuration. Nothing changes in `m` when it throws (restoreVirt checks first).
 */
export function applyMachine(load: PreparedLoad, m: VirtMachine): void {
  try {
    restoreVirt(m, load.state);
  } catch (e) {
    if (e instanceof SnapshotError) throw new UsageError(`snapshot ${load.name}: ${e.message}`);
    throw e;
  }
}

/** Puts the disk images back as they were at the snapshot (the disks must be closed). */
export function revertDisks(load: PreparedLoad, disks: readonly DiskSpec[]): void {
  disks.forEach((d, i) => copyFileSync(load.diskFiles[i], d.file));
}
