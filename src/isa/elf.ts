// ELF64 little-endian RISC-V executables: a writer for assembler output and a
// strict reader for kernels and firmware handed to the VMM.

import type { AsmResult } from './asm.js';

export interface ElfSegment {
  paddr: bigint;
  vaddr: bigint;
  data: Uint8Array;
  memsz: bigint;
  flags: number;
}

export interface ElfImage {
  entry: bigint;
  segments: ElfSegment[];
  symbols: Map<string, bigint>;
}

export class ElfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ElfError';
  }
}

const EM_RISCV = 243;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const PT_LOAD = 1;
const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHF_WRITE = 1;
const SHF_ALLOC = 2;
const SHF_EXECINSTR = 4;
const SHN_ABS = 0xfff1;
const STB_GLOBAL = 1;
const PAGE = 4096;
// EF_RISCV_RVC | EF_RISCV_FLOAT_ABI_DOUBLE
const E_FLAGS = 0x5;

class StringTable {
  private parts: Uint8Array[] = [new Uint8Array(1)];
  private size = 1;
  add(s: string): number {
    const off = this.size;
    const b = new TextEncoder().encode(s + '\0');
    this.parts.push(b);
    this.size += b.length;
    return off;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Writes an ET_EXEC image with one PT_LOAD per section plus a symbol table. */
export function writeElf(r: AsmResult): Uint8Array {
  const secs = r.sections;
  const shstr = new StringTable();
  const str = new StringTable();

  // Symbols: labels get the index of the section that holds them, constants SHN_ABS.
  const syms = [...r.symbols].map(([name, value]) => {
    const idx = secs.findIndex((s) => value >= s.addr && value <= s.addr + BigInt(s.bytes.length));
    return { name: str.add(name), value, shndx: idx < 0 ? SHN_ABS : idx + 1 };
  });
  const symtab = new Uint8Array((syms.length + 1) * SYM_SIZE);
  const sv = new DataView(symtab.buffer);
  syms.forEach((s, k) => {
    const o = (k + 1) * SYM_SIZE;
    sv.setUint32(o, s.name, true);
    sv.setUint8(o + 4, STB_GLOBAL << 4);
    sv.setUint16(o + 6, s.shndx, true);
    sv.setBigUint64(o + 8, BigInt.asUintN(64, s.value), true);
  });
  const strtab = str.bytes();

  const secNames = secs.map((s) => shstr.add(s.name));
  const symtabName = shstr.add('.symtab');
  const strtabName = shstr.add('.strtab');
  const shstrtabName = shstr.add('.shstrtab');
  const shstrtab = shstr.bytes();

  // File layout: headers, page-aligned section contents, tables, section headers.
  let off = EHDR_SIZE + PHDR_SIZE * secs.length;
  const dataOff = secs.map((s) => {
    // p_offset must be congruent to p_vaddr modulo p_align.
    off = align(off, PAGE) + Number(s.addr % BigInt(PAGE));
    const o = off;
    off += s.bytes.length;
    return o;
  });
  const symOff = align(off, 8);
  const strOff = symOff + symtab.length;
  const shstrOff = strOff + strtab.length;
  const shOff = align(shstrOff + shstrtab.length, 8);
  const shnum = secs.length + 4;
  const out = new Uint8Array(shOff + shnum * SHDR_SIZE);
  const v = new DataView(out.buffer);

  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, EM_RISCV, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt.asUintN(64, r.entry), true);
  v.setBigUint64(32, BigInt(EHDR_SIZE), true);
  v.setBigUint64(40, BigInt(shOff), true);
  v.setUint32(48, E_FLAGS, true);
  v.setUint16(52, EHDR_SIZE, true);
  v.setUint16(54, PHDR_SIZE, true);
  v.setUint16(56, secs.length, true);
  v.setUint16(58, SHDR_SIZE, true);
  v.setUint16(60, shnum, true);
  v.setUint16(62, shnum - 1, true);

  secs.forEach((s, k) => {
    const p = EHDR_SIZE + k * PHDR_SIZE;
    const size = BigInt(s.bytes.length);
    v.setUint32(p, PT_LOAD, true);
    v.setUint32(p + 4, 4 | (s.flags === 'rw' ? 2 : 0) | (s.flags === 'rx' ? 1 : 0), true);
    v.setBigUint64(p + 8, BigInt(dataOff[k]), true);
    v.setBigUint64(p + 16, s.addr, true);
    v.setBigUint64(p + 24, s.addr, true);
    v.setBigUint64(p + 32, size, true);
    v.setBigUint64(p + 40, size, true);
    v.setBigUint64(p + 48, BigInt(PAGE), true);
    out.set(s.bytes, dataOff[k]);
  });
  out.set(symtab, symOff);
  out.set(strtab, strOff);
  out.set(shstrtab, shstrOff);

  const shdr = (k: number, name: number, type: number, flags: number, addr: bigint, offset: number,
    size: number, link: number, info: number, alignment: number, entsize: number): void => {
    const o = shOff + k * SHDR_SIZE;
    v.setUint32(o, name, true);
    v.setUint32(o + 4, type, true);
    v.setBigUint64(o + 8, BigInt(flags), true);
    v.setBigUint64(o + 16, addr, true);
    v.setBigUint64(o + 24, BigInt(offset), true);
    v.setBigUint64(o + 32, BigInt(size), true);
    v.setUint32(o + 40, link, true);
    v.setUint32(o + 44, info, true);
    v.setBigUint64(o + 48, BigInt(alignment), true);
    v.setBigUint64(o + 56, BigInt(entsize), true);
  };
  secs.forEach((s, k) => {
    const flags = SHF_ALLOC | (s.flags === 'rw' ? SHF_WRITE : 0) | (s.flags === 'rx' ? SHF_EXECINSTR : 0);
    shdr(k + 1, secNames[k], SHT_PROGBITS, flags, s.addr, dataOff[k], s.bytes.length, 0, 0, PAGE, 0);
  });
  const n = secs.length;
  // sh_info of .symtab is the first non-local symbol: all of ours are global.
  shdr(n + 1, symtabName, SHT_SYMTAB, 0, 0n, symOff, symtab.length, n + 2, 1, 8, SYM_SIZE);
  shdr(n + 2, strtabName, SHT_STRTAB, 0, 0n, strOff, strtab.length, 0, 0, 1, 0);
  shdr(n + 3, shstrtabName, SHT_STRTAB, 0, 0n, shstrOff, shstrtab.length, 0, 0, 1, 0);
  return out;
}

// ---- reader ----

class Reader {
  readonly view: DataView;
  readonly size: bigint;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.size = BigInt(bytes.byteLength);
  }
  /** Throws unless [off, off + len) lies inside the file. */
  check(off: bigint, len: bigint, what: string): number {
    if (off < 0n || len < 0n || off + len > this.size) throw new ElfError(`${what} extends past the end of the file.`);
    return Number(off);
  }
  u16(o: number): number { return this.view.getUint16(o, true); }
  u32(o: number): number { return this.view.getUint32(o, true); }
  u64(o: number): bigint { return this.view.getBigUint64(o, true); }
}

