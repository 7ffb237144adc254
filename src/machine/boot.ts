// Places a kernel, an initrd and a device tree in guest RAM the way QEMU's `virt` board
// does, so a kernel sees the same layout under rvisor as under QEMU.
//
// Kernels may be a Linux RISC-V `Image` (including Debian's EFI-stub PE image, which
// carries the same header), an ELF executable, or a raw binary loaded at RAM + 2 MiB.

import type { GuestMemory } from '../cpu/memory.js';
import { ElfError, readElf } from '../isa/elf.js';
import { LoadError } from './loader.js';

const MiB = 1024 * 1024;
/** Where a kernel without its own placement goes: RAM + 2 MiB, as on QEMU for RV64. */
const DEFAULT_KERNEL_OFFSET = 2 * MiB;
const IMAGE_MAGIC2 = 0x05435352; // "RSC\x05" at offset 0x38

export interface KernelPlacement {
  entry: number;
  /** Guest-physical range the kernel occupies, including its bss as far as known. */
  start: number;
  end: number;
  format: 'image' | 'elf' | 'raw';
}

export interface BootLayout {
  kernel: KernelPlacement;
  initrd?: { start: number; end: number };
  dtb: number;
}

const hex = (v: number) => '0x' + v.toString(16);

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

export function loadKernel(mem: GuestMemory, kernel: Uint8Array): KernelPlacement {
  if (kernel.length === 0) throw new LoadError('the kernel file is empty');
  const ramEnd = mem.base + mem.size;
  if (isElf(kernel)) {
    let image;
    try {
      image = readElf(kernel);
    } catch (e) {
      if (e instanceof ElfError) throw new LoadError(`kernel: ${e.message}`);
      throw e;
    }
    let start = Infinity, end = 0;
    for (const s of image.segments) {
      if (s.memsz === 0n) continue;
      const pa = Number(s.paddr), size = Number(s.memsz);
      if (pa < mem.base || pa + size > ramEnd) throw new LoadError(`kernel segment at ${hex(pa)} lies outside RAM ${hex(mem.base)}..${hex(ramEnd)}`);
      mem.write(pa, s.data);
      if (size > s.data.length) mem.write(pa + s.data.length, new Uint8Array(size - s.data.length));
      start = Math.min(start, pa);
      end = Math.max(end, pa + size);
    }
    return { entry: Number(image.entry), start, end, format: 'elf' };
  }
  const header = imageHeader(kernel);
  if (header) {
    if (header.textOffset % (2 * MiB) !== 0 && header.textOffset !== 0) throw new LoadError(`kernel Image has an unusable text_offset ${hex(header.textOffset)}`);
    const start = mem.base + (header.textOffset || DEFAULT_KERNEL_OFFSET);
    const size = Math.max(header.imageSize, kernel.length);
    if (start + size > ramEnd) throw new LoadError(`the kernel needs ${Math.ceil((start + size - mem.base) / MiB)} MiB of RAM; --mem is ${mem.size / MiB} MiB`);
    mem.write(start, kernel);
    return { entry: start, start, end: start + size, format: 'image' };
  }
  if (kernel[0] === 0x4d && kernel[1] === 0x5a) throw new LoadError('the kernel is a PE/EFI image without a RISC-V Image header (not a RISC-V kernel?)');
  if (kernel[0] === 0x1f && kernel[1] === 0x8b) throw new LoadError('the kernel is gzip-compressed: decompress it first (a vmlinuz may need `zcat`)');
  const start = mem.base + DEFAULT_KERNEL_OFFSET;
  if (start + kernel.length > ramEnd) throw new LoadError(`the kernel does not fit in ${mem.size / MiB} MiB of RAM`);
  mem.write(start, kernel);
  return { entry: start, start, end: start + kernel.length, format: 'raw' };
}

/** QEMU's rule: half-way into RAM below 256 MiB, else at 128 MiB, clear of the kernel. */
export function placeInitrd(mem: GuestMemory, kernel: KernelPlacement, initrd: Uint8Array): { start: number; end: number } {
  let start = mem.base + (mem.size < 256 * MiB ? mem.size / 2 : 128 * MiB);
  if (start < kernel.end) start = Math.ceil(kernel.end / MiB) * MiB;
  start = Math.ceil(start / 4096) * 4096;
  const end = start + initrd.length;
  // Leave room for the device tree at the top of RAM.
  if (end > mem.base + mem.size - 2 * MiB) throw new LoadError(`the initrd (${Math.ceil(initrd.length / MiB)} MiB) does not fit in RAM beside the kernel: raise --mem`);
  mem.write(start, initrd);
  return { start, end };
}

/** The device tree goes at the top of RAM, 2 MiB aligned down, as QEMU places it. */
export function placeDtb(mem: GuestMemory, dtb: Uint8Array, above: number): number {
  const ramEnd = mem.base + mem.size;
  const addr = Math.floor((ramEnd - dtb.length) / (2 * MiB)) * 2 * MiB;
  if (addr < above) throw new LoadError('no room left in RAM for the device tree: raise --mem');
  mem.write(addr, dtb);
  return addr;
}
