// The image cache: <cache>/images/<name>/{kernel,initrd,manifest.json}, and for a system
// image its root disk (disk.qcow2). The manifest records where every byte came from and
// each file's SHA-256; every open re-checks the kernel and initrd, so a truncated download
// or a stray edit is caught before a guest boots from it. The disk (hundreds of MiB, only
// ever opened read-only, as the backing file of a VM's own overlay) is re-hashed when its
// size or modification time differs from what the manifest recorded.

import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ImageError, ImageMissing } from './errors.js';
import { sha256 } from './host-tools.js';

export interface FileRecord {
  size: number;
  sha256: string;
  /** The file's modification time when it was saved (the disk's quick check). */
  mtimeMs?: number;
}

/** A system image's root disk, by name in the image directory. */
export const ROOT_DISK = 'disk.qcow2';

export interface Manifest {
  format: 1;
  name: string;
  /** ISO 8601. */
  created: string;
  source: { distribution: 'debian'; suite: string; architecture: string; mirror: string };
  kernelVersion: string;
  /** What the kernel file is, e.g. "EFI-stub PE/COFF RISC-V Image (uncompressed, ...)". */
  kernelFormat: string;
  /** Every package the image was built from, with the .deb's SHA-256. */
  packages: { name: string; version: string; sha256: string }[];
  /** Kernel modules in the initramfs, in load order. */
  modules: string[];
  /** Which /init contract the initramfs follows (absent: 1, before networking and disks). */
  layout?: number;
  /** The image's files (kernel, initrd, and a system image's disk.qcow2), by name in the image directory. */
  files: Record<string, FileRecord>;
}

/** The /init contract this rvisor expects; an image made for an older one is pulled again. */
export const IMAGE_LAYOUT = 5;

export interface ImageInfo {
  name: string;
  dir: string;
  kernelPath: string;
  initrdPath: string;
  /** A system image's root disk (qcow2): a VM runs on an overlay of its own over it. */
  rootDisk?: string;
  /** Total bytes of the image's files. */
  size: number;
  manifest: Manifest;
}

/** $RVISOR_CACHE, else $XDG_CACHE_HOME/rvisor, else ~/.cache/rvisor. */
export function cacheRoot(cacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (cacheDir) return cacheDir;
  if (env.RVISOR_CACHE) return env.RVISOR_CACHE;
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'rvisor');
}

function imagesDir(cacheDir?: string): string {
  return join(cacheRoot(cacheDir), 'images');
}

function checkName(name: string): string {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) throw new ImageError(`bad image name ${JSON.stringify(name)}`);
  return name;
}

function info(dir: string, manifest: Manifest): ImageInfo {
  return {
    name: manifest.name,
    dir,
    kernelPath: join(dir, 'kernel'),
    initrdPath: join(dir, 'initrd'),
    ...(manifest.files[ROOT_DISK] && { rootDisk: join(dir, ROOT_DISK) }),
    size: Object.values(manifest.files).reduce((n, f) => n + f.size, 0),
    manifest,
  };
}

/** Install an image, replacing any previous one of that name only once the new one is
 *  complete. `disk` is a file moved in as the root disk (on the cache's filesystem). */
export async function saveImage(
  manifest: Omit<Manifest, 'files'>,
  files: { kernel: Uint8Array; initrd: Uint8Array },
  cacheDir?: string,
  disk?: string,
): Promise<ImageInfo> {
  const name = checkName(manifest.name);
  const root = imagesDir(cacheDir);
  const dir = join(root, name);
  const tmp = join(root, `.${name}.new-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const records: Record<string, FileRecord> = {};
  for (const [file, data] of Object.entries(files)) {
    await writeFile(join(tmp, file), data);
    records[file] = { size: data.length, sha256: sha256(data) };
  }
  if (disk !== undefined) {
    const path = join(tmp, ROOT_DISK);
    await rename(disk, path);
    const st = await stat(path);
    records[ROOT_DISK] = { size: st.size, sha256: await hashFile(path), mtimeMs: st.mtimeMs };
  }
  const full: Manifest = { ...manifest, files: records };
  await writeFile(join(tmp, 'manifest.json'), JSON.stringify(full, null, 2) + '\n');
  const old = join(root, `.${name}.old-${process.pid}`);
  await rename(dir, old).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
  return info(dir, full);
}

async function readManifest(name: string, cacheDir?: string): Promise<ImageInfo> {
  const dir = join(imagesDir(cacheDir), checkName(name));
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageMissing(`no image ${name}: run rvisor image pull ${name}`);
    throw e;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    throw corrupt(name, 'manifest.json is not JSON');
  }
  if (manifest.format !== 1 || manifest.name !== name || typeof manifest.files !== 'object') {
    throw corrupt(name, 'manifest.json is not an rvisor image manifest');
  }
  if ((manifest.layout ?? 1) < IMAGE_LAYOUT) {
    throw new ImageMissing(`image ${name} was made by an older rvisor (its /init lacks what this version needs: the VM's hostname and machine-id): run rvisor image pull ${name}`);
  }
  return info(dir, manifest);
}

function corrupt(name: string, why: string): ImageError {
  return new ImageError(`image ${name} is corrupt (${why}): re-run rvisor image pull ${name}`);
}

/** Read an image's kernel and initrd, checking every file against the manifest. */
export async function openImage(name: string, cacheDir?: string): Promise<{ kernel: Uint8Array; initrd: Uint8Array; info: ImageInfo }> {
  const image = await readManifest(name, cacheDir);
  const data: Record<string, Uint8Array> = {};
  for (const file of ['kernel', 'initrd']) {
    const record = image.manifest.files[file];
    if (!record) throw corrupt(name, `manifest.json lists no ${file}`);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(join(image.dir, file));
    } catch {
      throw corrupt(name, `${file} is missing`);
    }
    if (bytes.length !== record.size || sha256(bytes) !== record.sha256) throw corrupt(name, `${file} does not match its checksum`);
    data[file] = bytes;
  }
  return { kernel: data.kernel, initrd: data.initrd, info: image };
}

/** A system image's root disk checked against the manifest: its path. */
export async function checkRootDisk(image: ImageInfo): Promise<string> {
  const record = image.manifest.files[ROOT_DISK];
  if (!record || !image.rootDisk) throw new ImageError(`image ${image.name} has no root disk`);
  const st = await stat(image.rootDisk).catch(() => undefined);
  if (!st) throw corrupt(image.name, `${ROOT_DISK} is missing`);
  if (st.size !== record.size) throw corrupt(image.name, `${ROOT_DISK} does not match its checksum`);
  if (st.mtimeMs !== record.mtimeMs && (await hashFile(image.rootDisk)) !== record.sha256) {
    throw corrupt(image.name, `${ROOT_DISK} does not match its checksum`);
  }
  return image.rootDisk;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The images in the cache (manifests only: no checksums are computed). */
export async function listImages(cacheDir?: string): Promise<ImageInfo[]> {
  let names: string[];
  try {
    names = await readdir(imagesDir(cacheDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: ImageInfo[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue;
    try {
      out.push(await readManifest(name, cacheDir));
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
    }
  }
  return out;
}

export async function removeImage(name: string, cacheDir?: string): Promise<void> {
  const dir = join(imagesDir(cacheDir), checkName(name));
  try {
    await readdir(dir);
  } catch {
    throw new ImageError(`no image ${name}`);
  }
  await rm(dir, { recursive: true, force: true });
}
