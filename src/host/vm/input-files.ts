// Host paths a VM names (kernel, initrd, firmware, disks, shares: options of the CLI,
// fields of a VmSpec). Each is checked before anything runs, and every problem becomes
// one line that names the option or field and the path: Node's own errors say neither (reading a directory gives
// "EISDIR: illegal operation on a directory, read", with no path at all).

import { accessSync, constants, readFileSync, statSync, type Stats } from 'node:fs';
import { explainErrno } from '../../storage/index.js';
import { VmError } from '../../vmm/vm-services.js';

/** Runs a file-system call; an error the user can act on becomes "OPTION PATH: reason". */
function attempt<T>(option: string, path: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const why = explainErrno(e);
    if (why) throw new VmError(`${option} ${path}: ${why}`);
    throw e;
  }
}

function stat(option: string, path: string): Stats {
  return attempt(option, path, () => statSync(path));
}

/**
 * Reads a whole regular file of at most `maxBytes` (more could not fit in the guest, and
 * Node cannot read more than 2 GiB into one buffer). Devices and FIFOs are refused: a
 * read of /dev/zero would never end.
 */
export function readInputFile(option: string, path: string, maxBytes: number, allowEmpty = false): Uint8Array {
  const st = stat(option, path);
  if (st.isDirectory()) throw new VmError(`${option} ${path}: is a directory`);
  if (!st.isFile()) throw new VmError(`${option} ${path}: not a regular file`);
  // An empty initrd is a valid (empty) cpio archive's worth of nothing; an empty kernel
  // or firmware is always a mistake, and the loader's own message cannot name the path.
  if (st.size === 0 && !allowEmpty) throw new VmError(`${option} ${path}: the file is empty`);
  if (st.size > maxBytes) throw new VmError(`${option} ${path}: ${mib(st.size)} MiB, larger than the guest's RAM (${mib(maxBytes)} MiB)`);
  const bytes = attempt(option, path, () => readFileSync(path));
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A disk image: a readable regular file (block devices too), writable unless `readOnly`. */
export function checkInputImage(option: string, path: string, readOnly: boolean): void {
  const st = stat(option, path);
  if (st.isDirectory()) throw new VmError(`${option} ${path}: is a directory`);
  if (!st.isFile() && !st.isBlockDevice()) throw new VmError(`${option} ${path}: not a regular file`);
  attempt(option, path, () => accessSync(path, constants.R_OK));
  try {
    if (!readOnly) accessSync(path, constants.W_OK);
  } catch (e) {
    if (explainErrno(e) === 'permission denied') throw new VmError(`${option} ${path}: not writable (add ,ro to use it read-only)`);
    throw e;
  }
}

/** A directory the guest will see (a share): it must exist and be readable. */
export function checkInputDir(option: string, path: string): void {
  const st = stat(option, path);
  if (!st.isDirectory()) throw new VmError(`${option} ${path}: not a directory`);
  attempt(option, path, () => accessSync(path, constants.R_OK | constants.X_OK));
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0);
}
