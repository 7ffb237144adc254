// One virtual machine: a VmSpec and its boot files in, typed actions in, typed events
// out. The Vm owns the machine's whole life: it builds the board, runs it, rebuilds it
// after a reset or a loadvm (the device backends reopened, on the restored images after a
// loadvm), and decides how the run ends. Its Lifecycle is the only holder of the run
// state; the board is told to hold or release its harts, never asked what it is doing.
//
// Every front end drives this object: `rvisor run` (with a terminal), the host daemon's
// workers (with messages), QMP, HMP and the GDB stub (through VmControl).

import type { Hart } from '../cpu/hart.js';
import { SnapshotError } from '../devices/snapshot.js';
import { emptyDrive } from '../devices/virtio/blk.js';
import { VMGENID_BYTES } from '../devices/vmgenid.js';
import type { Stall } from '../machine/stall.js';
import { type MachineSnapshot, restoreVirt, saveVirt } from '../machine/virt-snapshot.js';
import { planVirtBoot, VirtMachine } from '../machine/virt.js';
import type { HartThreadSpawner } from '../machine/smp/threaded-harts.js';
import type { BlockInfo, CpuInfo, MigrationControl, NamedValue, RunState, TranslatorStats, VcpuStats, VmControl, VmEvent } from './control.js';
import { cpuInfo, hartRegisters } from './hart-info.js';
import { readHartRegister } from './hart-regs.js';
import { type ShutdownReason, Lifecycle, type VmState } from './lifecycle.js';
import { PanicWatch } from './panic-watch.js';
import { cpuCap, vcpuThreads, type VmSpec } from './spec.js';
import { HartDebugTarget } from './virt-target.js';
import { configMismatch, migrationConfig } from './migration/config.js';
import { scheduleAnnounce } from './migration/announce.js';
import { LoggedDisk } from './migration/disk-mirror.js';
import type { MigrationDestination, MigrationSource } from './migration/engine.js';
import { type BootFiles, type PreparedLoad, type VmDevices, VmError, type VmServices } from './vm-services.js';

export interface VmOptions {
  /** Validated (parseVmSpec). */
  spec: VmSpec;
  boot: BootFiles;
  services: VmServices;
  /** QEMU's -S: the VM starts paused, for `cont` or a debugger. */
  startPaused?: boolean;
  /** QEMU's -loadvm: the first machine starts from this snapshot. */
  loadvm?: string;
  /** A GDB stub will attach: the VM keeps one debug target across rebuilds. */
  debug?: boolean;
  /** QEMU's -incoming: the VM waits paused for a migrated state (status 'inmigrate'), and
   *  runs once it has arrived unless it was also started paused. */
  incoming?: boolean;
  /** The first machine starts from this state instead of booting (a boot snapshot). */
  restoreFrom?: PreparedLoad;
  /** The board has a VM generation ID device (devices/vmgenid.ts): a VM whose guest is
   *  saved as a boot snapshot, or started from one. */
  vmgenid?: boolean;
  /** Every machine is built with empty drives, given their disks by insertDisks(): a
   *  boot snapshot's guest probes its drives at boot, before the run's disks are known. */
  emptyDrives?: boolean;
}

/** How a VM's run ended. */
export type VmExit =
  | { kind: 'poweroff'; code: number }
  /** The host ended it: QMP quit, GDB kill, the console's quit key, a daemon stop. */
  | { kind: 'quit' }
  /** The host was interrupted (SIGINT). */
  | { kind: 'interrupted' }
  | { kind: 'panic' }
  /** Nothing could make progress any more (machine/stall.ts). */
  | { kind: 'stalled'; how: Stall }
  /** The guest reset before printing anything: it would do so on every boot. */
  | { kind: 'silent-reset' };

/** What a front end may ask of a VM (posted as messages when the VM runs in a worker). */
export type VmAction =
  | { type: 'pause' | 'resume' | 'reset' | 'powerdown' | 'quit' | 'interrupt' }
  | { type: 'snapshot-save' | 'snapshot-load'; name: string }
  | { type: 'console-input'; bytes: Uint8Array };

const SHUTDOWN_REASON: Record<VmExit['kind'], { guest: boolean; reason: ShutdownReason }> = {
  'poweroff': { guest: true, reason: 'guest-shutdown' },
  'quit': { guest: false, reason: 'host-qmp-quit' },
  'interrupted': { guest: false, reason: 'host-signal' },
  'panic': { guest: true, reason: 'guest-panic' },
  'stalled': { guest: false, reason: 'host-error' },
  'silent-reset': { guest: true, reason: 'guest-reset' },
};

