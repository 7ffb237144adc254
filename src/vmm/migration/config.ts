// What must match between a migration's source and destination: the machine the
// restored state fits (RAM size, harts, and the device slots the state names). Exec
// mode, CPU caps and backends may differ: they are the host's business.

import type { VmSpec } from '../spec.js';

export function migrationConfig(spec: VmSpec, vmgenid = false): Record<string, unknown> {
  return { memory: spec.memory, harts: spec.harts, disks: spec.disks.length, nics: spec.nics.length, shares: spec.shares.length, vmgenid };
}

/** Why `theirs` cannot be restored into a machine of `ours`, or undefined if it can. */
export function configMismatch(ours: Record<string, unknown>, theirs: Record<string, unknown>): string | undefined {
  const names: Record<string, string> = { memory: 'bytes of RAM', harts: 'harts', disks: 'disks', nics: 'network cards', shares: 'shared folders', vmgenid: 'for a VM generation ID device (boot snapshots; --no-boot-snapshot has none)' };
  const problems = Object.keys(ours)
    .filter((k) => theirs[k] !== ours[k])
    .map((k) => `the source has ${JSON.stringify(theirs[k] ?? null)} ${names[k] ?? k}, this VM ${JSON.stringify(ours[k])}`);
  return problems.length ? `configuration differs: ${problems.join('; ')}` : undefined;
}
