#!/usr/bin/env node
// The `rvisor` command.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { ImageError, listImages, pullImage, removeImage } from '../host/index.js';
import { AsmError } from '../isa/asm.js';
import { ElfError } from '../isa/elf.js';
import { LoadError } from '../machine/loader.js';
import { runBareMetal } from './baremetal.js';
import { DISK_USAGE, diskCommand } from './disk.js';
import { NBD_USAGE, nbdCommand } from './nbd-cmd.js';
import { SNAPSHOT_USAGE, snapshotCommand } from './snapshot-cmd.js';
import { serveCommand, SERVE_USAGE } from './serve.js';
import { DaemonError, report } from './api-client.js';
import { VM_COMMANDS, VM_USAGE, daemonSnapshot, imageLine } from './vm-commands.js';
import { NETWORK_USAGE, networkCommand } from './network-commands.js';
import { EXIT_INTERNAL, EXIT_USAGE, UsageError } from './errors.js';
import { MACHINE_OPTIONS, sizeOf, specFromFlags, splitCommand } from './run-spec.js';
import { runVirt } from './virt.js';
import { BootSnapshots } from '../host/image/boot-snapshot.js';
import { SpecError } from '../vmm/spec.js';
import { VmError } from '../vmm/vm-services.js';

const DEMO = fileURLToPath(new URL('../../../examples/hello.S', import.meta.url));

const USAGE = `usage: rvisor run [IMAGE] [options] [-- CMD ARGS...]
       rvisor image pull|ls|rm [NAME]   (rm NAME --boot-snapshots: only its boot snapshots)
       rvisor disk create|info|convert|check ...
       rvisor nbd serve FILE ...
       rvisor snapshot ls|rm|save|restore ...
       ${SERVE_USAGE}
       rvisor create|start|stop|ps|console|rm|... (VMs of the daemon: see below)

rvisor run                     boot the default image (debian) to a shell on this terminal
rvisor run debian -- CMD ARGS  boot, run CMD in the guest, exit with its status
rvisor run debian-system       boot a Debian system disk (systemd) to a login on
                               this terminal (root, no password); poweroff ends it
  --kernel PATH    a Linux Image/ELF/raw kernel instead of the image's
  --initrd PATH    an initramfs instead of the image's
  --append TEXT    the kernel command line
  --bios PATH      M-mode firmware to boot through (e.g. OpenSBI fw_dynamic.bin);
                   default: rvisor's own SBI
  --bios none      bare metal: run --kernel (ELF or .S) in M-mode on the HTIF board;
                   without --kernel, the bundled demo
  --mem SIZE       guest RAM, e.g. 512M or 2G (default 512M; bare metal 128M)
  --smp N          harts (default 1)
  --cpu-cap PCT    use at most PCT% of one host core; the guest sees the time
                   withheld as steal time (SBI STA)
  --cpu-shares N   weight when the daemon's host is overcommitted (default 256)
  --dedicated      (daemon VMs) a host core per hart and the VM's memory reserved
                   for it alone; refused when they cannot be
  --exec jit|interp  translate hot guest code to WebAssembly (default), or run
                   everything on the interpreter
  --max-insns N    bare metal: stop with status 3 after N instructions
  --disk file=PATH[,format=raw|qcow2][,ro][,serial=ID]
                   a virtio disk (repeat for more: the first is /dev/vda); the
                   image's /init mounts it as / with --append '... root=/dev/vda'.
                   PATH may be an NBD export: nbd://HOST[:PORT]/NAME or
                   nbd+unix:///NAME?socket=SOCKET (rvisor nbd serve, qemu-nbd)
  --net user[,mac=M][,capture=FILE]
                   user-mode NAT (default; the guest gets 10.0.2.15 by DHCP and
                   reaches the host as 10.0.2.2); capture= writes a pcap file
  --net socket,listen=|connect=HOST:PORT|unix:PATH[,mac=M][,capture=FILE]
                   a wire to one peer, another rvisor or QEMU (-netdev socket or
                   stream); the image's /init takes --append rvisor.ip=ADDR/PREFIX
  --net switch=NAME[,vlan=N][,mac=M][,capture=FILE]
                   a port on the daemon's virtual switch NAME (rvisor network)
  --net vxlan,vni=N,remote=IP[:PORT][,local=[IP][:PORT]][,mac=M][,capture=FILE]
                   a VXLAN tunnel (UDP 4789 by default) to another rvisor or to
                   Linux's vxlan device (ip link add ... type vxlan id N remote IP)
  --net tap,ifname=NAME[,mac=M][,capture=FILE]
                   a host TAP device NAME, made while the VM runs by socat (needs
                   root and the socat package); bridge or address it on the host
  --net none       no network card
  --publish [ADDR:]HOSTPORT:GUESTPORT[/udp]
                   forward a host port (on 127.0.0.1 unless ADDR) to the guest
  --share HOSTDIR:TAG[,ro]
                   share a host directory over virtio-9p; /init mounts it at /mnt/TAG
  --qmp unix:PATH|tcp:[HOST]:PORT
                   a QMP monitor (QEMU's protocol; tcp listens on 127.0.0.1 by default)
  --gdb tcp::PORT  a GDB remote stub (gdb-multiarch: target remote :PORT); -s = port 1234
  -S               start paused: wait for QMP/monitor 'cont' or the debugger
  --incoming tcp:HOST:PORT|unix:PATH|defer
                   wait for a live migration from another rvisor (QMP migrate
                   there), then run the migrated guest; defer: at the URI QMP
                   migrate-incoming gives
  --loadvm NAME    start from a snapshot (savevm in the monitor, QMP, or
                   rvisor snapshot save) taken with the same options
  --no-boot-snapshot
                   boot for real: by default an image's VM starts from the
                   image's boot snapshot for these options (made by the first
                   run, kept beside the image: rvisor image ls)
  --root-disk FILE (debian-system) run on FILE, a qcow2 overlay of the image's
                   disk made on first use and kept: the next run boots what this
                   one left; without it, each run's changes are thrown away

On the console: Ctrl-A X quits, Ctrl-A C opens the monitor, Ctrl-A H lists the keys.

VMs of the host daemon (rvisor serve), over its API:
${VM_USAGE}

${NETWORK_USAGE}

${SNAPSHOT_USAGE}

${DISK_USAGE}

${NBD_USAGE}`;