const CSR_MINSTRET = 0xb02;

export class Vm implements VmControl {
  readonly spec: VmSpec;
  /** Set by a host that can migrate (host/migration/controller.ts). */
  migration?: MigrationControl;
  private readonly lifecycle = new Lifecycle();
  private readonly watch = new PanicWatch();
  /** The board of this boot (undefined before the first and between rebuilds). */
  private machine: VirtMachine | undefined;
  private devices: VmDevices | undefined;
  private readonly debugTarget: HartDebugTarget | undefined;
  /** A snapshot to start the next machine from (--loadvm, or a loadvm while running). */
  private pendingLoad: PreparedLoad | undefined;
  /** Resolves the caller of loadSnapshot once the snapshot's machine runs. */
  private loaded: (() => void) | undefined;
  /** Set when the host ends the run (quit, interrupt): the machine's 'stopped' means it. */
  private ending: VmExit | undefined;
  /** A reset the host asked for (its RESET event is sent already). */
  private hostReset = false;
  private readonly hvcConsole: boolean;
  /** The host scheduler's allowance, as a share of one core (the spec's cap applies too). */
  private allowance = 1;
  /** Waiting for an incoming migration; `autostart`: run once it has arrived (a resume
   *  meanwhile sets it, as QEMU's `cont` does while it is in 'inmigrate'). */
  private incoming: { autostart: boolean } | undefined;
  /** Stops the announce rounds after an incoming migration (the run ending). */
  private stopAnnounce: (() => void) | undefined;
  /** Share withheld by an outgoing migration's auto-converge. */
  private migrationThrottle = 0;
  /** CPU time of the boards before the current one (a reset starts a new board). */
  private pastBusyMs = 0;
  private pastStolenMs = 0;
  /** Resolved when the first machine exists (the GDB stub waits for harts to debug). */
  readonly attached: Promise<void>;
  private markAttached!: () => void;

  /** The harts run on threads of their own (spec.threads 'multi' on a host that has them). */
  private readonly threads: HartThreadSpawner | undefined;

  constructor(private readonly o: VmOptions) {
    this.spec = o.spec;
    this.threads = vcpuThreads(o.spec) === 'multi' ? o.services.hartThreads : undefined;
    // Until hart threads save their thread-local state (PMP, steal time) and stop for a
    // debugger, these need the harts on the VM's thread.
    if (this.threads && (o.debug || o.loadvm !== undefined)) throw new VmError('a debugger and --loadvm need --threads single for now');
    this.attached = new Promise((resolve) => (this.markAttached = resolve));
    if (o.incoming) this.incoming = { autostart: !o.startPaused };
    const append = o.boot.append;
    // The virtio console (hvc0) shares the console with the UART; typed input goes to
    // whichever the kernel command line makes the console.
    this.hvcConsole = /(^|\s)console=hvc0(\s|$)/.test(append);
    // RAM too small for the kernel, initrd, device tree or firmware is refused here,
    // before the front end opens a socket, a device or a terminal.
    planVirtBoot({ memSize: o.spec.memory, harts: o.spec.harts, kernel: o.boot.kernel, initrd: o.boot.initrd, append, bios: o.boot.firmware, rngSeed: new Uint8Array(32) });
    if (o.loadvm !== undefined) this.pendingLoad = this.store().prepare(o.loadvm, o.spec.disks);
    else if (o.restoreFrom) this.pendingLoad = o.restoreFrom;
    if (o.debug) {
      this.debugTarget = new HartDebugTarget(() => this.machine?.harts ?? [], {
        // A debugger stops a running VM; a paused one it finds stopped already.
        pause: () => { if (this.lifecycle.running) this.move('debug-stop'); },
        resume: () => this.resume(),
        kill: () => this.quit(),
      });
      this.lifecycle.on((e) => {
        if (e.event === 'STOP') this.debugTarget?.notifyPaused();
        if (e.event === 'RESUME') this.debugTarget?.notifyResumed();
      });
    }
  }

  /** The GDB stub's target (with `debug`): one for the VM's life, over the current harts. */
  get debug(): HartDebugTarget | undefined {
    return this.debugTarget;
  }

  get state(): VmState {
    return this.lifecycle.state;
  }

