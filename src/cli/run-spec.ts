// The machine and device options of `rvisor run`, which `rvisor create` takes too, and
// the VmSpec they become: one definition, so that a VM defined on the daemon is the VM
// the same flags would run on this terminal.

import { resolve } from 'node:path';
import { checkUnique, parseDisk, parseNet, parsePublish, parseShare } from './device-args.js';
import { UsageError } from './errors.js';
import { parseSize } from './size.js';
import { parseVmSpec, type VmSpec } from '../vmm/spec.js';

/** parseArgs options of the machine: those of `run` that describe the VM, not the run.
 *  (The empty defaults are typed: a readonly [] is not a default parseArgs takes.) */
export const MACHINE_OPTIONS = {
  bios: { type: 'string' },
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  append: { type: 'string' },
  mem: { type: 'string' },
  smp: { type: 'string', default: '1' },
  disk: { type: 'string', multiple: true, default: [] as string[] },
  net: { type: 'string', default: 'user' },
  publish: { type: 'string', multiple: true, default: [] as string[] },
  share: { type: 'string', multiple: true, default: [] as string[] },
  exec: { type: 'string', default: 'jit' },
  threads: { type: 'string' },
  'cpu-cap': { type: 'string' },
  'cpu-shares': { type: 'string' },
  'dedicated': { type: 'boolean' },
} as const;

export interface MachineFlags {
  bios?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  mem?: string;
  smp: string;
  disk: string[];
  net: string;
  publish: string[];
  share: string[];
  exec: string;
  threads?: string;
  'cpu-cap'?: string;
  'cpu-shares'?: string;
  dedicated?: boolean;
}

/** An integer option in [min, max], or undefined when absent. */
function intFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/%$/, ''));
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} ${text}: between ${min} and ${max}`);
  return n;
}

/** The arguments before `--` (options and the image) and the guest command after it:
 *  parseArgs would take the command's words as more positionals. */
export function splitCommand(args: string[]): { flags: string[]; command: string[] } {
  const dash = args.indexOf('--');
  return dash < 0 ? { flags: args, command: [] } : { flags: args.slice(0, dash), command: args.slice(dash + 1) };
}

export function sizeOf(text: string): number {
  try {
    return parseSize(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The VmSpec of the virt board the flags describe (not bare metal: `--bios none` is
 *  `run`'s alone). A bad flag is a UsageError naming it; a bad spec, a SpecError. */
export function specFromFlags(v: MachineFlags, image: string | undefined, command: string[], name?: string): VmSpec {
  if (v.exec !== 'interp' && v.exec !== 'jit') throw new UsageError(`--exec ${v.exec}: use interp or jit`);
  if (v.threads !== undefined && v.threads !== 'single' && v.threads !== 'multi') throw new UsageError(`--threads ${v.threads}: use single or multi`);
  const nic = parseNet(v.net);
  if (nic?.network !== 'user' && v.publish.length) throw new UsageError('--publish needs --net user');
  const shares = v.share.map(parseShare);
  const publish = v.publish.map(parsePublish);
  checkUnique(shares, publish);
  const harts = Number(v.smp);
  if (!Number.isInteger(harts) || harts < 1 || harts > 8) throw new UsageError(`--smp ${v.smp}: between 1 and 8`);
  const cap = intFlag('cpu-cap', v['cpu-cap'], 1, 100);
  const weight = intFlag('cpu-shares', v['cpu-shares'], 1, 65535);
  return parseVmSpec({
    ...(name !== undefined && { name }),
    ...((cap !== undefined || weight !== undefined || v.dedicated) && {
      cpu: { ...(cap !== undefined && { cap }), ...(weight !== undefined && { shares: weight }), ...(v.dedicated && { dedicated: true }) },
    }),
    memory: sizeOf(v.mem ?? '512M'),
    harts,
    boot: {
      ...(v.kernel !== undefined ? { kernel: v.kernel } : { image: image ?? 'debian' }),
      ...(v.initrd !== undefined && { initrd: v.initrd }),
      ...(v.append !== undefined && { append: v.append }),
      command,
    },
    ...(v.bios !== undefined && { firmware: v.bios }),
    disks: v.disk.map(parseDisk),
    nics: nic ? [{ ...nic, ...(nic.network === 'user' && { publish }) }] : [],
    shares,
    exec: v.exec,
    ...(v.threads !== undefined && { threads: v.threads }),
  });
}
/** The spec with every host path made absolute against `cwd`: the daemon opens them
 *  later, from its own working directory, not the one they were typed in. */
export function withAbsolutePaths(spec: VmSpec, cwd = process.cwd()): VmSpec {
  const abs = (p: string) => resolve(cwd, p);
  const { kernel, initrd } = spec.boot;
  return {
    ...spec,
    boot: { ...spec.boot, ...(kernel !== undefined && { kernel: abs(kernel) }), ...(initrd !== undefined && { initrd: abs(initrd) }) },
    ...(spec.firmware !== undefined && { firmware: abs(spec.firmware) }),
    disks: spec.disks.map((d) => ({ ...d, file: abs(d.file) })),
    shares: spec.shares.map((s) => ({ ...s, dir: abs(s.dir) })),
    nics: spec.nics.map((n) => ({
      ...n,
      ...(n.capture !== undefined && { capture: abs(n.capture) }),
      ...(n.listen?.startsWith('unix:') && { listen: `unix:${abs(n.listen.slice(5))}` }),
      ...(n.connect?.startsWith('unix:') && { connect: `unix:${abs(n.connect.slice(5))}` }),
    })),
  };
}
