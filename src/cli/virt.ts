// `rvisor run [IMAGE] [-- CMD ARGS...]`: the virt board with Debian's kernel, like
// `qemu-system-riscv64 -M virt`, or like `docker run` when a command is given.

import { randomBytes } from 'node:crypto';
import { EXIT_MARKER, ImageMissing, guestCommandLine, openImage, pullImage } from '../host/index.js';
import { STALL_LIMITS } from '../machine/stall.js';
import { planVirtBoot, type VirtExit, VirtMachine } from '../machine/virt.js';
import { VIRT } from '../machine/virt-map.js';
import { TerminalConsole } from './console.js';
import { EXIT_PANIC } from './errors.js';
import { checkInputDir, checkInputImage, readInputFile } from './input-files.js';
import { OutputWatch } from './output-watch.js';
import { type ControlOptions, VmControlSurface } from './vm-control.js';
import { applyMachine, type PreparedLoad, prepareLoad, revertDisks, saveSnapshot } from './snapshots.js';
import { type DeviceOptions, openDevices, type VmDevices } from './vm-devices.js';

export interface VirtRunOptions {
  image: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Firmware path; undefined = rvisor's own SBI. */
  bios?: string;
  memSize: number;
  harts: number;
  command: string[];
  devices: Omit<DeviceOptions, 'console'>;
  control: Pick<ControlOptions, 'qmp' | 'gdb' | 'startPaused'>;
  /** Start from this snapshot (QEMU's -loadvm). */
  loadvm?: string;
  exec: 'interp' | 'jit';
}

/** Kernel arguments for the default image: serial console, quiet, reboot on panic, and
 *  the SBI's early console, which shows a panic that comes before ttyS0 is up. With
 *  quiet it shows nothing else, provided quiet comes first: early parameters are taken
 *  in order, and earlycon prints what was logged before it at the loglevel of the time. */
const DEFAULT_APPEND = 'console=ttyS0 quiet earlycon=sbi panic=-1';

async function imageFiles(name: string): Promise<{ kernel: Uint8Array; initrd: Uint8Array }> {
  try {
    return await openImage(name);
  } catch (e) {
    if (!(e instanceof ImageMissing)) throw e;
    process.stderr.write(`rvisor: image ${name} not found locally: pulling it\n`);
    await pullImage(name, { progress: (line) => process.stderr.write(`  ${line}\n`) });
    return await openImage(name);
  }
}