  /** Runs the VM until it ends; call once. */
  async run(): Promise<VmExit> {
    this.move(this.o.startPaused || this.incoming ? 'start-paused' : 'start');
    const exit = await this.runMachines();
    this.stopAnnounce?.();
    if (this.lifecycle.can('shutdown')) this.lifecycle.move('shutdown', SHUTDOWN_REASON[exit.kind]);
    if (exit.kind === 'poweroff') this.debugTarget?.notifyExit(exit.code);
    return exit;
  }

  private async runMachines(): Promise<VmExit> {
    for (let first = true; ; first = false) {
      // A guest that reboots at once would otherwise rebuild machines without ever
      // letting the host's event loop run: no console input, no QMP, no timers.
      if (!first) await new Promise<void>((resolve) => setTimeout(resolve, 0));
      // The host ended the run between two machines.
      if (this.ending) return this.ending;
      const load = this.pendingLoad;
      // The boot snapshot is the machine alone: it was saved before the guest used a disk.
      const fromBootSnapshot = load !== undefined && load === this.o.restoreFrom;
      if (load && !fromBootSnapshot) this.store().revert(load, this.spec.disks);
      const devices = withDiskLogs(await this.o.services.openDevices(this.spec));
      let machine: VirtMachine;
      try {
        // A machine that boots (or starts from the boot snapshot) goes through the snapshot
        // point, where the disks are inserted; one restored from a savevm has them already.
        machine = this.build(devices, this.o.emptyDrives === true && (!load || fromBootSnapshot));
        // A machine restored from a snapshot did not boot here: it is not a silent reset.
        if (load) applyLoad(load, machine);
      } catch (e) {
        devices.close();
        throw e;
      }
      this.pendingLoad = undefined;
      if (fromBootSnapshot) coldStart(machine);
      this.attach(machine, devices);
      this.loaded?.();
      this.loaded = undefined;
      const printed = this.watch.bytes;
      const result = await machine.run().finally(() => {
        devices.close();
        this.devices = undefined;
      });
      switch (result.kind) {
        case 'stopped':
          if (this.ending) return this.ending;
          if (this.pendingLoad) continue;
          return { kind: 'interrupted' };
        case 'poweroff':
          return this.watch.panicked ? { kind: 'panic' } : result;
        case 'stalled':
          return this.watch.panicked ? { kind: 'panic' } : result;
        case 'reset': {
          if (this.watch.panicked) return { kind: 'panic' };
          const byGuest = !this.hostReset;
          this.hostReset = false;
          if (!byGuest) continue;
          this.lifecycle.reset(true);
          // A guest that resets before printing a byte does the same on every boot: a
          // kernel panicking before its console is up, with panic= set (Debian's kernel
          // with 80 MiB runs out of memory in an initcall). Rebooting it is a silent loop.
          if (!load && this.watch.bytes === printed) return { kind: 'silent-reset' };
        }
      }
    }
  }

  private build(devices: VmDevices, emptyDrives: boolean): VirtMachine {
    const { spec, boot, services } = this.o;
    const rngSeed = new Uint8Array(32);
    services.entropy(rngSeed);
    const genid = this.o.vmgenid ? new Uint8Array(VMGENID_BYTES) : undefined;
    if (genid) services.entropy(genid);
    const console = (bytes: Uint8Array) => {
      this.watch.write(bytes);
      services.console(bytes);
      // A panicked kernel's spin loop ends the run (VirtMachine.endOnKernelSpin).
      if (this.watch.panicked) this.machine?.endOnKernelSpin();
    };
    return new VirtMachine({
      memSize: spec.memory,
      harts: spec.harts,
      kernel: boot.kernel,
      initrd: boot.initrd,
      append: boot.append,
      bios: boot.firmware,
      console,
      rngSeed,
      wallClockMs: services.wallClockMs,
      virtio: {
        disks: devices.disks.map((d) => (emptyDrives ? emptyDrive(d.backend) : d.backend)),
        nics: devices.nics,
        shares: devices.shares,
        rng: (buf) => services.entropy(buf),
        console,
      },
      exec: spec.exec,
      threads: this.threads,
      ...(genid && { vmgenid: genid }),
    });
  }

