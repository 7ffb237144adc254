// Places a kernel, an initrd and a device tree in guest RAM the way QEMU's `virt` board
// does, so a kernel sees the same layout under rvisor as under QEMU.
//
// Kernels may be a Linux RISC-V `Image` (including Debian's EFI-stub PE image, which
// carries the same header), an ELF executable, or a raw binary loaded at RAM + 2 MiB.
//
// Placement is planned before anything is written (planBoot), so a RAM too small for what
// it must hold is refused with the size it would take, before a machine exists.

import type { GuestMemory } from '../cpu/memory.js';
import { ElfError, readElf } from '../isa/elf.js';
import { LoadError } from './loader.js';

const MiB = 1024 * 1024;
/** Where a kernel without its own placement goes: RAM + 2 MiB, as on QEMU for RV64. */
const DEFAULT_KERNEL_OFFSET = 2 * MiB;
const IMAGE_MAGIC2 = 0x05435352; // "RSC\x05" at offset 0x38
/** Kept free at the top of RAM for the device tree when the initrd is placed. */
const DTB_RESERVE = 2 * MiB;
/** The largest RAM the minimum-size search tries (GuestMemory's limit). */
const MAX_RAM = 2048 * MiB;

export interface Ram {
  base: number;
  size: number;
}

export interface Range {
  start: number;
  end: number;
}

/** The guest-physical range (start..end) the kernel occupies, including its bss as far as known. */
export interface KernelPlacement extends Range {
  entry: number;
  format: 'image' | 'elf' | 'raw';
  /** What loading writes: bytes at an address, then `zero` bytes of zeros after them. */
  chunks: { addr: number; data: Uint8Array; zero: number }[];
  /** How the kernel's size is known, for messages. */
  what: string;
}

export interface BootImages {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  /** M-mode firmware at the start of RAM (--bios). */
  firmware?: Uint8Array;
}

export interface BootPlan {
  kernel: KernelPlacement;
  initrd?: Range;
  dtb: Uint8Array;
  dtbAddr: number;
}

/** RAM is too small for what must be placed in it (unlike a malformed kernel, more RAM fixes this). */
class RamTooSmall extends LoadError {}

const hex = (v: number) => '0x' + v.toString(16);
const mib = (bytes: number) => `${+(bytes / MiB).toFixed(1)} MiB`;

function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** The RISC-V Linux Image header (Documentation/arch/riscv/boot-image-header.rst). */
function imageHeader(b: Uint8Array): { textOffset: number; imageSize: number } | undefined {
  if (b.length < 64) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0x38, true) !== IMAGE_MAGIC2) return undefined;
  const textOffset = Number(dv.getBigUint64(0x08, true));
  const imageSize = Number(dv.getBigUint64(0x10, true));
  return { textOffset, imageSize };
}

/** Where the kernel goes, whatever the size of RAM; throws a LoadError if it is malformed. */
export function planKernel(ram: Ram, kernel: Uint8Array): KernelPlacement {
  if (kernel.length === 0) throw new LoadError('the kernel file is empty');
  if (isElf(kernel)) {
    let image;
    try {
      image = readElf(kernel);
    } catch (e) {
      if (e instanceof ElfError) throw new LoadError(`kernel: ${e.message}`);
      throw e;
    }
    let start = Infinity, end = 0;
    const chunks = [];
    for (const s of image.segments) {
      if (s.memsz === 0n) continue;
      const pa = Number(s.paddr), size = Number(s.memsz);
      if (pa < ram.base) throw new LoadError(`kernel segment at ${hex(pa)} lies below RAM at ${hex(ram.base)}`);
      chunks.push({ addr: pa, data: s.data, zero: Math.max(0, size - s.data.length) });
      start = Math.min(start, pa);
      end = Math.max(end, pa + size);
    }
    if (chunks.length === 0) throw new LoadError('kernel: the ELF file has nothing to load');
    return { entry: Number(image.entry), start, end, format: 'elf', chunks, what: `the kernel (ELF, ${mib(end - start)} at RAM + ${mib(start - ram.base)})` };
  }
  const header = imageHeader(kernel);
  if (header) {
    if (header.textOffset % (2 * MiB) !== 0 && header.textOffset !== 0) throw new LoadError(`kernel Image has an unusable text_offset ${hex(header.textOffset)}`);
    const start = ram.base + (header.textOffset || DEFAULT_KERNEL_OFFSET);
    // image_size covers the bss the kernel clears at start-up, beyond the file's bytes.
    const size = Math.max(header.imageSize, kernel.length);
    const what = `the kernel (image_size ${mib(size)} at RAM + ${mib(start - ram.base)})`;
    return { entry: start, start, end: start + size, format: 'image', chunks: [{ addr: start, data: kernel, zero: 0 }], what };
  }
  if (kernel[0] === 0x4d && kernel[1] === 0x5a) throw new LoadError('the kernel is a PE/EFI image without a RISC-V Image header (not a RISC-V kernel?)');
  if (kernel[0] === 0x1f && kernel[1] === 0x8b) throw new LoadError('the kernel is gzip-compressed: decompress it first (a vmlinuz may need `zcat`)');
  const start = ram.base + DEFAULT_KERNEL_OFFSET;
  const what = `the kernel (raw, ${mib(kernel.length)} at RAM + ${mib(DEFAULT_KERNEL_OFFSET)})`;
  return { entry: start, start, end: start + kernel.length, format: 'raw', chunks: [{ addr: start, data: kernel, zero: 0 }], what };
}

