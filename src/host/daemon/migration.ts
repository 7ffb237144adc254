// The daemon's parts of a migration that need no VM handle: which disks go along and
// what sizes they have, the target's images for them, and the prediction as the API
// gives it. host.ts drives the migration itself.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createDisk, openDisk, parseFormat } from '../../storage/index.js';
import { isNbdUri } from '../../storage/nbd/uri.js';
import type { VmSpec } from '../../vmm/spec.js';
import { HostError, type MigrationPrediction } from './model.js';

/** The source's side: the writable local disks (they go along, as QEMU's block
 *  migration), by index, with their virtual sizes. NBD disks stay where they are;
 *  read-only ones must be at the same path at the target. */
export function localCopies(spec: VmSpec): { index: number; size: number }[] {
  return spec.disks.flatMap((d, index) => (isNbdUri(d.file) || d.readOnly ? [] : [{ index, size: virtualSize(d.file, d.format) }]));
}

/** The target's side: the spec with each disk the source copies along moved to a new,
 *  empty qcow2 image of its size in `dir` (the VM's directory there). */
export function copyTargets(dir: string, raw: unknown, copies: readonly { index: number; size: number }[]): unknown {
  const spec = structuredClone(raw) as { disks?: { file?: unknown; format?: unknown }[] };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const { index, size } of copies) {
    const disk = spec.disks?.[index];
    if (!disk) throw new HostError(400, 'bad_request', `copyDisks: the spec has no disk ${index}`);
    const file = join(dir, `disk${index}.qcow2`);
    try {
      createDisk({ file, format: 'qcow2', size });
    } catch (e) {
      throw new HostError(422, 'disk_failed', `copyDisks: disk ${index}: ${(e as Error).message}`);
    }
    spec.disks![index] = { ...disk, file, format: 'qcow2' };
  }
  return spec;
}

/** The worker's prediction (QMP's names: MigrationController.predict) as the API's. */
export function predictionOf(vm: string, target: string, p: Record<string, unknown>): MigrationPrediction {
  const n = (k: string) => (typeof p[k] === 'number' ? p[k] : 0);
  return {
    vm, target, converges: p.converges === true, ...(typeof p.reason === 'string' && { reason: p.reason }),
    expectedDowntimeMs: n('expected-downtime'), expectedTotalMs: n('expected-total-time'), rounds: n('rounds'),
    throttle: n('cpu-throttle-percentage') / 100, dirtyRate: n('dirty-rate'), bandwidth: Number.isFinite(n('bandwidth')) ? n('bandwidth') : 0,
    rttMs: n('round-trip'), restoreMs: n('restore-time'),
  };
}

/** A disk image's virtual size (opened read-only beside the VM that has it open). */
function virtualSize(file: string, format: string | undefined): number {
  try {
    const d = openDisk({ file, format: parseFormat(format, file), readOnly: true });
    const size = d.size;
    d.close();
    return size;
  } catch (e) {
    throw new HostError(422, 'disk_failed', `${file}: ${(e as Error).message}`);
  }
}
