// `rvisor image pull debian-system`: a Debian system on a root disk, built from Debian's
// riscv64 packages and installed by Debian's own dpkg inside rvisor (system-script.ts
// says why there). It boots with the default image's kernel and initramfs, whose /init
// mounts root=/dev/vda and hands over to systemd; the disk carries that kernel's modules.
//
// The steps: (1) pull or open the `debian` image, for the kernel and the suite; (2) apt
// resolves and downloads the package set against an empty status (system-packages.ts);
// (3) the host unpacks the base packages into a directory, mke2fs -d makes an ext4 disk
// of it, converted to qcow2; (4) rvisor boots that disk and installs everything
// (system-configure.ts); (5) the image (kernel, initrd, disk, manifest) replaces the old
// one in one rename. Work happens in <cache>/tmp/pull-PID-*, so a killed pull leaves
// nothing in the image directory and the next pull sweeps its leftovers.

import { existsSync } from 'node:fs';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { convertDisk, DiskError } from '../../storage/index.js';
import { apt, prepareApt } from './apt.js';
import { DEFAULT_KEYRING, type PullOptions, pullDebian, workDir } from './debian.js';
import { ImageError, ImageMissing } from './errors.js';
import { runTool, unpackDeb } from './host-tools.js';
import { findDebianMirror } from './mirror.js';
import { cacheRoot, IMAGE_LAYOUT, type ImageInfo, openImage, saveImage } from './store.js';
import { configureSystem } from './system-configure.js';
import { downloadSystemPackages, writePlainDeb } from './system-packages.js';
import { BASE_LIST, REST_LIST, SCRIPT_NAME, secondStageScript } from './system-script.js';

export const SYSTEM_IMAGE = 'debian-system';
/** The disk's virtual size: the system takes some 700 MiB, the rest is the user's. */
export const SYSTEM_DISK_SIZE = 8 * 2 ** 30;

export async function pullDebianSystem(opts: PullOptions = {}): Promise<ImageInfo> {
  const env = opts.env ?? process.env;
  const progress = opts.progress ?? (() => {});
  const root = cacheRoot(opts.cacheDir, env);
  const base = await openImage('debian', opts.cacheDir).catch(async (e: unknown) => {
    if (!(e instanceof ImageMissing)) throw e;
    progress('pulling the debian image first (its kernel boots the system)');
    await pullDebian(opts);
    return openImage('debian', opts.cacheDir);
  });
  const { suite } = base.info.manifest.source;
  const mirror = await findDebianMirror({ env });
  progress(`mirror: ${mirror.uri} (from ${mirror.from}), suite ${suite}`);
  const keyring = env.RVISOR_DEBIAN_KEYRING || DEFAULT_KEYRING;
  if (!existsSync(keyring)) throw new ImageError(`no Debian archive keyring at ${keyring}: install the debian-archive-keyring package or set RVISOR_DEBIAN_KEYRING`);
  const kernelVersion = base.info.manifest.kernelVersion;

  const tree = await prepareApt(join(root, 'apt-system'), { mirror: mirror.uri, suite, keyring }, env);
  const work = await workDir(join(root, 'tmp'));
  const log = join(root, 'tmp', `${SYSTEM_IMAGE}-build.log`);
  try {
    progress(`apt-get update (${suite}/main)`);
    await apt(tree, 'apt-get', ['update'], { progress, mirror: mirror.uri });
    const downloads = join(work, 'downloads');
    await mkdir(join(downloads, 'partial'), { recursive: true });
    progress(`downloading the packages (with linux-modules-${kernelVersion})`);
    const debs = await downloadSystemPackages(tree, mirror.uri, [`linux-modules-${kernelVersion}`], downloads, progress);
    progress(`${debs.length} packages; unpacking the ${debs.filter((d) => d.base).length} base packages on the host`);

    const rootDir = join(work, 'root');
    await mkdir(rootDir);
    for (const d of debs) if (d.base) await unpackDeb(d.file, rootDir);
    const share = join(work, 'share');
    await mkdir(share);
    for (const d of debs) await writePlainDeb(d.file, join(share, basename(d.file)));
    const fileOf = (b: boolean) => debs.filter((d) => d.base === b && !/^base-(passwd|files)$/.test(d.name)).map((d) => basename(d.file)).join('\n') + '\n';
    await writeFile(join(share, BASE_LIST), fileOf(true));
    await writeFile(join(share, REST_LIST), fileOf(false));
    await writeFile(join(share, SCRIPT_NAME), secondStageScript({ mirror: mirror.uri, suite }));
    await rm(downloads, { recursive: true, force: true });

    progress('making the ext4 root disk');
    const raw = join(work, 'disk.raw');
    await writeFile(raw, '');
    await truncate(raw, SYSTEM_DISK_SIZE);
    await runTool('mke2fs', ['-q', '-t', 'ext4', '-L', 'rvisor-root', '-d', rootDir, raw], 'e2fsprogs');
    await rm(rootDir, { recursive: true, force: true });
    const disk = join(work, 'disk.qcow2');
    try {
      convertDisk(raw, disk, 'qcow2', { srcFormat: 'raw' });
    } catch (e) {
      throw e instanceof DiskError ? new ImageError(`cannot make the root disk: ${e.message}`) : e;
    }
    await rm(raw);

    progress(`installing the packages inside rvisor (console log: ${log})`);
    await writeFile(log, '');
    const started = Date.now();
    await configureSystem({ kernel: base.kernel, initrd: base.initrd, disk, share, log, progress });
    progress(`installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const image = await saveImage(
      {
        format: 1,
        name: SYSTEM_IMAGE,
        created: new Date().toISOString(),
        source: { distribution: 'debian', suite, architecture: base.info.manifest.source.architecture, mirror: mirror.uri },
        kernelVersion,
        kernelFormat: base.info.manifest.kernelFormat,
        packages: [...base.info.manifest.packages.filter((p) => p.name.startsWith('linux-')), ...debs.map(({ name, version, sha256 }) => ({ name, version, sha256 }))],
        modules: base.info.manifest.modules,
        layout: IMAGE_LAYOUT,
      },
      { kernel: base.kernel, initrd: base.initrd },
      root,
      disk,
    );
    progress(`image ${SYSTEM_IMAGE}: ${debs.length} packages, disk ${(image.size / 2 ** 20).toFixed(0)} MiB, in ${image.dir}`);
    return image;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