const U64_LIMIT = 1n << 64n;

function readSegments(rd: Reader): ElfSegment[] {
  const phoff = rd.u64(32);
  const phentsize = rd.u16(54);
  const phnum = rd.u16(56);
  if (phnum === 0) throw new ElfError('The ELF file has no program headers.');
  if (phentsize !== PHDR_SIZE) throw new ElfError(`Unexpected program header size ${phentsize} (expected ${PHDR_SIZE}).`);
  rd.check(phoff, BigInt(phnum * PHDR_SIZE), 'The program header table');
  const segments: ElfSegment[] = [];
  for (let k = 0; k < phnum; k++) {
    const p = Number(phoff) + k * PHDR_SIZE;
    if (rd.u32(p) !== PT_LOAD) continue;
    const offset = rd.u64(p + 8);
    const vaddr = rd.u64(p + 16);
    const paddr = rd.u64(p + 24);
    const filesz = rd.u64(p + 32);
    const memsz = rd.u64(p + 40);
    if (filesz > memsz) throw new ElfError(`Segment ${k} has a file size larger than its memory size.`);
    if (vaddr + memsz > U64_LIMIT || paddr + memsz > U64_LIMIT) throw new ElfError(`Segment ${k} size overflows the address space.`);
    if (offset >= U64_LIMIT - filesz) throw new ElfError(`Segment ${k} offset and size overflow.`);
    const start = rd.check(offset, filesz, `Segment ${k}`);
    segments.push({ paddr, vaddr, memsz, flags: rd.u32(p + 4), data: rd.bytes.slice(start, start + Number(filesz)) });
  }
  if (segments.length === 0) throw new ElfError('The ELF file has no loadable segments.');
  return segments;
}

