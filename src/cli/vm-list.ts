// What the VM commands print about many VMs: `rvisor ps` and `rvisor gc`'s list, as
// aligned tables in the manner of `docker ps` (for programs: `ps --json`).

import type { VmView } from '../host/daemon/model.js';
import { shortDuration } from './duration.js';

/** Columns padded to their widest cell, three spaces apart; the last is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd() + '\n').join('');
}

const secondsSince = (time: string, now: number) => (now - Date.parse(time)) / 1000;
const status = (vm: VmView) => (vm.template ? `${vm.status} (template)` : vm.status);

export function psTable(vms: VmView[], now = Date.now()): string {
  return table(['NAME', 'STATUS', 'OWNER', 'AGE', 'LAST ACTIVE', 'CPU'], vms.map((vm) => [
    vm.name, status(vm), vm.owner, shortDuration(secondsSince(vm.created, now)),
    vm.lastActive === undefined ? '-' : `${shortDuration(secondsSince(vm.lastActive, now))} ago`,
    `${vm.cpuSeconds.toFixed(1)}s`,
  ]));
}

/** When a VM's TTL ran out, in ms since the epoch; undefined: it has none. */
export const expiry = (vm: VmView) => (vm.ttlSeconds === undefined ? undefined : Date.parse(vm.created) + vm.ttlSeconds * 1000);

export function expiredTable(vms: VmView[], now = Date.now()): string {
  return table(['NAME', 'STATUS', 'OWNER', 'EXPIRED'], vms.map((vm) =>
    [vm.name, status(vm), vm.owner, `${shortDuration((now - (expiry(vm) ?? now)) / 1000)} ago`]));
}
