// Reads what a VmSpec boots from on this host: the named image (pulled when it is not in
// the cache yet) or a kernel and initrd of the user's, and the firmware; and composes the
// kernel command line. Every host path the spec names is checked first, so a bad one is
// reported before an image is pulled.

import { ImageMissing } from '../image/errors.js';
import { pullImage } from '../image/pull.js';
import { type ImageInfo, openImage } from '../image/store.js';
import { guestCommandLine } from '../image/init-script.js';
import type { VmSpec } from '../../vmm/spec.js';
import type { BootFiles } from '../../vmm/vm-services.js';
import { checkInputDir, checkInputImage, readInputFile } from './input-files.js';
import { isNbdUri, parseNbdUri } from '../../storage/nbd/uri.js';
import { VmError } from '../../vmm/vm-services.js';

/** Kernel arguments for the default image: serial console, quiet, reboot on panic, and
 *  the SBI's early console, which shows a panic that comes before ttyS0 is up. With
 *  quiet it shows nothing else, provided quiet comes first: early parameters are taken
 *  in order, and earlycon prints what was logged before it at the loglevel of the time. */
export const DEFAULT_APPEND = 'console=ttyS0 quiet earlycon=sbi panic=-1';

export interface BootFileOptions {
  /** What messages call each path: the CLI names its options (--kernel). */
  names?: { kernel: string; initrd: string; firmware: string; disk: string; share: string };
  /** The image is not in the cache: it is pulled now. */
  pulling?: (image: string) => void;
  /** Lines about the pull's progress. */
  progress?: (line: string) => void;
}

const FIELD_NAMES = { kernel: 'boot.kernel', initrd: 'boot.initrd', firmware: 'firmware', disk: 'disk', share: 'share' };

/** What a host boots: the files and command line, and what a boot snapshot needs. */
export interface HostBootFiles extends BootFiles {
  /** The image, when the spec boots one (not --kernel). */
  image?: ImageInfo;
  /** The command line without the words that differ from run to run (the identity and
   *  the command): what a boot snapshot's guest boots with. */
  baseAppend: string;
  /** The identity's words (the command is the spec's), as /init takes them at its
   *  boot-snapshot point (init-script.ts). */
  runWords: string[];
}

/** The boot files of `spec` with its final kernel command line. */
export async function readBootFiles(spec: VmSpec, o: BootFileOptions = {}): Promise<HostBootFiles> {
  const names = o.names ?? FIELD_NAMES;
  const read = (name: string, path: string, allowEmpty = false) => readInputFile(name, path, spec.memory, allowEmpty);
  const ownKernel = spec.boot.kernel !== undefined ? read(names.kernel, spec.boot.kernel) : undefined;
  // An empty initrd is an empty cpio archive; an empty kernel or firmware is a mistake.
  const ownInitrd = spec.boot.initrd !== undefined ? read(names.initrd, spec.boot.initrd, true) : undefined;
  const firmware = spec.firmware !== undefined ? read(names.firmware, spec.firmware) : undefined;
  for (const d of spec.disks) {
    // An NBD disk is checked by connecting to it, when the devices open.
    if (isNbdUri(d.file)) {
      try {
        parseNbdUri(d.file);
      } catch (e) {
        throw new VmError(`${names.disk} ${(e as Error).message}`);
      }
    } else {
      checkInputImage(names.disk, d.file, d.readOnly ?? false);
    }
  }
  for (const s of spec.shares) checkInputDir(names.share, s.dir);
  const baseAppend = spec.boot.append ?? DEFAULT_APPEND;
  // The guest's identity, for the image's /init (a clone's differs from its template's).
  const identity = [
    ...(spec.hostname !== undefined ? [`rvisor.hostname=${spec.hostname}`] : []),
    ...(spec.machineId !== undefined ? [`rvisor.machine_id=${spec.machineId}`] : []),
  ];
  const command = spec.boot.command ?? [];
  const append = [baseAppend, ...identity, ...(command.length ? [guestCommandLine(command)] : [])].join(' ');
  if (ownKernel) return { kernel: ownKernel, initrd: ownInitrd, firmware, append, baseAppend, runWords: identity };
  const image = await imageFiles(spec.boot.image ?? 'debian', o);
  return { kernel: image.kernel, initrd: ownInitrd ?? image.initrd, firmware, append, baseAppend, runWords: identity, image: image.info };
}

async function imageFiles(name: string, o: BootFileOptions): Promise<{ kernel: Uint8Array; initrd: Uint8Array; info: ImageInfo }> {
  try {
    return await openImage(name);
  } catch (e) {
    if (!(e instanceof ImageMissing)) throw e;
    o.pulling?.(name);
    await pullImage(name, { progress: o.progress });
    return await openImage(name);
  }
}