function cString(rd: Reader, start: number, end: number, at: number): string {
  let e = start + at;
  if (at < 0 || e >= end) throw new ElfError('A symbol name lies outside the string table.');
  while (e < end && rd.bytes[e] !== 0) e++;
  if (e >= end) throw new ElfError('A symbol name is not terminated inside the string table.');
  return new TextDecoder().decode(rd.bytes.subarray(start + at, e));
}

function readSymbols(rd: Reader): Map<string, bigint> {
  const symbols = new Map<string, bigint>();
  const shoff = rd.u64(40);
  const shentsize = rd.u16(58);
  const shnum = rd.u16(60);
  if (shoff === 0n || shnum === 0) return symbols;
  if (shentsize !== SHDR_SIZE) throw new ElfError(`Unexpected section header size ${shentsize} (expected ${SHDR_SIZE}).`);
  const base = rd.check(shoff, BigInt(shnum * SHDR_SIZE), 'The section header table');
  const sh = (k: number): { type: number; offset: bigint; size: bigint; link: number; entsize: bigint } => {
    const o = base + k * SHDR_SIZE;
    return { type: rd.u32(o + 4), offset: rd.u64(o + 24), size: rd.u64(o + 32), link: rd.u32(o + 40), entsize: rd.u64(o + 56) };
  };
  for (let k = 0; k < shnum; k++) {
    const s = sh(k);
    if (s.type !== SHT_SYMTAB) continue;
    if (s.entsize !== BigInt(SYM_SIZE)) throw new ElfError('The symbol table has an unexpected entry size.');
    if (s.link >= shnum) throw new ElfError('The symbol table links to a missing string table.');
    const strs = sh(s.link);
    if (strs.type !== SHT_STRTAB) throw new ElfError('The symbol table links to a section that is not a string table.');
    const symStart = rd.check(s.offset, s.size, 'The symbol table');
    const strStart = rd.check(strs.offset, strs.size, 'The string table');
    const strEnd = strStart + Number(strs.size);
    const count = Number(s.size / BigInt(SYM_SIZE));
    for (let i = 1; i < count; i++) {
      const o = symStart + i * SYM_SIZE;
      const type = rd.view.getUint8(o + 4) & 0xf;
      // Skip section (3) and file (4) symbols: they are not addresses worth naming.
      if (type === 3 || type === 4) continue;
      const name = cString(rd, strStart, strEnd, rd.u32(o));
      if (name !== '' && !symbols.has(name)) symbols.set(name, rd.u64(o + 8));
    }
  }
  return symbols;
}

function parse(bytes: Uint8Array): ElfImage {
  if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw new ElfError('This is not an ELF file (bad magic number).');
  }
  if (bytes.length < EHDR_SIZE) throw new ElfError('The ELF header is truncated.');
  if (bytes[4] !== 2) throw new ElfError('This is not a 64-bit ELF file.');
  if (bytes[5] !== 1) throw new ElfError('This ELF file is not little-endian.');
  const rd = new Reader(bytes);
  const machine = rd.u16(18);
  if (machine !== EM_RISCV) throw new ElfError(`This ELF file is not for RISC-V (e_machine ${machine}, expected ${EM_RISCV}).`);
  const type = rd.u16(16);
  if (type !== 2 && type !== 3) throw new ElfError(`This ELF file is not an executable (e_type ${type}).`);
  return { entry: rd.u64(24), segments: readSegments(rd), symbols: readSymbols(rd) };
}

/** Parses and validates an ELF64 RISC-V executable; throws only ElfError. */
export function readElf(bytes: Uint8Array): ElfImage {
  try {
    return parse(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw e;
    // A check we missed must still surface as a clean ElfError, never a crash.
    throw new ElfError(`The ELF file is malformed (${e instanceof Error ? e.message : String(e)}).`);
  }
}