/** QEMU's rule: half-way into RAM below 256 MiB, else at 128 MiB, clear of the kernel. */
export function planInitrd(ram: Ram, kernel: Range, length: number): Range {
  let start = ram.base + (ram.size < 256 * MiB ? ram.size / 2 : 128 * MiB);
  if (start < kernel.end) start = Math.ceil(kernel.end / MiB) * MiB;
  start = Math.ceil(start / 4096) * 4096;
  const end = start + length;
  if (end > ram.base + ram.size - DTB_RESERVE) throw new RamTooSmall(`the initrd (${mib(length)})`);
  return { start, end };
}

/** The device tree goes at the top of RAM, 2 MiB aligned down, as QEMU places it. */
export function planDtb(ram: Ram, length: number, above: number): number {
  const addr = Math.floor((ram.base + ram.size - length) / (2 * MiB)) * 2 * MiB;
  if (addr < above) throw new RamTooSmall('the device tree');
  return addr;
}

/** Firmware sits at the start of RAM, below the kernel. */
function checkFirmware(ram: Ram, firmware: Uint8Array, kernel: KernelPlacement): void {
  if (firmware.length === 0) throw new LoadError('the --bios file is empty');
  if (ram.base + firmware.length > kernel.start) {
    throw new LoadError(`the --bios firmware (${mib(firmware.length)}) overlaps the kernel at RAM + ${mib(kernel.start - ram.base)}`);
  }
}

function planIn(ram: Ram, kernel: KernelPlacement, images: BootImages, deviceTree: (initrd: Range | undefined) => Uint8Array): BootPlan {
  if (kernel.end > ram.base + ram.size) throw new RamTooSmall('the kernel');
  if (images.firmware) checkFirmware(ram, images.firmware, kernel);
  const initrd = images.initrd ? planInitrd(ram, kernel, images.initrd.length) : undefined;
  const dtb = deviceTree(initrd);
  return { kernel, initrd, dtb, dtbAddr: planDtb(ram, dtb.length, initrd?.end ?? kernel.end) };
}

/**
 * The whole layout in `ram`, without writing anything. `deviceTree` builds the tree for
 * the initrd's place (the tree names it). When RAM is too small the LoadError says for
 * what, and how much RAM the same images would need.
 */
export function planBoot(ram: Ram, images: BootImages, deviceTree: (initrd: Range | undefined) => Uint8Array): BootPlan {
  const kernel = planKernel(ram, images.kernel);
  try {
    return planIn(ram, kernel, images, deviceTree);
  } catch (e) {
    if (!(e instanceof RamTooSmall)) throw e;
    const parts = [kernel.what, ...(images.initrd ? [`the initrd (${mib(images.initrd.length)})`] : []), 'the device tree'];
    const list = `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
    const need = minimumRam(ram, kernel, images, deviceTree);
    throw new LoadError(`--mem ${mib(ram.size)} is too small for ${list}: they need ${need ? `${need / MiB} MiB of RAM` : 'more RAM than a guest can have'}`);
  }
}

/** The smallest RAM, in whole MiB above `ram.size`, that holds the images; 0 if none does. */
function minimumRam(ram: Ram, kernel: KernelPlacement, images: BootImages, deviceTree: (initrd: Range | undefined) => Uint8Array): number {
  for (let size = Math.floor(ram.size / MiB + 1) * MiB; size <= MAX_RAM; size += MiB) {
    try {
      planIn({ base: ram.base, size }, kernel, images, deviceTree);
      return size;
    } catch (e) {
      if (!(e instanceof RamTooSmall)) throw e;
    }
  }
  return 0;
}

/** Writes what planBoot placed (the firmware is FirmwareBoot's). */
export function writeBoot(mem: GuestMemory, images: BootImages, plan: BootPlan): void {
  for (const c of plan.kernel.chunks) {
    mem.write(c.addr, c.data);
    if (c.zero > 0) mem.write(c.addr + c.data.length, new Uint8Array(c.zero));
  }
  if (images.initrd && plan.initrd) mem.write(plan.initrd.start, images.initrd);
  mem.write(plan.dtbAddr, plan.dtb);
}
