// Named VM snapshots on the host: <state>/snapshots/NAME/ holds vm.rvsnap (the machine:
// harts, devices, RAM) and a copy of every disk image as it was at that instant, taken
// while the VM is between slices and its disks flushed. Loading a snapshot copies the
// images back, so disk writes made after the snapshot are undone, as QEMU's loadvm does
// with internal qcow2 snapshots. Copies are simple and exact, but cost the images'
// allocated size; internal qcow2 snapshots would make this cheap and are the next step.

import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnapshotError } from '../../devices/snapshot.js';
import type { MachineSnapshot } from '../../machine/virt-snapshot.js';
import { stateRoot } from '../daemon/paths.js';
import { readSnapshot, writeSnapshot } from '../../vmm/snapshot-file.js';
import type { DiskSpec } from '../../vmm/spec.js';
import { type AttachedDisk, type PreparedLoad, type SnapshotStore, VmError } from '../../vmm/vm-services.js';

interface Meta {
  created: string;
  disks: { file: string; size: number }[];
}

interface FileLoad extends PreparedLoad {
  readonly diskFiles: readonly string[];
}

export function snapshotRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(stateRoot(env), 'snapshots');
}

export class FileSnapshotStore implements SnapshotStore {
  constructor(readonly root: string = snapshotRoot()) {}

  private dirOf(name: string): string {
    if (!/^[\w][\w.-]{0,63}$/.test(name)) throw new VmError(`bad snapshot name ${JSON.stringify(name)}: letters, digits, '.', '_' and '-'`);
    return join(this.root, name);
  }

  list(): { name: string; created: string; size: number }[] {
    const root = this.root;
    if (!existsSync(root)) return [];
    return readdirSync(root).filter((n) => !n.startsWith('.') && existsSync(join(root, n, 'meta.json'))).sort().map((name) => {
      const meta = JSON.parse(readFileSync(join(root, name, 'meta.json'), 'utf8')) as Meta;
      const size = readdirSync(join(root, name)).reduce((n, f) => n + statSync(join(root, name, f)).size, 0);
      return { name, created: meta.created, size };
    });
  }

  remove(name: string): void {
    const dir = this.dirOf(name);
    if (!existsSync(dir)) throw new VmError(`no snapshot ${name}`);
    rmSync(dir, { recursive: true, force: true });
  }

  save(name: string, state: MachineSnapshot, disks: readonly AttachedDisk[]): void {
    const dir = this.dirOf(name);
    const tmp = `${dir}.new-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      writeSnapshot(join(tmp, 'vm.rvsnap'), state);
      const meta: Meta = { created: new Date().toISOString(), disks: [] };
      disks.forEach((d, i) => {
        copyFileSync(d.spec.file, join(tmp, `disk${i}`));
        meta.disks.push({ file: realpathSync(d.spec.file), size: statSync(d.spec.file).size });
      });
      writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  prepare(name: string, disks: readonly DiskSpec[]): FileLoad {
    const dir = this.dirOf(name);
    if (!existsSync(join(dir, 'meta.json'))) throw new VmError(`no snapshot ${name} (in ${this.root})`);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    if (meta.disks.length !== disks.length) throw new VmError(`snapshot ${name} was taken with ${meta.disks.length} disk(s), not ${disks.length}`);
    disks.forEach((d, i) => {
      const file = existsSync(d.file) ? realpathSync(d.file) : d.file;
      if (file !== meta.disks[i].file) throw new VmError(`snapshot ${name}: disk ${i} was ${meta.disks[i].file}, not ${file}`);
    });
    try {
      return { name, state: readSnapshot(join(dir, 'vm.rvsnap')), diskFiles: disks.map((_, i) => join(dir, `disk${i}`)) };
    } catch (e) {
      if (e instanceof SnapshotError) throw new VmError(`snapshot ${name}: ${e.message}`);
      throw e;
    }
  }

  revert(load: PreparedLoad, disks: readonly DiskSpec[]): void {
    const files = (load as FileLoad).diskFiles;
    disks.forEach((d, i) => copyFileSync(files[i], d.file));
  }
}
