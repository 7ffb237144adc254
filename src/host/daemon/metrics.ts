// The daemon's /metrics in Prometheus' text exposition format (version 0.0.4): per VM its
// state, guest instructions, vCPU time, translator counters, RAM touched, disk and network
// traffic; per host the VMs by state. Labels identify a VM by name and id.

import type { VmStats } from './worker-protocol.js';
import type { VmStatus, VmView } from './model.js';

const STATUSES: readonly VmStatus[] = ['stopped', 'starting', 'running', 'paused', 'debug', 'crashed'];

/** A label value as the format wants it: backslash, quote and newline escaped. */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

class Family {
  readonly lines: string[] = [];

  constructor(readonly name: string, readonly help: string, readonly type: 'gauge' | 'counter') {}

  add(labels: Record<string, string>, value: number): void {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',');
    this.lines.push(`${this.name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
  }

  text(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n${this.lines.join('\n')}\n`;
  }
}

export function renderMetrics(vms: readonly { view: VmView; stats: VmStats | undefined }[]): string {
  const f = (name: string, help: string, type: 'gauge' | 'counter' = 'counter') => new Family(`rvisor_${name}`, help, type);
  const byState = f('host_vms', 'VMs on this host by state.', 'gauge');
  const state = f('vm_state', '1 for the state the VM is in.', 'gauge');
  const insns = f('vm_guest_instructions_total', 'Guest instructions retired since the VM started (or was reset).');
  const cpu = f('vm_cpu_seconds_total', 'Host CPU seconds spent running the VM (its worker thread).');
  const vcpuInsns = f('vcpu_guest_instructions_total', 'Guest instructions retired by each vCPU since the VM started (or was reset).');
  const vcpuSteal = f('vcpu_steal_seconds_total', 'Steal time reported to each vCPU (SBI STA).');
  const stolen = f('vm_cpu_stolen_seconds_total', 'Time the VM was ready to run but withheld by its CPU limit (its steal time).');
  const share = f('vm_cpu_share', 'Share of one host core, lately: used, wanted, and the scheduler\'s allowance.', 'gauge');
  const ram = f('vm_ram_touched_bytes', 'Guest RAM the VM has written since boot or its last snapshot.', 'gauge');
  const diskBytes = f('vm_disk_bytes_total', 'Bytes moved between the VM and its disks.');
  const diskReqs = f('vm_disk_requests_total', 'Disk requests (reads, writes, flushes, discards).');
  const netBytes = f('vm_net_bytes_total', 'Bytes of Ethernet frames to and from the VM.');
  const netFrames = f('vm_net_frames_total', 'Ethernet frames to and from the VM.');
  const jit = f('vm_translator_events_total', 'The WebAssembly translator\'s counters.');
  for (const s of STATUSES) byState.add({ state: s }, vms.filter((v) => v.view.status === s).length);
  for (const { view, stats } of vms) {
    const vm = { vm: view.name, id: view.id };
    for (const s of STATUSES) state.add({ ...vm, state: s }, view.status === s ? 1 : 0);
    if (!stats) continue;
    insns.add(vm, view.instructions);
    stats.harts.forEach((h, i) => {
      vcpuInsns.add({ ...vm, vcpu: String(i) }, h.instructions);
      vcpuSteal.add({ ...vm, vcpu: String(i) }, h.stealNs / 1e9);
    });
    cpu.add(vm, view.cpuSeconds);
    stolen.add(vm, stats.cpu.stolenMs / 1000);
    for (const k of ['used', 'wanted', 'allowance'] as const) if (view.cpu) share.add({ ...vm, kind: k }, view.cpu[k]);
    ram.add(vm, stats.ramTouchedBytes);
    diskBytes.add({ ...vm, direction: 'read' }, stats.disk.readBytes);
    diskBytes.add({ ...vm, direction: 'write' }, stats.disk.writeBytes);
    diskReqs.add(vm, stats.disk.requests);
    netBytes.add({ ...vm, direction: 'rx' }, stats.net.rxBytes);
    netBytes.add({ ...vm, direction: 'tx' }, stats.net.txBytes);
    netFrames.add({ ...vm, direction: 'rx' }, stats.net.rxFrames);
    netFrames.add({ ...vm, direction: 'tx' }, stats.net.txFrames);
    for (const [k, v] of Object.entries(stats.translator ?? {})) jit.add({ ...vm, counter: k }, v);
  }
  return [byState, state, insns, vcpuInsns, vcpuSteal, cpu, stolen, share, ram, diskBytes, diskReqs, netBytes, netFrames, jit].map((x) => x.text()).join('');
}
