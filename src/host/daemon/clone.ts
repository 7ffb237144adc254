// A linked clone's spec: the template's, with each disk replaced by a new qcow2 overlay
// whose backing file is the template's disk (so a clone costs only what it writes), and
// a new identity: MAC addresses, hostname and machine-id. The guest's random seed is new
// at every boot anyway (the Vm fills /chosen/rng-seed from the host's CSPRNG).

import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { createDisk, DiskError, probeFormat } from '../../storage/index.js';
import { isNbdUri } from '../../storage/nbd/uri.js';
import type { VmSpec } from '../../vmm/spec.js';
import { HostError } from './model.js';

export interface CloneIdentity {
  name: string;
  /** The clone's own directory (its overlays go there). */
  dir: string;
  mac: () => string;
  machineId: string;
  hostname: string;
}

export function cloneSpec(template: VmSpec, id: CloneIdentity): VmSpec {
  mkdirSync(id.dir, { recursive: true, mode: 0o700 });
  const disks = template.disks.map((d, i) => {
    // A disk on an NBD server belongs to that server: the clone shares it only if read-only.
    if (isNbdUri(d.file)) {
      if (d.readOnly) return { ...d };
      throw new HostError(422, 'clone_failed', `disk ${i} (${d.file}): a writable NBD disk cannot be cloned (give the template the disk read-only, or copy it)`);
    }
    const file = join(id.dir, `disk${i}.qcow2`);
    const backing = realpathSync(d.file);
    try {
      createDisk({ file, format: 'qcow2', backing, backingFormat: d.format ?? probeFormat(backing) });
    } catch (e) {
      if (e instanceof DiskError) throw new HostError(422, 'clone_failed', `disk ${i} (${d.file}): ${e.message}`);
      throw e;
    }
    // A read-only template disk stays read-only in the clone; otherwise the overlay takes the writes.
    return { ...d, file, format: 'qcow2' as const };
  });
  return {
    ...structuredClone(template),
    name: id.name,
    disks,
    // Host ports cannot be published twice: a clone forwards none until it is given its own.
    nics: template.nics.map((n) => ({ ...structuredClone(n), mac: id.mac(), publish: [] })),
    hostname: id.hostname,
    machineId: id.machineId,
  };
}
