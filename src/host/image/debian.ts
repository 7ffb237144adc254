// `rvisor image pull debian`: the default guest image, built from Debian's own riscv64
// packages — the stock kernel (linux-image-riscv64) and busybox-static — with an initramfs
// of our own holding busybox, the virtio/9p/ext4 modules and /init.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { processAlive } from '../pid.js';
import { apt, ARCH, type AptTree, PackageMissing, prepareApt, SuiteUnavailable } from './apt.js';
import { busyboxApplets } from './busybox.js';
import { writeCpio } from './cpio.js';
import { ImageError } from './errors.js';
import { readModule, sha256, unpackDeb } from './host-tools.js';
import { initramfsEntries } from './initramfs.js';
import { describeKernel, parseRiscvImage, sniffCompression } from './kernel.js';
import { findDebianMirror } from './mirror.js';
import { dependencyClosure, formatModulesDep, modinfoDepends, moduleName, parseModulesDep } from './modules.js';
import { cacheRoot, IMAGE_LAYOUT, type ImageInfo, saveImage } from './store.js';

/** sid first; forky (testing) if sid lacks a package or the mirror lacks sid. */
export const SUITES = ['sid', 'forky'] as const;
export const KERNEL_PACKAGE = 'linux-image-riscv64';
export const BUSYBOX_PACKAGE = 'busybox-static';
/** What a guest needs to boot on virtio-mmio with a disk, network, console, RNG and 9p shares. */
export const GUEST_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_net', 'virtio_console', 'virtio_rng', '9pnet_virtio', '9p', 'ext4', 'af_packet'];
export const DEFAULT_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export interface PullOptions {
  /** The rvisor cache root (default: $RVISOR_CACHE, $XDG_CACHE_HOME/rvisor, ~/.cache/rvisor). */
  cacheDir?: string;
  /** Step lines and apt's output, for stderr. */
  progress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

interface Package {
  name: string;
  version: string;
  sha256: string;
}

export async function pullDebian(opts: PullOptions = {}): Promise<ImageInfo> {
  const env = opts.env ?? process.env;
  const progress = opts.progress ?? (() => {});
  const root = cacheRoot(opts.cacheDir, env);
  const mirror = await findDebianMirror({ env });
  progress(`mirror: ${mirror.uri} (from ${mirror.from})`);
  const keyring = env.RVISOR_DEBIAN_KEYRING || DEFAULT_KEYRING;
  if (!existsSync(keyring)) {
    throw new ImageError(`no Debian archive keyring at ${keyring}: install the debian-archive-keyring package or set RVISOR_DEBIAN_KEYRING`);
  }

  const { tree, suite, packages } = await resolveInSomeSuite(join(root, 'apt'), mirror.uri, keyring, env, progress);
  const work = await workDir(join(root, 'tmp'));
  try {
    progress(`downloading ${packages.map((p) => `${p.name} ${p.version}`).join(', ')}`);
    const debs = join(work, 'debs');
    await mkdir(debs);
    await apt(tree, 'apt-get', ['download', ...packages.map((p) => `${p.name}=${p.version}`)], { cwd: debs, progress, mirror: mirror.uri });
    const files = join(work, 'files');
    for (const p of packages) {
      const deb = await findDeb(debs, p);
      progress(`unpacking ${p.name}`);
      await unpackDeb(deb, files);
    }
    const kernel = await findKernel(files);
    progress(`kernel ${kernel.version}: ${kernel.format}`);
    const busybox = await findFile(files, ['usr/bin/busybox', 'bin/busybox'], BUSYBOX_PACKAGE);
    const modules = await collectModules(kernel.moduleDir, kernel.version);
    progress(`modules: ${modules.order.join(' ')}`);
    const cpio = writeCpio(
      initramfsEntries({
        kernelVersion: kernel.version,
        busybox,
        applets: busyboxApplets(busybox),
        modules: modules.order.map((name) => ({ path: modules.pathOf(name), data: modules.data.get(name)! })),
        modulesDep: modules.dep,
      }),
    );
    // zlib's default level: -9 takes ten times longer for 0.3% less.
    const initrd = gzipSync(cpio);
    const image = await saveImage(
      {
        format: 1,
        name: 'debian',
        created: new Date().toISOString(),
        source: { distribution: 'debian', suite, architecture: ARCH, mirror: mirror.uri },
        kernelVersion: kernel.version,
        kernelFormat: kernel.format,
        packages,
        modules: modules.order,
        layout: IMAGE_LAYOUT,
      },
      { kernel: kernel.image, initrd },
      root,
    );
    progress(`image debian: kernel ${kernel.image.length} bytes, initrd ${initrd.length} bytes, in ${image.dir}`);
    return image;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// A scratch directory for the packages (some 130 MB unpacked), named after our pid so a
// later pull can sweep up after one that was killed.
export async function workDir(tmp: string): Promise<string> {
  await mkdir(tmp, { recursive: true });
  for (const name of await readdir(tmp)) {
    const pid = Number(/^pull-(\d+)-/.exec(name)?.[1]);
    if (pid && !processAlive(pid)) await rm(join(tmp, name), { recursive: true, force: true });
  }
  return mkdtemp(join(tmp, `pull-${process.pid}-`));
}

async function resolveInSomeSuite(aptRoot: string, mirror: string, keyring: string, env: NodeJS.ProcessEnv, progress: (line: string) => void) {
  const problems: string[] = [];
  for (const suite of SUITES) {
    const tree = await prepareApt(aptRoot, { mirror, suite, keyring }, env);
    try {
      progress(`apt-get update (${suite}/main, ${ARCH})`);
      await apt(tree, 'apt-get', ['update'], { progress, mirror });
      return { tree, suite, packages: await resolvePackages(tree, mirror) };
    } catch (e) {
      if (!(e instanceof SuiteUnavailable || e instanceof PackageMissing)) throw e;
      problems.push(`${suite}: ${e.message}`);
      progress(`${suite}: ${e.message}`);
    }
  }
  throw new ImageError(`cannot find ${KERNEL_PACKAGE} and ${BUSYBOX_PACKAGE} for ${ARCH} at ${mirror} (${problems.join('; ')})`);
}

// The kernel metapackage names the versioned kernel package, which (since Debian split
// it) pulls in linux-binary-* (the image), linux-modules-* and linux-base-<ver> (config,
// modules.builtin). Alternatives ("dracut | initramfs-tools"), kmod and the unversioned
// linux-base are host-side tooling we do not need.
async function resolvePackages(tree: AptTree, mirror: string): Promise<Package[]> {
  const out: Package[] = [];
  const seen = new Set<string>();
  // One apt-cache call per level of the dependency tree: each call re-reads the index.
  let level: { name: string; version?: string }[] = [{ name: KERNEL_PACKAGE }, { name: BUSYBOX_PACKAGE }];
  while (level.length) {
    for (const w of level) seen.add(w.name);
    const specs = level.map((w) => (w.version ? `${w.name}=${w.version}` : w.name));
    const stanzas = parseControl(await apt(tree, 'apt-cache', ['show', '--no-all-versions', ...specs], { mirror }));
    const next: typeof level = [];
    for (const want of level) {
      const fields = stanzas.find((f) => f.Package === want.name);
      if (!fields?.Version || !fields.SHA256) throw new PackageMissing(`package not found: ${want.name}`);
      out.push({ name: want.name, version: fields.Version, sha256: fields.SHA256 });
      if (!want.name.startsWith('linux-')) continue;
      for (const dep of (fields.Depends ?? '').split(',')) {
        if (dep.includes('|')) continue;
        const m = /^\s*([^\s(:]+)(?::\S+)?\s*(?:\(\s*=\s*([^)\s]+)\s*\))?/.exec(dep);
        if (m && /^linux-(image|binary|modules|base)-/.test(m[1]) && !m[1].endsWith('-dbg') && !seen.has(m[1])) {
          seen.add(m[1]);
          next.push({ name: m[1], version: m[2] });
        }
      }
    }
    level = next;
  }
  return out;
}

/** `apt-cache show` output: one record per stanza; continuation lines are dropped. */
export function parseControl(text: string): Record<string, string>[] {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const out: Record<string, string> = {};
      for (const line of stanza.split('\n')) {
        const m = /^([\w-]+):\s*(.*)$/.exec(line);
        if (m) out[m[1]] = m[2];
      }
      return out;
    })
    .filter((r) => Object.keys(r).length > 0);
}

// apt-get download names files name_version_arch.deb with the epoch's ':' as %3a; package
// names cannot contain '_', so the prefix is unambiguous. apt has already checked the
// hash against the signed index; checking again records what we actually used.
async function findDeb(dir: string, p: Package): Promise<string> {
  const name = (await readdir(dir)).find((f) => f.startsWith(`${p.name}_`) && f.endsWith('.deb'));
  if (!name) throw new ImageError(`apt-get download did not produce ${p.name}`);
  const path = join(dir, name);
  if (sha256(await readFile(path)) !== p.sha256) throw new ImageError(`${name} does not match the SHA-256 in the signed Packages index`);
  return path;
}

async function findFile(root: string, candidates: readonly string[], pkg: string): Promise<Uint8Array> {
  for (const c of candidates) {
    const path = join(root, c);
    if (existsSync(path)) return readFile(path);
  }
  throw new ImageError(`${pkg} has none of ${candidates.join(', ')}`);
}

// Debian ships the kernel as /usr/lib/modules/<ver>/vmlinuz since the linux-binary split,
// and as /boot/vmlinu[xz]-<ver> before it.
async function findKernel(root: string) {
  const found: { path: string; version: string }[] = [];
  for (const base of ['usr/lib/modules', 'lib/modules']) {
    for (const v of await readdir(join(root, base)).catch(() => [] as string[])) {
      for (const f of ['vmlinuz', 'vmlinux', 'Image']) if (existsSync(join(root, base, v, f))) found.push({ path: join(root, base, v, f), version: v });
    }
  }
  for (const f of await readdir(join(root, 'boot')).catch(() => [] as string[])) {
    const m = /^vmlinu[xz]-(.+)$/.exec(f);
    if (m) found.push({ path: join(root, 'boot', f), version: m[1] });
  }
  if (found.length !== 1) {
    throw new ImageError(`expected one kernel in ${KERNEL_PACKAGE}'s packages, found ${found.length ? found.map((k) => relative(root, k.path)).join(', ') : 'none'}`);
  }
  const { path, version } = found[0];
  let image: Uint8Array = await readFile(path);
  let header = parseRiscvImage(image);
  let compressed = '';
  if (!header && sniffCompression(image) === 'gzip') {
    image = gunzipSync(image);
    header = parseRiscvImage(image);
    compressed = ', shipped gzip-compressed';
  }
  if (!header) {
    throw new ImageError(`${relative(root, path)} is not a RISC-V Linux Image (${sniffCompression(image) ?? 'unknown format'}): rvisor cannot boot it`);
  }
  const moduleDir = [join(root, 'usr/lib/modules', version), join(root, 'lib/modules', version)].find((d) => existsSync(join(d, 'kernel')));
  if (!moduleDir) throw new ImageError(`no modules for kernel ${version}`);
  return { version, image, moduleDir, format: describeKernel(header) + compressed };
}

// Modules in load order, decompressed, with a modules.dep for them. Dependencies come
// from modules.dep when the package has one, else from each module's own depends=.
async function collectModules(moduleDir: string, version: string) {
  const files = new Map<string, string>();
  for (const f of await readdir(join(moduleDir, 'kernel'), { recursive: true })) {
    if (/\.ko(\.(xz|zst|gz))?$/.test(f)) files.set(moduleName(f), `kernel/${f}`);
  }
  const builtinText = await readFile(join(moduleDir, 'modules.builtin'), 'utf8').catch(() => '');
  const builtin = new Set(builtinText.split('\n').filter(Boolean).map(moduleName));
  const shipped = await readFile(join(moduleDir, 'modules.dep'), 'utf8').then(parseModulesDep, () => undefined);

  const data = new Map<string, Uint8Array>();
  const load = async (name: string) => {
    const file = files.get(name);
    if (!file) throw new ImageError(`module ${name} is neither built into nor shipped with kernel ${version}`);
    if (!data.has(name)) data.set(name, await readModule(join(moduleDir, file)));
    return data.get(name)!;
  };
  // The closure walk is synchronous, so read every module it may reach first.
  const deps = new Map<string, string[]>();
  const pending = GUEST_MODULES.filter((m) => !builtin.has(m));
  while (pending.length) {
    const name = pending.pop()!;
    if (deps.has(name)) continue;
    const ko = await load(name);
    const d = (shipped ? (shipped.deps.get(name) ?? []) : modinfoDepends(ko)).map(moduleName).filter((m) => !builtin.has(m));
    deps.set(name, d);
    pending.push(...d);
  }
  const order = dependencyClosure(GUEST_MODULES, (n) => deps.get(n) ?? [], builtin);
  const pathOf = (name: string) => files.get(name)!.replace(/\.(xz|zst|gz)$/, '');
  const dep = formatModulesDep(order, (n) => deps.get(n) ?? [], pathOf, builtin);
  return { order, data, pathOf, dep };
}
