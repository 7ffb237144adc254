// `rvisor run [IMAGE] [-- CMD ARGS...]`: the virt board with Debian's kernel, like
// `qemu-system-riscv64 -M virt`, or like `docker run` when a command is given. The
// command line has become a VmSpec; here it meets a Vm, the terminal and the sockets.

import { randomFillSync } from 'node:crypto';
import { EXIT_MARKER } from '../host/index.js';
import { SNAPSHOT_POINT_MARKER } from '../host/image/init-script.js';
import { type HostBootFiles, readBootFiles } from '../host/vm/boot-files.js';
import { attachRootDisk } from '../host/vm/root-disk.js';
import { BootSnapshotRun, ineligible, planBootSnapshot } from '../host/vm/boot-snapshot.js';
import { nodeDevices } from '../host/vm/devices.js';
import { FileSnapshotStore } from '../host/vm/snapshot-store.js';
import { nodeHartThreads, threadsAvailable } from '../host/vcpu/node-threads.js';
import { reclaimTranslatedCode } from '../host/engine/code-reclaim.js';
import { STALL_LIMITS } from '../machine/stall.js';
import { VIRT } from '../machine/virt-map.js';
import type { VmSpec } from '../vmm/spec.js';
import { Vm, type VmExit } from '../vmm/vm.js';
import { TerminalConsole } from './console.js';
import { EXIT_PANIC, UsageError } from './errors.js';
import { OutputWatch } from './output-watch.js';
import { VmSockets } from './vm-sockets.js';
import { MigrationController } from '../host/migration/controller.js';
import { FAULT_PHASES, type FaultPhase } from '../host/migration/test-fault.js';

export interface VirtRunOptions {
  spec: VmSpec;
  qmp?: string;
  gdb?: string;
  /** -S: wait for `cont` (QMP, monitor) or a debugger before running the guest. */
  startPaused: boolean;
  /** Start from this snapshot (QEMU's -loadvm). */
  loadvm?: string;
  /** Wait for a migration at this URI (QEMU's -incoming tcp:HOST:PORT | unix:PATH), or
   *  'defer': at the URI QMP's migrate-incoming names. */
  incoming?: string;
  /** Start from the image's boot snapshot (or make it) when the VM can (boot-snapshot.ts). */
  bootSnapshot?: boolean;
  /** A system image's root disk overlay to keep (made on first use); absent: thrown away. */
  rootDisk?: string;
}

/** Messages name the command line's options. */
const OPTION_NAMES = { kernel: '--kernel', initrd: '--initrd', firmware: '--bios', disk: '--disk', share: '--share', publish: '--publish', net: '--net' };

export async function runVirt(o: VirtRunOptions): Promise<number> {
  // The VM runs on this thread (its harts too, unless they have threads of their own).
  reclaimTranslatedCode();
  const stderr = (line: string) => process.stderr.write(`${line}\n`);
  const read = await readBootFiles(o.spec, {
    names: OPTION_NAMES,
    pulling: (image) => stderr(`rvisor: image ${image} not found locally: pulling it`),
    progress: (line) => stderr(`  ${line}`),
  });
  const root = await attachRootDisk(o.spec, read, o.rootDisk);
  try {
    return await runOn(o, root.spec, root.files);
  } finally {
    await root.cleanup();
  }
}

