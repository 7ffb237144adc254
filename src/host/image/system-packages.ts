// The packages of `debian-system` and how they reach the guest. apt (in the private tree,
// apt.ts) resolves the set against an empty dpkg status, as mmdebstrap does, and downloads
// it; every .deb is then rewritten with its data.tar uncompressed (writePlainDeb), because the
// guest's dpkg would otherwise spend most of the build decompressing xz in emulation.
// The tar inside is the very bytes Debian shipped; the manifest records the SHA-256 of
// each original .deb, which apt checked against the signed index.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { apt, type AptTree } from './apt.js';
import { ArError, readAr, writeAr } from './ar.js';
import { parseControl } from './debian.js';
import { ImageError } from './errors.js';
import { runTool, sha256 } from './host-tools.js';

/** What `debian-system` installs beyond the required and important priorities: the init
 *  system, the network (systemd-networkd ships in systemd; resolved writes resolv.conf),
 *  apt's TLS roots, ssh, and the modules of the image's kernel (linux-modules-VERSION,
 *  added by the caller: the kernel itself boots from the image, so neither a kernel
 *  package nor an initramfs generator is installed). */
export const SYSTEM_PACKAGES = [
  '?priority(required)', '?priority(important)',
  'systemd', 'systemd-sysv', 'udev', 'systemd-resolved', 'apt', 'ca-certificates', 'openssh-server', 'iproute2', 'less', 'kmod',
];

export interface SystemDeb {
  name: string;
  version: string;
  /** Of the .deb as downloaded. */
  sha256: string;
  /** In the closure of the Essential and Priority: required packages, what dpkg and
   *  maintainer scripts need to run (libc6 is neither, but all of them need it):
   *  unpacked on the host before the guest's dpkg installs everything, as debootstrap's
   *  first stage does. */
  base: boolean;
  /** The downloaded file. */
  file: string;
}

/** Resolve and download the set into `dir` (apt has checked every file against the signed index). */
export async function downloadSystemPackages(tree: AptTree, mirror: string, extra: readonly string[], dir: string, progress: (line: string) => void): Promise<SystemDeb[]> {
  await apt(tree, 'apt-get', [
    'install', '--download-only', '--yes', '--no-install-recommends', '-o', `Dir::Cache::archives=${dir}`, ...SYSTEM_PACKAGES, ...extra,
  ], { progress, mirror });
  // apt's simulation lists what installing the base set would install: its closure.
  const simulated = await apt(tree, 'apt-get', ['install', '--simulate', '--no-install-recommends', '?essential', '?priority(required)'], { mirror });
  const base = new Set([...simulated.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]));
  const out: SystemDeb[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (!name.endsWith('.deb')) continue;
    const file = join(dir, name);
    const fields = await debControl(file);
    if (!fields.Package || !fields.Version) throw new ImageError(`${name}: its control file names no package or version`);
    out.push({
      name: fields.Package,
      version: fields.Version,
      sha256: sha256(await readFile(file)),
      base: base.has(fields.Package),
      file,
    });
  }
  if (!out.length) throw new ImageError('apt-get downloaded no packages');
  return out;
}

/** The control fields of a .deb, as dpkg-deb reads them. */
async function debControl(file: string): Promise<Record<string, string>> {
  const text = (await runTool('dpkg-deb', ['--field', file], 'dpkg')).toString();
  return parseControl(text)[0] ?? {};
}

/** The .deb at `file` with its data.tar stored uncompressed. */
export async function writePlainDeb(file: string, dest: string): Promise<void> {
  const bytes = await readFile(file);
  let members;
  try {
    members = readAr(bytes);
  } catch (e) {
    throw new ImageError(`${file}: ${e instanceof ArError ? e.message : String(e)}`);
  }
  const out = [];
  for (const m of members) {
    if (!m.name.startsWith('data.tar') || m.name === 'data.tar') {
      out.push(m);
      continue;
    }
    out.push({ name: 'data.tar', data: await decompress(m.data, m.name) });
  }
  await writeFile(dest, writeAr(out));
}

const DECOMPRESSORS: Record<string, [string, string[], string]> = {
  xz: ['xz', ['-dc'], 'xz-utils'],
  zst: ['zstd', ['-dcq'], 'zstd'],
  gz: ['gzip', ['-dc'], 'gzip'],
};

function decompressor(member: string): [string, string[], string] {
  const ext = member.split('.').at(-1) ?? '';
  const d = DECOMPRESSORS[ext];
  if (!d) throw new ImageError(`unknown compression of ${member}`);
  return d;
}

function decompress(data: Uint8Array, member: string): Promise<Uint8Array> {
  const [tool, args, pkg] = decompressor(member);
  return runTool(tool, args, pkg, data).catch((e: unknown) => {
    throw e instanceof ImageError ? new ImageError(`${member}: ${e.message}`) : e;
  });
}
