// Whole-machine snapshots of the `virt` board: one section per component, by id, plus a
// config section that lets a restore refuse a machine built differently. The snapshot is
// restored into a machine constructed from the same configuration (the CLI rebuilds it
// from the same options), which then continues exactly where the saved one was.
//
// When: between run() slices, i.e. from any callback of the host's event loop (run()
// only executes harts synchronously inside a slice), or with no run() going. The RAM
// section holds views of guest RAM: write it out before the guest runs again.
//
// Time: guest time (mtime) continues from the saved value, neither backwards nor forward
// by the time the snapshot spent on disk (QEMU's virtual clock does the same); timers due
// at the saved instant fire at once. The RTC is an offset from the host's wall clock, so
// it shows real time after a restore, as a machine resuming from hibernation does.
//
// Disks: only virtio-blk's transport state is here; the disks' contents are the VMM's
// (qcow2 overlays). 9p: open fids do not survive into another process (see 9p.ts).

import { SnapshotError, StateReader } from '../devices/snapshot.js';
import type { VirtioMmio } from '../devices/virtio/mmio.js';
import { jitOf } from '../jit/index.js';
import { prepareRam, saveRam } from './ram-snapshot.js';
import { virtioSlotBase } from './virt-map.js';
import type { VirtMachine } from './virt.js';

/** Sections by component id, in the order they were saved. */
export type MachineSnapshot = Map<string, unknown>;

export interface VirtConfigSnapshot {
  board: 'virt';
  ramBase: number;
  memSize: number;
  harts: number;
  /** rvisor's SBI, or M-mode firmware loaded with --bios. */
  firmware: 'sbi' | 'bios';
  /** Every virtio-mmio slot, slot 0 first: deviceId 0 is an empty slot. */
  slots: { base: number; name: string; deviceId: number }[];
  /** Present (true) when the board has a VM generation ID device; older files lack it. */
  vmgenid?: true;
}

function transportAt(m: VirtMachine, slot: number): { name: string; transport: VirtioMmio } | undefined {
  return m.virtio.transports.find((t) => t.transport === m.virtio.slots[slot]);
}

export function virtConfig(m: VirtMachine): VirtConfigSnapshot {
  return {
    board: 'virt', ramBase: m.mem.base, memSize: m.mem.size, harts: m.harts.length, firmware: m.sbi ? 'sbi' : 'bios',
    slots: m.virtio.slots.map((_, i) => {
      const t = transportAt(m, i);
      return { base: virtioSlotBase(i), name: t?.name ?? '', deviceId: t?.transport.device.deviceId ?? 0 };
    }),
    ...(m.vmgenid && { vmgenid: true as const }),
  };
}

/** Saves the machine: call it between slices (see the header). Without `ram` the RAM
 *  section is left out (a migration sends RAM page by page; finding the non-zero pages
 *  of a large guest would cost its paused guest a scan of all of it). */
export function saveVirt(m: VirtMachine, o: { ram?: boolean } = {}): MachineSnapshot {
  const snap: MachineSnapshot = new Map();
  snap.set('config', virtConfig(m));
  for (const c of m.persistent) snap.set(c.id, c.save());
  if (o.ram ?? true) snap.set('ram', saveRam(m.mem));
  return snap;
}

function checkConfig(m: VirtMachine, state: unknown): void {
  const want = virtConfig(m);
  const r = StateReader.of(state, 'config');
  if (r.str('board') !== want.board) r.fail('board', `this machine is a ${want.board} board`);
  for (const k of ['ramBase', 'memSize', 'harts'] as const) {
    const v = r.int(k, 0, Number.MAX_SAFE_INTEGER);
    if (v !== want[k]) r.fail(k, `the snapshot has ${v}, this machine ${want[k]}`);
  }
  if (r.str('firmware') !== want.firmware) r.fail('firmware', `the snapshot ran ${r.str('firmware')}, this machine ${want.firmware}`);
  const genid = (state as { vmgenid?: unknown }).vmgenid === true;
  if (genid !== (want.vmgenid === true)) {
    r.fail('vmgenid', genid ? 'the snapshot\'s board has a VM generation ID device (it could start from boot snapshots), this one none (--no-boot-snapshot?)'
      : 'this board has a VM generation ID device (it could start from boot snapshots), the snapshot\'s none: start it with --no-boot-snapshot');
  }
  r.objects('slots', want.slots.length).forEach((s, i) => {
    const w = want.slots[i];
    if (s.int('base', 0, 2 ** 32) !== w.base || s.str('name') !== w.name || s.int('deviceId', 0, 0xffff_ffff) !== w.deviceId) {
      s.fail('name', `virtio slot ${i} holds ${JSON.stringify(s.str('name')) || 'nothing'} in the snapshot, ${JSON.stringify(w.name) || 'nothing'} here`);
    }
  });
}

export interface RestoreOptions {
  /** The guest's RAM is in `m` already (an incoming migration wrote each page as it
   *  arrived) and the state has no RAM section: only the components are restored. */
  ramInPlace?: boolean;
}

/**
 * Restores `snap` into `m`, built with the same configuration. Nothing changes when it
 * throws: the config and RAM are checked first, then components are restored one by one
 * (each checks before it changes anything) and put back as they were if one refuses.
 * Sections this version does not know are ignored (a newer minor version added them).
 */
export function restoreVirt(m: VirtMachine, snap: MachineSnapshot, o: RestoreOptions = {}): void {
  const section = (id: string): unknown => {
    if (!snap.has(id)) throw new SnapshotError(`the snapshot has no section '${id}'`);
    return snap.get(id);
  };
  checkConfig(m, section('config'));
  if (o.ramInPlace && snap.has('ram')) throw new SnapshotError('the state carries RAM, but its RAM was to be in place already');
  const writeRam = o.ramInPlace ? () => {} : prepareRam(m.mem, section('ram'));
  const parts = m.persistent;
  const states = parts.map((c) => section(c.id));
  const backup = parts.map((c) => c.save());
  let done = 0;
  try {
    for (; done < parts.length; done++) parts[done].restore(states[done]);
  } catch (e) {
    for (let i = 0; i < done; i++) parts[i].restore(backup[i]);
    throw e;
  }
  writeRam();
  for (const h of m.harts) h.flushTlb();
  // Translations were made from the old RAM; markDirty dropped those of changed pages,
  // but a full flush also forgets the translator's per-page bookkeeping.
  if (m.cfg.exec === 'jit') jitOf(m.mem).flush();
  // Time-driven state as of the restored clock (the run loop would do it next slice).
  m.clint.update();
  m.rtc.update();
}

