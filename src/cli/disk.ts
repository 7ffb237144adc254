// `rvisor disk create|info|convert|check`: qemu-img's everyday subcommands for the
// formats rvisor runs guests from.

import { parseArgs } from 'node:util';
import { checkDisk, convertDisk, createDisk, DiskError, diskInfo, parseFormat, type DiskInfo } from '../storage/index.js';
import { UsageError } from './errors.js';

export const DISK_USAGE = `rvisor disk create [-f raw|qcow2] [-b BACKING [-F FMT]] [-c CLUSTER] FILE [SIZE]
rvisor disk info FILE [--json]
rvisor disk convert [-f FMT] [-O raw|qcow2] SRC DST
rvisor disk check [--repair] FILE
  SIZE is bytes or with a K, M, G or T suffix; a relative BACKING is relative to FILE's
  directory. check exits 0 when clean, 3 when it found only leaked clusters, 2 on errors.`;

/** Exit status of `disk check` when only leaks were found (qemu-img's convention). */
export const EXIT_LEAKS = 3;
/** Exit status of `disk check` when refcounts or metadata are wrong. */
export const EXIT_CORRUPT = 2;

/** A byte count as qemu-img takes it: plain bytes, or K/M/G/T (powers of 1024). */
export function parseDiskSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKMGT]?)(?:i?B)?$/.exec(text.trim());
  if (!m) throw new UsageError(`bad size '${text}': use bytes or e.g. 512M, 10G`);
  const scale = 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' ');
  const bytes = Math.ceil(Number(m[1]) * scale);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`bad size '${text}': too large`);
  return bytes;
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${bytes} B` : `${Number.isInteger(v) ? v : v.toFixed(3).replace(/\.?0+$/, '')} ${units[u]}`;
}

function format(text: string | undefined, what: string) {
  try {
    return parseFormat(text, what);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function describe(i: DiskInfo): string {
  const lines = [
    `image: ${i.file}`,
    `file format: ${i.format}`,
    `virtual size: ${human(i.virtualSize)} (${i.virtualSize} bytes)`,
    `disk size: ${human(i.diskSize)}`,
  ];
  if (i.clusterSize !== undefined) lines.push(`cluster_size: ${i.clusterSize}`);
  if (i.backingFile !== undefined) lines.push(`backing file: ${i.backingFile}`);
  if (i.backingFormat !== undefined) lines.push(`backing file format: ${i.backingFormat}`);
  if (i.format === 'qcow2') {
    lines.push('Format specific information:', `    compat: ${i.version === 2 ? '0.10' : '1.1'}`, `    refcount bits: ${i.refcountBits}`,
      `    corrupt: ${i.corrupt}`, `    dirty: ${i.dirty}`);
  }
  for (const [n, b] of i.backingChain.entries()) lines.push(`backing chain ${n + 1}: ${b.file} (${b.format})`);
  return lines.join('\n') + '\n';
}

async function disk(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const out = (text: string) => process.stdout.write(text);
  switch (sub) {
    case 'create': {
      const { values: v, positionals: p } = parseArgs({
        args: rest, allowPositionals: true, strict: true,
        options: { f: { type: 'string', short: 'f', default: 'qcow2' }, b: { type: 'string', short: 'b' }, F: { type: 'string', short: 'F' }, c: { type: 'string', short: 'c' } },
      });
      if (p.length < 1 || p.length > 2) throw new UsageError('disk create needs FILE [SIZE]');
      const fmt = format(v.f, '-f') ?? 'qcow2';
      if (v.F !== undefined && v.b === undefined) throw new UsageError('-F needs -b BACKING');
      if (p[1] === undefined && v.b === undefined) throw new UsageError('disk create needs a SIZE (or -b BACKING)');
      createDisk({
        file: p[0], format: fmt, size: p[1] === undefined ? undefined : parseDiskSize(p[1]),
        backing: v.b, backingFormat: format(v.F, '-F'), clusterSize: v.c === undefined ? undefined : parseDiskSize(v.c),
      });
      return 0;
    }
    case 'info': {
      const { values: v, positionals: p } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { json: { type: 'boolean' } } });
      if (p.length !== 1) throw new UsageError('disk info needs one FILE');
      const info = diskInfo(p[0]);
      out(v.json ? JSON.stringify(info, null, 2) + '\n' : describe(info));
      return 0;
    }
    case 'convert': {
      const { values: v, positionals: p } = parseArgs({
        args: rest, allowPositionals: true, strict: true,
        options: { f: { type: 'string', short: 'f' }, O: { type: 'string', short: 'O', default: 'raw' } },
      });
      if (p.length !== 2) throw new UsageError('disk convert needs SRC and DST');
      convertDisk(p[0], p[1], format(v.O, '-O') ?? 'raw', { srcFormat: format(v.f, '-f') });
      return 0;
    }
    case 'check': {
      const { values: v, positionals: p } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { repair: { type: 'boolean' } } });
      if (p.length !== 1) throw new UsageError('disk check needs one FILE');
      const r = checkDisk(p[0], { repair: v.repair });
      for (const m of r.messages) out(m + '\n');
      if (r.fixedLeaks || r.fixedCorruptions) out(`The following inconsistencies were found and repaired:\n\n    ${r.fixedLeaks} leaked clusters\n    ${r.fixedCorruptions} corruptions\n\n`);
      if (r.corruptions) out(`${r.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n`);
      if (r.leaks) out(`${r.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n`);
      if (!r.corruptions && !r.leaks) out('No errors were found on the image.\n');
      out(`${r.allocatedClusters}/${r.totalClusters} clusters allocated\nImage end offset: ${r.imageEnd}\n`);
      return r.corruptions ? EXIT_CORRUPT : r.leaks ? EXIT_LEAKS : 0;
    }
    case undefined: case '-h': case '--help':
      out(DISK_USAGE + '\n');
      return sub === undefined ? 2 : 0;
    default:
      throw new UsageError(`disk ${sub}: use create, info, convert or check`);
  }
}

/** Runs `rvisor disk ...`; a bad image is the user's to fix, so DiskError becomes a UsageError. */
export async function diskCommand(args: string[]): Promise<number> {
  try {
    return await disk(args);
  } catch (e) {
    if (e instanceof DiskError) throw new UsageError(e.message);
    throw e;
  }
}
