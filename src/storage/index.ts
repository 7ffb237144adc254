// Disk images for block devices: raw and qcow2 behind the BlockBackend interface.
//
// Policies (the why is next to the code):
// - qcow2 v3 and v2, read and write; refcounts of any width; backing chains of any depth
//   (raw or qcow2, names relative to the image); compressed clusters read (a write turns
//   one into a normal cluster). Encryption, external data files, extended L2 entries,
//   zstd and unknown incompatible features are refused when opening.
// - Dirty bit: read-only opens are fine; a writable open is refused with a pointer to
//   `rvisor disk check --repair`, which rebuilds the refcounts and clears the bit.
//   Corrupt bit and internal snapshots: read-only only.
// - discard: whole clusters are freed; they become zero clusters when there is a backing
//   file (so its data does not show through), unallocated otherwise; partial clusters
//   keep their data. writeZeroes does the same for whole clusters and writes zeroes in
//   partial ones. Raw images: discard is a no-op, writeZeroes writes zeroes (Node has no
//   hole punching). Freed qcow2 clusters are reused by later allocations, not punched.
// - Metadata is written through (no write-back cache) in an order that leaves, if the
//   process dies at any point, at worst leaked clusters; flush() is fdatasync.

export { DiskError, explainErrno } from './errors.js';
export { RawBackend } from './raw.js';
export { Qcow2Image } from './qcow2/image.js';
export {
  createDisk, diskSerial, openDisk, parseFormat, probeFormat, resolveBacking,
  type CreateDiskOptions, type DiskFormat, type OpenDiskOptions,
} from './open.js';
export { checkDisk, convertDisk, diskInfo, type CheckResult, type ConvertOptions, type DiskInfo } from './tools.js';