  private attach(m: VirtMachine, devices: VmDevices): void {
    if (this.machine) {
      this.pastBusyMs += this.machine.busyMs;
      this.pastStolenMs += this.machine.stolenMs;
    }
    this.machine = m;
    m.setCpuLimit(this.cpuLimit());
    this.devices = devices;
    if (this.debugTarget) m.debugGate = this.debugTarget;
    this.holdOrRelease();
    if (!this.lifecycle.running) this.debugTarget?.notifyPaused();
    this.markAttached();
  }

  /** The board's harts run exactly while the lifecycle says running. */
  private holdOrRelease(): void {
    if (this.lifecycle.running) this.machine?.resume();
    else this.machine?.pause();
  }

  private move(t: Parameters<Lifecycle['move']>[0]): void {
    this.lifecycle.move(t);
    this.holdOrRelease();
  }

  private store() {
    const s = this.o.services.snapshots;
    if (!s) throw new VmError('snapshots are not available for this VM');
    return s;
  }

  /** Carries out an action, or throws: IllegalTransition when the state forbids it
   *  (pause a paused VM), VmError when it cannot be done. The monitors' VmControl
   *  methods below are QEMU's lenient forms of the same. */
  async dispatch(a: VmAction): Promise<void> {
    switch (a.type) {
      case 'pause': return this.move('pause');
      case 'resume': return this.incoming ? this.resume() : this.move('resume');
      case 'reset': return this.reset();
      case 'powerdown': return this.powerdown();
      case 'quit': return this.quit();
      case 'interrupt': return this.interrupt();
      case 'snapshot-save': return this.saveSnapshot(a.name);
      case 'snapshot-load': return this.loadSnapshot(a.name);
      case 'console-input': return this.consoleInput(a.bytes);
    }
  }

  consoleInput(bytes: Uint8Array): void {
    if (this.hvcConsole) this.machine?.virtioConsoleInput(bytes);
    else this.machine?.consoleInput(bytes);
  }

  /** SIGINT: the run ends as QEMU's does on a signal. */
  interrupt(): void {
    this.end({ kind: 'interrupted' });
  }

  private end(exit: VmExit): void {
    this.ending ??= exit;
    this.stopAnnounce?.();
    if (this.lifecycle.can('shutdown')) this.lifecycle.move('shutdown', SHUTDOWN_REASON[exit.kind]);
    this.machine?.stop();
  }

  // VmControl: what QMP, HMP and the GDB stub drive.

  status(): RunState {
    const s = this.lifecycle.state;
    if (this.incoming && s !== 'shutdown') return 'inmigrate';
    // QEMU calls a VM that has not started yet (-S) paused, in its "prelaunch" state.
    return s === 'created' ? 'paused' : s;
  }

  pause(): void {
    if (this.lifecycle.can('pause')) this.move('pause');
  }

  resume(): void {
    if (this.incoming) this.incoming.autostart = true;
    else if (this.lifecycle.can('resume')) this.move('resume');
  }

  powerdown(): void {
    this.lifecycle.powerdown();
    this.machine?.powerButton();
  }

  reset(): void {
    if (!this.machine) return;
    this.hostReset = true;
    this.machine.reset();
    this.lifecycle.reset(false);
  }

  quit(): void {
    this.end({ kind: 'quit' });
  }

  cpus(): CpuInfo[] {
    return cpuInfo(this.harts);
  }

  blocks(): BlockInfo[] {
    return this.spec.disks.map((d, i) => ({ device: `virtio${i}`, file: d.file, format: d.format ?? 'auto', readOnly: d.readOnly ?? false }));
  }

  registers(cpu: number): NamedValue[] {
    return hartRegisters(this.harts, cpu);
  }

  private cpuLimit(): number {
    return Math.min(this.allowance, cpuCap(this.spec)) * (1 - this.migrationThrottle);
  }

  /** The running machine as a migration's source (migration/engine.ts drives it). */
  migrationSource(o: { mirrorDisks?: boolean } = {}): MigrationSource {
    const m = this.machine;
    if (!m) throw new VmError('the VM is not running');
    const mirror = o.mirrorDisks ? this.localDisks() : [];
    if (o.mirrorDisks && !mirror.length) throw new VmError('the VM has no local writable disk to copy along (blk): its disks are shared or read-only');
    if (this.threads) throw new VmError('migrating a VM with hart threads is not supported yet (use --threads single)');
    return {
      memory: m.mem,
      config: () => migrationConfig(this.spec, this.o.vmgenid === true),
      pause: () => { if (this.lifecycle.can('pause')) this.move('pause'); },
      resume: () => { if (this.lifecycle.can('resume')) this.move('resume'); },
      throttle: (share) => {
        this.migrationThrottle = share;
        this.machine?.setCpuLimit(this.cpuLimit());
      },
      mirror,
      saveState: () => {
        // What the guest wrote must be on the disk before the destination opens it.
        for (const d of this.devices?.disks ?? []) d.backend.flush();
        return saveVirt(m, { ram: false });
      },
    };
  }