async function run(args: string[]): Promise<number> {
  const { flags, command } = splitCommand(args);
  const { values, positionals } = parseArgs({
    args: flags,
    allowPositionals: true,
    options: {
      ...MACHINE_OPTIONS,
      'max-insns': { type: 'string' },
      qmp: { type: 'string' },
      loadvm: { type: 'string' },
      incoming: { type: 'string' },
      gdb: { type: 'string' },
      'no-boot-snapshot': { type: 'boolean' },
      'root-disk': { type: 'string' },
      s: { type: 'boolean', short: 's' },
      S: { type: 'boolean', short: 'S' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  if (values.bios === 'none') {
    let maxInstructions: number | undefined;
    if (values['max-insns'] !== undefined) {
      maxInstructions = Number(values['max-insns']);
      if (!Number.isSafeInteger(maxInstructions) || maxInstructions <= 0) throw new UsageError(`--max-insns ${values['max-insns']}: not a positive integer`);
    }
    return runBareMetal(values.kernel ?? DEMO, sizeOf(values.mem ?? '128M'), maxInstructions);
  }
  return runVirt({
    spec: specFromFlags(values, positionals[0], command),
    loadvm: values.loadvm,
    incoming: values.incoming,
    qmp: values.qmp,
    gdb: values.gdb ?? (values.s ? 'tcp::1234' : undefined),
    startPaused: values.S ?? false,
    bootSnapshot: !values['no-boot-snapshot'],
    rootDisk: values['root-disk'],
  });
}

async function image(args: string[]): Promise<number> {
  const [sub, name, ...more] = args;
  const onlySnapshots = sub === 'rm' && more[0] === '--boot-snapshots';
  const rest = onlySnapshots ? more.slice(1) : more;
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  switch (sub) {
    case 'pull': {
      const info = await pullImage(name ?? 'debian', { progress: (line) => process.stderr.write(`${line}\n`) });
      process.stdout.write(`${info.name}: kernel ${info.manifest.kernelVersion}, ${(info.size / 2 ** 20).toFixed(1)} MiB\n`);
      return 0;
    }
    case 'ls': {
      for (const i of await listImages()) {
        process.stdout.write(imageLine(i.name, i.manifest.kernelVersion, i.size, i.manifest.created));
        for (const s of new BootSnapshots(i.dir).list()) {
          const what = `boot snapshot ${s.key.slice(0, 12)}: ${s.memory / 2 ** 20} MiB RAM, ${s.harts} hart${s.harts === 1 ? '' : 's'}`;
          process.stdout.write(`  ${what.padEnd(48)} ${(s.size / 2 ** 20).toFixed(1).padStart(7)} MiB  ${s.created}\n`);
        }
      }
      return 0;
    }
    case 'rm':
      if (!name) throw new UsageError('image rm needs a NAME');
      if (onlySnapshots) {
        const image = (await listImages()).find((i) => i.name === name);
        if (!image) throw new UsageError(`no image ${name}`);
        process.stdout.write(`removed ${new BootSnapshots(image.dir).removeAll()} boot snapshot(s) of ${name}\n`);
      } else {
        await removeImage(name);
      }
      return 0;
    default:
      throw new UsageError(`image ${sub ?? ''}: use pull, ls or rm`);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': return await run(rest);
      case 'image': return await image(rest);
      case 'disk': return await diskCommand(rest);
      case 'nbd': return await nbdCommand(rest);
      case 'serve': return await serveCommand(rest);
      case 'network': return await networkCommand(rest);
      // create and revert are the daemon's VMs' snapshots; ls, rm, save, restore the QMP ones.
      case 'snapshot': return await (rest[0] === 'create' || rest[0] === 'revert' ? daemonSnapshot(rest) : snapshotCommand(rest));
      case undefined: case '-h': case '--help': case 'help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? EXIT_USAGE : 0;
      default:
        if (Object.hasOwn(VM_COMMANDS, command)) return await VM_COMMANDS[command](rest);
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof DaemonError) return report(e);
    if (e instanceof UsageError || e instanceof VmError || e instanceof SpecError || e instanceof ElfError || e instanceof LoadError || e instanceof AsmError || e instanceof ImageError || e instanceof RangeError) {
      process.stderr.write(`rvisor: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EISDIR' || err.code === 'EACCES') {
      const what = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : 'permission denied';
      // Node names the path for most calls, but not for a read (EISDIR): never print an empty name.
      process.stderr.write(`rvisor: ${err.path ? `${err.path}: ${what}` : err.message}\n`);
      return EXIT_USAGE;
    }
    if ((err.code ?? '').startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`rvisor: ${err.message}\n`);
      return EXIT_USAGE;
    }
    // A bug in rvisor, not the user's input: say so, with the stack for the report.
    process.stderr.write(`rvisor: internal error (please report): ${err.stack ?? String(e)}\n`);
    return EXIT_INTERNAL;
  }
}

// Translated code is compiled when the translator asks for it, on V8's background threads
// (WebAssembly.compile), rather than lazily on the first call to each block, which put
// that compilation on the emulation thread. Set before any module is compiled.
setFlagsFromString('--no-wasm-lazy-compilation');
// A reader that went away (`rvisor image ls | head`) ends the listing, as it would for ls.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});
process.exitCode = await main(process.argv.slice(2));
