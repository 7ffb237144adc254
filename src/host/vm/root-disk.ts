// A system image's root disk (debian-system): the image's disk.qcow2 is never written;
// a VM runs on a qcow2 overlay of its own backed by it, the first virtio disk (/dev/vda,
// which the image's /init mounts as root=). Without a file of the user's the overlay is
// thrown away when the run ends, like `docker run --rm`; with one (--root-disk FILE) it
// is made on first use and kept, so the next run boots what the last one left.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRootDisk, type ImageInfo } from '../image/store.js';
import { createDisk, DiskError } from '../../storage/index.js';
import type { VmSpec } from '../../vmm/spec.js';
import { VmError } from '../../vmm/vm-services.js';
import { DEFAULT_APPEND, type HostBootFiles } from './boot-files.js';

export interface RootDisk {
  spec: VmSpec;
  files: HostBootFiles;
  /** Removes a thrown-away overlay (call once the VM has ended). */
  cleanup: () => Promise<void>;
}

/** The spec and boot files with the image's root disk attached, or as they were when
 *  the image has none. `keep`: the user's overlay file (made when it does not exist). */
export async function attachRootDisk(spec: VmSpec, files: HostBootFiles, keep?: string): Promise<RootDisk> {
  const image = files.image;
  if (!image?.rootDisk) {
    if (keep !== undefined) throw new VmError(`--root-disk: image ${image?.name ?? '(none)'} has no root disk (debian-system has)`);
    return { spec, files, cleanup: async () => {} };
  }
  const backing = await checkRootDisk(image);
  let file: string;
  let cleanup = async () => {};
  if (keep !== undefined) {
    file = keep;
    if (!existsSync(file)) overlay(file, backing);
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'rvisor-root-'));
    file = join(dir, 'root.qcow2');
    overlay(file, backing);
    cleanup = () => rm(dir, { recursive: true, force: true });
  }
  return {
    spec: { ...spec, disks: [{ file, format: 'qcow2' }, ...spec.disks] },
    files: { ...files, append: withRoot(files.append), baseAppend: withRoot(files.baseAppend) },
    cleanup,
  };
}

/** A daemon VM's spec with the image's root disk as its first disk: an overlay at
 *  `file` (in the VM's directory), and root= on its stored command line, so that
 *  snapshots, templates, clones and migration treat it as any other disk. A spec that
 *  has root= already (a clone's, a migrated VM's) is left as it is. */
export async function withRootDiskSpec(spec: VmSpec, image: ImageInfo, file: string): Promise<VmSpec> {
  if (!image.rootDisk || /(^|\s)root=/.test(spec.boot.append ?? '')) return spec;
  overlay(file, await checkRootDisk(image));
  return {
    ...spec,
    boot: { ...spec.boot, append: withRoot(spec.boot.append ?? DEFAULT_APPEND) },
    disks: [{ file, format: 'qcow2' }, ...spec.disks],
  };
}

// Before " -- ": the words after it are the guest command's.
function withRoot(append: string): string {
  if (/(^|\s)root=/.test(append.split(' -- ')[0])) return append;
  const dash = append.indexOf(' -- ');
  return dash < 0 ? `${append} root=/dev/vda` : `${append.slice(0, dash)} root=/dev/vda${append.slice(dash)}`;
}

function overlay(file: string, backing: string): void {
  try {
    createDisk({ file, format: 'qcow2', backing, backingFormat: 'qcow2' });
  } catch (e) {
    throw e instanceof DiskError ? new VmError(`--root-disk ${file}: ${e.message}`) : e;
  }
}