  /**
   * This VM as a migration's destination (it was built with `incoming`, paused, and has
   * never run): the pages go straight into its RAM as they arrive, and the switch-over
   * restores the CPU and device state over them in place, with no rebuild, so the
   * source's guest is paused only for the last round and that restore.
   */
  async migrationDestination(): Promise<MigrationDestination> {
    const incoming = this.incoming;
    if (!incoming) throw new VmError('the VM was not started to receive a migration (--incoming)');
    if (this.threads) throw new VmError('migrating a VM with hart threads is not supported yet (use --threads single)');
    await this.attached;
    const m = this.machine;
    if (!m) throw new VmError('the VM is not running');
    return {
      memory: m.mem,
      check: (config) => configMismatch(migrationConfig(this.spec, this.o.vmgenid === true), config),
      start: async (state) => {
        if (this.machine !== m || this.incoming !== incoming) throw new VmError('the VM changed while its migration came in');
        // The source wrote the shared disks up to its pause: nothing cached here from
        // before may be believed (QEMU's bdrv_invalidate_cache).
        for (const d of this.devices?.disks ?? []) d.backend.invalidate?.();
        try {
          restoreVirt(m, state, { ramInPlace: true });
        } catch (e) {
          if (e instanceof SnapshotError) throw new VmError(`the migrated state: ${e.message}`);
          throw e;
        }
      },
      ownState: () => saveVirt(m, { ram: false }),
      mirrorTargets: () => new Map(this.localDisks().map((l) => [l.index, l.disk])),
      run: () => {
        // Until now a failed confirmation left it waiting ('inmigrate'), never resumable.
        this.incoming = undefined;
        if (incoming.autostart && this.lifecycle.can('resume')) this.move('resume');
        // The network learns where the guest is now (a paused one announces as well: its
        // MACs moved all the same, as QEMU's announce does at the switch-over).
        this.stopAnnounce = scheduleAnnounce(() => this.machine?.announceNics());
      },
    };
  }

  /** The writable local disks, with their dirty logs (what `blk` copies along, and what
   *  an incoming `blk` copies into), by index in the spec. */
  private localDisks(): { index: number; disk: LoggedDisk }[] {
    return (this.devices?.disks ?? []).flatMap((d, index) => (d.backend instanceof LoggedDisk ? [{ index, disk: d.backend }] : []));
  }

  /** The share of one host core the host's scheduler allows this VM now. */
  setAllowance(fraction: number): void {
    this.allowance = fraction;
    this.machine?.setCpuLimit(this.cpuLimit());
  }

  /** Host milliseconds spent running the guest, and withheld from it while it was ready
   *  to run (its steal time), over the VM's life. */
  cpuTime(): { busyMs: number; stolenMs: number } {
    return { busyMs: this.pastBusyMs + (this.machine?.busyMs ?? 0), stolenMs: this.pastStolenMs + (this.machine?.stolenMs ?? 0) };
  }

  /** Per hart (vCPU): guest instructions retired by this machine (minstret: since the
   *  last rebuild) and steal time in ns; and the RAM written (pages in the dirty log). */
  counters(): { harts: { instructions: number; stealNs: number }[]; ramTouchedBytes: number } {
    const m = this.machine;
    if (!m) return { harts: [], ramTouchedBytes: 0 };
    const harts = m.harts.map((h, i) => ({
      instructions: Number(readHartRegister(h, { kind: 'csr', csr: CSR_MINSTRET }) ?? 0n),
      stealNs: m.sbi?.sta.steal[i] ?? 0,
    }));
    return { harts, ramTouchedBytes: m.mem.dirtyCount() * 4096 };
  }

  vcpuStats(): VcpuStats[] {
    return this.counters().harts;
  }

  translatorStats(): TranslatorStats | undefined {
    return this.machine?.translatorStats();
  }

