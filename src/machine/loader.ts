// Loads an ELF executable into guest RAM. Every segment must lie inside RAM; anything
// else is refused with one sentence the user can act on.

import type { GuestMemory } from '../cpu/memory.js';
import { readElf, type ElfImage } from '../isa/elf.js';

export class LoadError extends Error {
  override name = 'LoadError';
}

const hex = (v: bigint | number) => '0x' + v.toString(16);

export function loadElf(mem: GuestMemory, bytes: Uint8Array): ElfImage {
  const image = readElf(bytes);
  const ramStart = BigInt(mem.base), ramEnd = BigInt(mem.base + mem.size);
  for (const seg of image.segments) {
    if (seg.memsz === 0n) continue;
    if (seg.paddr < ramStart || seg.paddr + seg.memsz > ramEnd) {
      throw new LoadError(`segment at ${hex(seg.paddr)}..${hex(seg.paddr + seg.memsz)} lies outside RAM ${hex(ramStart)}..${hex(ramEnd)}`);
    }
  }
  if (image.entry < ramStart || image.entry >= ramEnd) throw new LoadError(`entry point ${hex(image.entry)} lies outside RAM`);
  for (const seg of image.segments) {
    if (seg.memsz === 0n) continue;
    const pa = Number(seg.paddr);
    mem.write(pa, seg.data);
    const bss = Number(seg.memsz) - seg.data.length;
    if (bss > 0) mem.write(pa + seg.data.length, new Uint8Array(bss));
  }
  return image;
}