export async function runVirt(o: VirtRunOptions): Promise<number> {
  // Every host path first, so that a bad one is reported before an image is pulled.
  const read = (option: string, path: string) => readInputFile(option, path, o.memSize);
  const ownKernel = o.kernel !== undefined ? read('--kernel', o.kernel) : undefined;
  const ownInitrd = o.initrd !== undefined ? read('--initrd', o.initrd) : undefined;
  const bios = o.bios !== undefined ? read('--bios', o.bios) : undefined;
  for (const d of o.devices.disks) checkInputImage('--disk', d.file, d.readOnly);
  for (const s of o.devices.shares) checkInputDir('--share', s.dir);
  let kernel: Uint8Array, initrd: Uint8Array | undefined;
  if (ownKernel) {
    kernel = ownKernel;
    initrd = ownInitrd;
  } else {
    const files = await imageFiles(o.image);
    kernel = files.kernel;
    initrd = ownInitrd ?? files.initrd;
  }
  let append = o.append ?? DEFAULT_APPEND;
  if (o.command.length) append += ' ' + guestCommandLine(o.command);
  // RAM too small for the kernel, initrd, device tree or firmware: refused before any
  // socket, device or terminal is set up.
  planVirtBoot({ memSize: o.memSize, harts: o.harts, kernel, initrd, append, bios, rngSeed: new Uint8Array(32) });

  const watch = new OutputWatch(EXIT_MARKER, o.command.length > 0, (b) => process.stdout.write(b));
  // The virtio console (hvc0) shares the terminal with the UART: its output is interleaved,
  // and typed input goes to whichever the kernel command line makes the console.
  const hvcConsole = /(^|\s)console=hvc0(\s|$)/.test(append);
  let machine: VirtMachine | undefined;
  let devices: VmDevices | undefined;
  /** A snapshot to load when the next machine is built (--loadvm, or loadvm while running). */
  let pendingLoad: PreparedLoad | undefined = o.loadvm ? prepareLoad(o.loadvm, o.devices.disks) : undefined;
  let loaded: (() => void) | undefined;
  const surface = new VmControlSurface({
    ...o.control,
    blocks: o.devices.disks.map((d, i) => ({ device: `virtio${i}`, file: d.file, format: d.format ?? 'auto', readOnly: d.readOnly })),
    write: (text) => process.stdout.write(text),
    powerdown: () => machine?.powerButton(),
    saveSnapshot: async (tag) => {
      if (!machine || !devices) throw new Error('the VM is not running');
      saveSnapshot(tag, machine, o.devices.disks, devices.virtio.disks ?? []);
    },
    // The disks' images are replaced, so everything is rebuilt around them: the run loop
    // ends here and the next machine starts from the snapshot.
    loadSnapshot: (tag) => {
      // A second load before the first took effect would replace its `loaded` and
      // leave the first caller (a QMP job) waiting forever.
      if (loaded) throw new Error('a snapshot load is already in progress');
      const load = prepareLoad(tag, o.devices.disks);
      // A trial restore into the running machine checks the state against this
      // machine's configuration while the disks are untouched: a refusal leaves the
      // machine as it was (restoreVirt rolls back), and the VM runs on. On success the
      // machine stops before it runs another instruction; the next one loads it for real.
      if (machine) applyMachine(load, machine);
      pendingLoad = load;
      const done = new Promise<void>((resolve) => (loaded = resolve));
      machine?.stop();
      return done;
    },
  });
  await surface.listen();
  let userQuit = false;
  let monitorShown = false;
  const terminal = new TerminalConsole({
    input: (b) => {
      if (monitorShown) surface.monitor.input(b);
      else if (hvcConsole) machine?.virtioConsoleInput(b);
      else machine?.consoleInput(b);
    },
    quit: () => {
      userQuit = true;
      machine?.stop();
    },
    toggleMonitor: () => {
      monitorShown = !monitorShown;
      if (monitorShown) surface.monitor.open();
      else process.stdout.write('\r\n');
    },
  });
  const restore = () => terminal.stop();
  process.once('exit', restore);
  const onSigint = () => machine?.stop();
  if (!process.stdin.isTTY) process.once('SIGINT', onSigint);
  terminal.start();
  let result: VirtExit | { kind: 'silent-reset' };
  // The console callbacks tell the machine once its kernel has panicked (see endOnKernelSpin).
  const toWatch = (bytes: Uint8Array) => {
    watch.write(bytes);
    if (watch.panicked) machine?.endOnKernelSpin();
  };
  try {
    // A guest reset (reboot, QMP system_reset) or a loadvm starts a new machine; the
    // devices' backends are reopened with it (after a loadvm, on the restored images).
    for (let first = true; ; first = false) {
      if (pendingLoad) revertDisks(pendingLoad, o.devices.disks);
      devices = await openDevices({ ...o.devices, console: toWatch });
      machine = new VirtMachine({
        memSize: o.memSize,
        harts: o.harts,
        kernel,
        initrd,
        append,
        bios,
        console: toWatch,
        rngSeed: randomBytes(32),
        virtio: devices.virtio,
        exec: o.exec,
      });
      // A machine restored from a snapshot did not boot here: what it printed before is
      // not on this console.
      const booted = !pendingLoad;
      if (pendingLoad) {
        applyMachine(pendingLoad, machine);
        pendingLoad = undefined;
      }
      surface.attach(machine, first);
      loaded?.();
      loaded = undefined;
      const printed = watch.bytes;
      result = await machine.run();
      devices.close();
      devices = undefined;
      if (result.kind === 'stopped' && pendingLoad && !userQuit && !surface.quitRequested) continue;
      if (result.kind !== 'reset' || watch.panicked) break;
      // A guest that resets before printing a byte does the same on every boot: that is
      // a kernel panicking before its console is up, with panic= set (Debian's kernel
      // with --mem 80M runs out of memory in an initcall). Rebooting it is an endless
      // silent loop.
      if (surface.resetEnded() && booted && watch.bytes === printed) {
        result = { kind: 'silent-reset' };
        break;
      }
    }
    if (result.kind === 'poweroff') surface.guestShutdown(result.code);
  } finally {
    devices?.close();
    terminal.stop();
    process.off('exit', restore);
    process.off('SIGINT', onSigint);
    watch.flush();
    await surface.close();
  }
  if (surface.quitRequested) return 0;
  if (watch.panicked) {
    process.stderr.write('rvisor: the guest kernel panicked\n');
    return EXIT_PANIC;
  }
  switch (result.kind) {
    case 'poweroff': return result.code;
    case 'reset':
      return 1;
    case 'stopped': return userQuit ? 0 : 130;
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