  /** Saves the VM under `name`; between slices, as every host callback is. */
  async saveSnapshot(name: string): Promise<void> {
    const m = this.machine, devices = this.devices;
    if (!m || !devices) throw new VmError('the VM is not running');
    if (this.threads) throw new VmError('snapshots of a VM with hart threads are not supported yet (use --threads single)');
    for (const d of devices.disks) d.backend.flush();
    this.store().save(name, saveVirt(m), devices.disks);
  }

  /** The whole machine's state, RAM included (as views of guest RAM: write it out before
   *  the guest runs again); between slices, as every host callback is. */
  captureState(): MachineSnapshot {
    const m = this.machine;
    if (!m) throw new VmError('the VM is not running');
    if (this.threads) throw new VmError('saving a VM with hart threads is not supported yet (use --threads single)');
    return saveVirt(m);
  }

  /** Gives the empty drives (emptyDrives) the VM's disks: the guest sees each one's
   *  capacity change. */
  insertDisks(): void {
    const m = this.machine, devices = this.devices;
    if (!m || !devices) throw new VmError('the VM is not running');
    devices.disks.forEach((d, i) => m.virtio.disks[i].insert(d.backend));
  }

  /** Tells the guest it is a new fork of what was saved (its VM generation ID changes:
   *  Linux reseeds its random number generator at once). */
  newGeneration(): void {
    const g = this.machine?.vmgenid;
    if (!g) throw new VmError('the VM has no VM generation ID device');
    const id = new Uint8Array(VMGENID_BYTES);
    this.o.services.entropy(id);
    g.change(id);
  }

  /**
   * Loads snapshot `name`: the disks' images are replaced, so everything is rebuilt
   * around them; resolves once the restored machine runs. A trial restore into the
   * running machine first checks the state against this configuration while the disks
   * are untouched: a refusal leaves the VM running as it was (restoreVirt rolls back).
   */
  loadSnapshot(name: string): Promise<void> {
    if (this.threads) return Promise.reject(new VmError('snapshots of a VM with hart threads are not supported yet (use --threads single)'));
    return this.load(() => this.store().prepare(name, this.spec.disks));
  }

  /** Rebuilds the machine from a prepared load (a snapshot, or a migrated state); resolves
   *  once it runs. The trial restore into the running machine refuses a bad state first. */
  private load(prepare: () => PreparedLoad): Promise<void> {
    // A second load before the first took effect would leave the first caller waiting.
    if (this.loaded) return Promise.reject(new VmError('a snapshot load is already in progress'));
    try {
      const load = prepare();
      if (this.machine) applyLoad(load, this.machine);
      this.pendingLoad = load;
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const done = new Promise<void>((resolve) => (this.loaded = resolve));
    this.machine?.stop();
    return done;
  }

  onEvent(listener: (e: VmEvent) => void): () => void {
    return this.lifecycle.on(listener);
  }

  private get harts(): readonly Hart[] {
    return this.machine?.harts ?? [];
  }
}

/** Every writable local disk behind a dirty log (a migration may copy it along); shared
 *  (NBD) and read-only disks as they are. */
function withDiskLogs(devices: VmDevices): VmDevices {
  return {
    ...devices,
    close: () => devices.close(),
    disks: devices.disks.map((d) => (d.spec.readOnly || d.shared ? d : { ...d, backend: new LoggedDisk(d.backend) })),
  };
}

/** A machine restored into a new process runs code that is cold everywhere at once (the
 *  command /init starts, the kernel's exec and fault paths): translating each page after
 *  the usual 50 executions cost a boot snapshot's `-- true` more than it saved (0.58 s of
 *  guest work against 0.34 s with 1000; the interpreter alone 0.23 s). So for its first
 *  COLD_START_MS only code run COLD_THRESHOLD times is translated; hot loops reach that
 *  at once. */
const COLD_THRESHOLD = 1000;
const COLD_START_MS = 2000;
function coldStart(m: VirtMachine): void {
  const usual = m.translationThreshold;
  if (usual === undefined) return;
  m.setTranslationThreshold(COLD_THRESHOLD);
  setTimeout(() => m.setTranslationThreshold(usual), COLD_START_MS).unref?.();
}

/** Applies a prepared snapshot to `m`; nothing changes in `m` when it throws. */
function applyLoad(load: PreparedLoad, m: VirtMachine): void {
  try {
    restoreVirt(m, load.state);
  } catch (e) {
    if (e instanceof SnapshotError) throw new VmError(`snapshot ${load.name}: ${e.message}`);
    throw e;
  }
}
