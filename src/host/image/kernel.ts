// Recognising a RISC-V Linux kernel image (Documentation/arch/riscv/boot-image-header.rst).
// No Node API here.
//
// The flat `Image` starts with a 64-byte header: code0/code1, text_offset (u64 at 0x08),
// image_size (u64 at 0x10), flags, version, then magic "RISCV\0\0\0" at 0x30 and magic2
// "RSC\x05" at 0x38. With CONFIG_EFI the first two bytes are "MZ" and the u32 at 0x3c
// points to a PE header, so the same file is also an EFI application; with CONFIG_EFI_ZBOOT
// the file is instead a small EFI decompressor (no RISC-V header) around a compressed Image.

export interface KernelImage {
  textOffset: number;
  imageSize: number;
  /** Header version as "major.minor". */
  version: string;
  /** The EFI stub's PE header is there too. */
  efiStub: boolean;
}

export function parseRiscvImage(bytes: Uint8Array): KernelImage | undefined {
  if (bytes.length < 64) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = String.fromCharCode(...bytes.subarray(0x30, 0x36));
  const magic2 = String.fromCharCode(...bytes.subarray(0x38, 0x3c));
  if (magic !== 'RISCV\0' || magic2 !== 'RSC\x05') return undefined;
  const version = view.getUint32(0x20, true);
  const peOffset = view.getUint32(0x3c, true);
  const efiStub =
    bytes[0] === 0x4d && bytes[1] === 0x5a && peOffset + 4 <= bytes.length && view.getUint32(peOffset, false) === 0x50450000;
  return {
    textOffset: Number(view.getBigUint64(0x08, true)),
    imageSize: Number(view.getBigUint64(0x10, true)),
    version: `${version >>> 16}.${version & 0xffff}`,
    efiStub,
  };
}

export function describeKernel(k: KernelImage): string {
  const kind = k.efiStub ? 'EFI-stub PE/COFF RISC-V Image' : 'RISC-V Image';
  return `${kind} (uncompressed, header v${k.version}, image_size ${k.imageSize}, text_offset 0x${k.textOffset.toString(16)})`;
}

/** What a file that is not a RISC-V Image looks like, for the error message. */
export function sniffCompression(bytes: Uint8Array): 'gzip' | 'xz' | 'zstd' | 'efi-zboot' | undefined {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'gzip';
  if (bytes[0] === 0xfd && String.fromCharCode(...bytes.subarray(1, 6)) === '7zXZ\0') return 'xz';
  if (bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd) return 'zstd';
  if (bytes[0] === 0x4d && bytes[1] === 0x5a && String.fromCharCode(...bytes.subarray(4, 8)) === 'zimg') return 'efi-zboot';
  return undefined;
}
