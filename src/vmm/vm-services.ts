// What a Vm needs from the host it runs on, injected so that one Vm serves the CLI, the
// host daemon's workers and later a browser page: the device backends (disk images, the
// network, shared directories), the snapshot store, entropy, the wall clock and where the
// console goes. Node-specific implementations live in src/host.

import type { BlockBackend } from '../devices/block.js';
import type { ByteSink } from '../devices/mmio.js';
import type { HartThreadSpawner } from '../machine/smp/threaded-harts.js';
import type { MachineSnapshot } from '../machine/virt-snapshot.js';
import type { VirtioConfig } from '../machine/virtio-slots.js';
import type { DiskSpec, VmSpec } from './spec.js';

/** A disk as the spec names it, with the backend opened for it: one road for both. */
export interface AttachedDisk {
  readonly spec: DiskSpec;
  readonly backend: BlockBackend;
  /** On storage other hosts reach too (NBD): a migration leaves it where it is. */
  readonly shared?: boolean;
}

/** The backends opened for one machine (a reset or loadvm opens them anew). */
export interface VmDevices {
  readonly disks: readonly AttachedDisk[];
  readonly nics: NonNullable<VirtioConfig['nics']>;
  readonly shares: NonNullable<VirtioConfig['shares']>;
  /** Closes everything opened; best effort, never throws. */
  close(): void;
}

/** The files a VM boots from, read, and its final kernel command line. */
export interface BootFiles {
  kernel: Uint8Array;
  append: string;
  initrd?: Uint8Array;
  /** M-mode firmware; absent: rvisor's own SBI. */
  firmware?: Uint8Array;
}

/** A snapshot read and checked, not yet applied: loading it can still be refused
 *  without anything having changed. */
export interface PreparedLoad {
  readonly name: string;
  readonly state: MachineSnapshot;
}

export interface SnapshotStore {
  /** Saves the machine state and the disks' contents under `name` (the disks are
   *  flushed); an older snapshot of that name is replaced only once the new one is whole. */
  save(name: string, state: MachineSnapshot, disks: readonly AttachedDisk[]): void;
  /** Reads and checks snapshot `name`, taken with these disks; changes nothing. */
  prepare(name: string, disks: readonly DiskSpec[]): PreparedLoad;
  /** Puts the disks' images back as they were at the snapshot (the disks are closed). */
  revert(load: PreparedLoad, disks: readonly DiskSpec[]): void;
}

export interface VmServices {
  openDevices(spec: VmSpec): Promise<VmDevices>;
  /** Absent: savevm and loadvm are refused. */
  snapshots?: SnapshotStore;
  /** Fills `buf` from a CSPRNG: the device tree's rng-seed and virtio-rng. */
  entropy(buf: Uint8Array): void;
  /** For the RTC; default Date.now. */
  wallClockMs?(): number;
  /** Everything the guest writes to its consoles (UART, SBI, virtio console). */
  console: ByteSink;
  /** Starts hart threads (spec.threads 'multi'); absent: the host has none, and every
   *  hart runs on the VM's thread. */
  hartThreads?: HartThreadSpawner;
}

/** A request the VM cannot carry out for a reason its user can fix (a missing snapshot,
 *  a disk that does not open): the message says what and why. */
export class VmError extends Error {
  override name = 'VmError';
}