async function runOn(o: VirtRunOptions, spec: VmSpec, files: HostBootFiles): Promise<number> {
  const stderr = (line: string) => process.stderr.write(`${line}\n`);
  // The VM generation ID device is part of every VM that could start from a boot snapshot
  // (unless --no-boot-snapshot): the device set follows from the options alone, so a
  // migration's destination or a --loadvm gets the board its source had. The snapshot
  // itself is for a VM that simply runs: not one that waits (-S, --incoming), starts from
  // a snapshot of its own (--loadvm) or is debugged from its first instruction.
  const vmgenid = o.bootSnapshot === true && !ineligible(spec, files);
  const snapshotable = vmgenid && !o.startPaused && o.incoming === undefined && o.loadvm === undefined && o.gdb === undefined;
  const plan = snapshotable ? planBootSnapshot(spec, files, { warn: (m) => stderr(`rvisor: ${m}`) }) : undefined;
  const boot = plan ? { ...files, append: plan.append } : files;
  const command = spec.boot.command ?? [];
  let snapshotRun: BootSnapshotRun | undefined;
  // /init's exit-status line comes after its last sync: the command is over, and the VM
  // ends there with that status rather than waiting for the guest to power off.
  let marked: number | undefined;
  const exited = (line: string) => {
    const n = Number(line.slice(EXIT_MARKER.length).trim());
    if (!Number.isInteger(n) || n < 0 || n > 255 || marked !== undefined) return;
    marked = n;
    setImmediate(() => vm.quit());
  };
  const watch = new OutputWatch([
    ...(command.length ? [{ text: EXIT_MARKER, seen: exited, anywhere: true }] : []),
    { text: SNAPSHOT_POINT_MARKER, seen: () => snapshotRun?.reached() },
  ], (b) => process.stdout.write(b));
  const vm = new Vm({
    spec,
    boot,
    ...(plan && { restoreFrom: plan.load, emptyDrives: true }),
    vmgenid,
    services: {
      openDevices: nodeDevices({ names: OPTION_NAMES, warn: (m) => stderr(`rvisor: warning: ${m}`) }),
      snapshots: new FileSnapshotStore(),
      entropy: (buf) => randomFillSync(buf),
      console: (bytes) => watch.write(bytes),
      ...(threadsAvailable() && { hartThreads: nodeHartThreads() }),
    },
    startPaused: o.startPaused,
    incoming: o.incoming !== undefined,
    loadvm: o.loadvm,
    debug: o.gdb !== undefined,
  });
  if (plan) {
    const run = snapshotRun = new BootSnapshotRun(plan, vm, (line) => stderr(`rvisor: ${line}`));
    void vm.attached.then(() => run.started());
  }
  const migration = new MigrationController(vm, (line) => stderr(`rvisor: ${line}`));
  vm.migration = migration;
  let incomingFailed = false;
  // As QEMU exits when its incoming migration fails.
  migration.onIncomingFailure = () => {
    incomingFailed = true;
    vm.quit();
  };
  const fault = process.env.RVISOR_TEST_MIGRATION_FAULT as FaultPhase | undefined;
  if (process.env.RVISOR_TEST_HOOKS === '1' && fault !== undefined) {
    if (!FAULT_PHASES.includes(fault)) throw new UsageError(`RVISOR_TEST_MIGRATION_FAULT=${fault}: one of ${FAULT_PHASES.join(', ')}`);
    migration.testFault = fault;
  }
  // -incoming defer: the URI comes later, by QMP migrate-incoming.
  if (o.incoming !== undefined && o.incoming !== 'defer') migration.listen(o.incoming);
  const sockets = new VmSockets(vm, { qmp: o.qmp, gdb: o.gdb, write: (text) => process.stdout.write(text) });
  await sockets.listen();
  let monitorShown = false;
  const terminal = new TerminalConsole({
    input: (b) => (monitorShown ? sockets.monitor.input(b) : vm.consoleInput(b)),
    quit: () => vm.quit(),
    toggleMonitor: () => {
      monitorShown = !monitorShown;
      if (monitorShown) sockets.monitor.open();
      else process.stdout.write('\r\n');
    },
  });
  const restore = () => terminal.stop();
  process.once('exit', restore);
  const onSigint = () => vm.interrupt();
  if (!process.stdin.isTTY) process.once('SIGINT', onSigint);
  terminal.start();
  let exit: VmExit;
  try {
    exit = await vm.run();
  } finally {
    terminal.stop();
    process.off('exit', restore);
    process.off('SIGINT', onSigint);
    watch.flush();
    await sockets.close();
  }
  if (incomingFailed) return 1;
  return marked !== undefined && exit.kind === 'quit' ? marked : exitStatus(exit, boot.append);
}

function exitStatus(exit: VmExit, append: string): number {
  switch (exit.kind) {
    case 'poweroff': return exit.code;
    case 'quit': return 0;
    case 'interrupted': return 130;
    case 'panic':
      process.stderr.write('rvisor: the guest kernel panicked\n');
      return EXIT_PANIC;
    case 'stalled':
      process.stderr.write(`rvisor: ${stallMessage(append)}\n`);
      return EXIT_PANIC;
    case 'silent-reset':
      process.stderr.write(`rvisor: the guest reset before printing anything${earlyPanicHint(append)}\n`);
      return EXIT_PANIC;
  }
}

function stallMessage(append: string): string {
  const seconds = STALL_LIMITS.ticks / VIRT.timebaseHz;
  return `the guest hung: no hart could take an interrupt and nothing reached a device for ${seconds} s${earlyPanicHint(append)}`;
}

/** A guest that stops before printing most likely panicked before its console was up;
 *  the SBI early console shows such a panic, unless it is on already (or the firmware
 *  has none for this kernel: OpenSBI before 1.3 lacks DBCN). */
function earlyPanicHint(append: string): string {
  return /(^|\s)earlycon(=|\s|$)/.test(append) ? ' (an early kernel panic?)' : ' (an early kernel panic? add earlycon=sbi to --append to see it)';
}
