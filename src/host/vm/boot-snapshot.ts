// Instant start: a VM of an image starts from that image's boot snapshot when one matches
// (host/image/boot-snapshot.ts), and makes it when none does. Either way the guest's /init
// waits at its snapshot point (init-script.ts) for the words of this run; the two paths
// differ only in how the machine got there:
//
//   made here     the machine boots with the snapshot word on its command line; at /init's
//                 marker line, between slices, its whole state is saved as the snapshot;
//   restored      the machine starts from the snapshot's state (Vm restoreFrom);
//
// and then, in both: a new VM generation (the guest's kernel reseeds its random number
// generator: no two runs share random numbers), and /init is typed this run's words (the
// command, the identity, the host's time).
//
// Which VMs: those booting an image of this rvisor with the image's own initramfs and
// rvisor's SBI, on one thread. Devices: NICs and shares are there from the boot (their
// MACs and tags are in the key; the network is configured and shares are mounted after
// the snapshot point). Disks are probed at boot, so every machine of such a VM is built
// with empty drives (as many, with the same write access: in the key), and the run's
// disks are inserted at the point, a capacity change the guest's driver is told of by a
// configuration interrupt; /init waits for it and rereads the partitions.

import { BOOT_SNAPSHOT_WORD, snapshotPointInput } from '../image/init-script.js';
import { BootSnapshots, keyOf, rvisorBuild, type BootSnapshotKey } from '../image/boot-snapshot.js';
import { vcpuThreads, type VmSpec } from '../../vmm/spec.js';
import type { Vm } from '../../vmm/vm.js';
import type { PreparedLoad } from '../../vmm/vm-services.js';
import type { HostBootFiles } from './boot-files.js';

/** QEMU's default MAC for a VM's first NIC, as devices.ts gives it. */
const DEFAULT_MAC = 'default';

export interface BootSnapshotPlan {
  readonly key: string;
  /** The snapshot to start from; undefined: this run boots and makes it. */
  readonly load: PreparedLoad | undefined;
  /** The command line the machine boots with when it makes the snapshot. */
  readonly append: string;
  /** Saves the snapshot (from a machine that booted for it); returns its size in bytes. */
  save(vm: Vm): number;
  /** What this run types at /init's snapshot point. */
  line(nowMs?: number): string;
}

export interface PlanOptions {
  /** Said when a snapshot is found unusable (it is remade). */
  warn: (message: string) => void;
}

/** Why `spec` cannot start from a boot snapshot, or undefined when it can. */
export function ineligible(spec: VmSpec, boot: HostBootFiles): string | undefined {
  if (!boot.image) return 'it boots a kernel of its own (--kernel)';
  if (spec.boot.initrd !== undefined) return 'it has an initramfs of its own (--initrd)';
  if (spec.firmware !== undefined) return 'it boots through firmware of its own (--bios)';
  if (vcpuThreads(spec) === 'multi') return 'its harts run on threads of their own';
  return undefined;
}

/** The boot snapshot this VM would use (or make); call only for an eligible one. */
export function planBootSnapshot(spec: VmSpec, boot: HostBootFiles, o: PlanOptions): BootSnapshotPlan {
  const image = boot.image!;
  const k: BootSnapshotKey = {
    build: rvisorBuild(),
    image: {
      name: image.name,
      kernel: image.manifest.files.kernel?.sha256 ?? '',
      initrd: image.manifest.files.initrd?.sha256 ?? '',
      layout: image.manifest.layout ?? 1,
    },
    memory: spec.memory,
    harts: spec.harts,
    exec: spec.exec,
    append: boot.baseAppend,
    nics: spec.nics.map((n) => ({ mac: n.mac ?? DEFAULT_MAC })),
    shares: spec.shares.map((s) => ({ tag: s.tag, readOnly: s.readOnly ?? false })),
    disks: spec.disks.map((d) => ({ readOnly: d.readOnly ?? false })),
  };
  const key = keyOf(k);
  const store = new BootSnapshots(image.dir);
  const state = store.read(key, o.warn);
  return {
    key,
    load: state && { name: `boot snapshot ${key.slice(0, 12)}`, state },
    append: `${boot.baseAppend} ${BOOT_SNAPSHOT_WORD}`,
    save: (vm) => store.write(key, k, vm.captureState()),
    line: (nowMs = Date.now()) => snapshotPointInput([
      ...boot.runWords,
      `rvisor.now=${Math.floor(nowMs / 1000)}`,
      ...(spec.disks.length ? [`rvisor.disks=${spec.disks.length}`] : []),
    ], spec.boot.command ?? []),
  };
}

/**
 * Carries a VM through its boot-snapshot point: `reached()` is called when /init prints
 * its marker line (the console watch sees it, inside a slice); the rest happens between
 * slices. `started()` is called once the VM's first machine runs. A guest that reboots
 * comes back to the point (the command line still asks for it) and is given its words
 * again; only the first boot of a run without a snapshot saves one.
 */
export class BootSnapshotRun {
  private saved = false;

  constructor(
    private readonly plan: BootSnapshotPlan,
    private readonly vm: Vm,
    private readonly log: (line: string) => void,
  ) {}

  /** The first machine runs: a restored one is at the snapshot point already. */
  started(): void {
    if (this.plan.load) {
      this.saved = true;
      this.go();
    }
  }

  /** /init printed its marker: a machine that booted for it is saved first. */
  reached(): void {
    setImmediate(() => {
      if (!this.saved) {
        this.saved = true;
        try {
          const t0 = performance.now();
          const size = this.plan.save(this.vm);
          this.log(`made boot snapshot ${this.plan.key.slice(0, 12)} (${(size / 2 ** 20).toFixed(1)} MiB, ${Math.round(performance.now() - t0)} ms); later runs start from it`);
        } catch (e) {
          this.log(`could not save the boot snapshot: ${(e as Error).message}; this run goes on`);
        }
      }
      this.go();
    });
  }

  /** The run's side of the point: its disks, a new generation, its words. */
  private go(): void {
    this.vm.insertDisks();
    this.vm.newGeneration();
    this.vm.consoleInput(new TextEncoder().encode(this.plan.line()));
  }
}
