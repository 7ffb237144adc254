// Flattened devicetree (DTB, format version 17) writer and reader, after the Devicetree
// Specification v0.4, chapter 5. The writer builds the blob a kernel finds in a1 at boot;
// the reader checks a user-supplied blob, so it trusts no offset or length it is given.

export interface FdtProp {
  name: string;
  /** The value exactly as stored: big-endian cells, NUL-terminated strings, raw bytes. */
  value: Uint8Array;
}

export interface FdtNode {
  /** `name@unit-address`; the root's name is empty. */
  name: string;
  props: FdtProp[];
  children: FdtNode[];
}

export interface FdtReservation {
  address: bigint;
  size: bigint;
}

export interface FdtOptions {
  reservations?: FdtReservation[];
  bootCpuId?: number;
}

export interface ParsedFdt {
  root: FdtNode;
  reservations: FdtReservation[];
  bootCpuId: number;
  version: number;
}

const MAGIC = 0xd00dfeed;
const VERSION = 17;
const LAST_COMP_VERSION = 16;
const HEADER_SIZE = 40;
const BEGIN_NODE = 1, END_NODE = 2, PROP = 3, NOP = 4, END = 9;
/** Deeper nesting than this is no real tree, only a way to exhaust a reader. */
const MAX_DEPTH = 64;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

// ---- property values ----

/** Cells: 32-bit big-endian words. */
export function u32(...cells: number[]): Uint8Array {
  const out = new Uint8Array(cells.length * 4);
  const dv = new DataView(out.buffer);
  cells.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c > 0xffff_ffff) throw new RangeError(`cell value ${c} is not a u32`);
    dv.setUint32(i * 4, c);
  });
  return out;
}

/** 64-bit values, each as two cells (high word first), as #address-cells = 2 wants them. */
export function u64(...values: number[]): Uint8Array {
  const cells: number[] = [];
  for (const v of values) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`value ${v} is not a safe non-negative integer`);
    cells.push(Math.floor(v / 2 ** 32), v % 2 ** 32);
  }
  return u32(...cells);
}

export function str(s: string): Uint8Array {
  return strList(s);
}

/** Several NUL-terminated strings back to back, as `compatible` lists them. */
export function strList(...list: string[]): Uint8Array {
  const parts = list.map((s) => {
    if (s.includes('\0')) throw new RangeError(`string ${JSON.stringify(s)} contains a NUL`);
    return utf8.encode(s + '\0');
  });
  return concat(parts);
}

/** A property whose presence is the information (`interrupt-controller`, `ranges`). */
export function empty(): Uint8Array {
  return new Uint8Array(0);
}

export function bytes(b: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(b);
}

// ---- tree building ----

/** Properties keep their insertion order, which is the order they are written in. */
export function node(name: string, props: Record<string, Uint8Array> = {}, children: FdtNode[] = []): FdtNode {
  return { name, props: Object.entries(props).map(([n, value]) => ({ name: n, value })), children };
}

/** Hands out phandles 1, 2, 3, ... in the order the caller asks for them. */
export class Phandles {
  private last = 0;
  next(): number {
    return ++this.last;
  }
}

// ---- writing ----

const NODE_NAME = /^[0-9a-zA-Z,._+-]{1,31}(@[0-9a-zA-Z,._+-]+)?$/;
const PROP_NAME = /^[0-9a-zA-Z,._+?#-]{1,31}$/;

/** Serialises a tree rooted at `root` (whose name must be empty) to a v17 DTB. */
export function toBytes(root: FdtNode, opts: FdtOptions = {}): Uint8Array {
  if (root.name !== '') throw new Error(`the root node must have an empty name, not ${JSON.stringify(root.name)}`);
  const struct = new ByteWriter();
  const strings = new StringTable();
  writeNode(root, struct, strings, true);
  struct.u32(END);

  const reservations = opts.reservations ?? [];
  const rsvOff = HEADER_SIZE; // 40 is already the 8-byte alignment the map needs
  const structOff = rsvOff + (reservations.length + 1) * 16;
  const stringsOff = structOff + struct.length;
  const total = stringsOff + strings.length;

  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  [MAGIC, total, structOff, stringsOff, rsvOff, VERSION, LAST_COMP_VERSION, opts.bootCpuId ?? 0, strings.length, struct.length]
    .forEach((v, i) => dv.setUint32(i * 4, v));
  reservations.forEach((r, i) => {
    dv.setBigUint64(rsvOff + i * 16, r.address);
    dv.setBigUint64(rsvOff + i * 16 + 8, r.size);
  }); // the all-zero terminating entry is already there
  out.set(struct.bytes(), structOff);
  out.set(strings.bytes(), stringsOff);
  return out;
}

function writeNode(n: FdtNode, out: ByteWriter, strings: StringTable, isRoot: boolean): void {
  if (!isRoot && !NODE_NAME.test(n.name)) throw new Error(`invalid node name ${JSON.stringify(n.name)}`);
  out.u32(BEGIN_NODE);
  out.padded(utf8.encode(n.name + '\0'));
  const seen = new Set<string>();
  for (const p of n.props) {
    if (!PROP_NAME.test(p.name)) throw new Error(`invalid property name ${JSON.stringify(p.name)} in node ${JSON.stringify(n.name)}`);
    if (seen.has(p.name)) throw new Error(`duplicate property ${p.name} in node ${JSON.stringify(n.name)}`);
    seen.add(p.name);
    out.u32(PROP);
    out.u32(p.value.length);
    out.u32(strings.offsetOf(p.name));
    out.padded(p.value);
  }
  const names = new Set<string>();
  for (const c of n.children) {
    if (names.has(c.name)) throw new Error(`duplicate node ${c.name} under ${JSON.stringify(n.name)}`);
    names.add(c.name);
    writeNode(c, out, strings, false);
  }
  out.u32(END_NODE);
}

class ByteWriter {
  private chunks: Uint8Array[] = [];
  length = 0;
  u32(v: number): void {
    this.raw(u32(v));
  }
  /** Data followed by zeros up to the next 4-byte boundary, as every structure token is aligned. */
  padded(b: Uint8Array): void {
    this.raw(b);
    const pad = (4 - (b.length % 4)) % 4;
    if (pad) this.raw(new Uint8Array(pad));
  }
  raw(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }
  bytes(): Uint8Array {
    return concat(this.chunks);
  }
}

/** Each property name is stored once; every use points at that one copy. */
class StringTable {
  private offsets = new Map<string, number>();
  private out = new ByteWriter();
  get length(): number {
    return this.out.length;
  }
  offsetOf(name: string): number {
    let off = this.offsets.get(name);
    if (off === undefined) {
      off = this.out.length;
      this.offsets.set(name, off);
      // The strings block needs no alignment, so no padding.
      this.out.raw(utf8.encode(name + '\0'));
    }
    return off;
  }
  bytes(): Uint8Array {
    return this.out.bytes();
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- reading ----

function fail(why: string): never {
  throw new Error(`invalid device tree blob: ${why}`);
}

/** Parses a DTB, rejecting anything malformed with an Error that says what is wrong. */
export function parseFdt(blob: Uint8Array): ParsedFdt {
  if (blob.length < HEADER_SIZE) fail(`${blob.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const h = (i: number) => dv.getUint32(i * 4);
  if (h(0) !== MAGIC) fail(`bad magic 0x${h(0).toString(16)} (want 0xd00dfeed)`);
  const [total, structOff, stringsOff, rsvOff, version, lastComp, bootCpuId, stringsSize] = [1, 2, 3, 4, 5, 6, 7, 8].map(h);
  if (version < 16 || lastComp > VERSION) fail(`unsupported version ${version} (last compatible ${lastComp})`);
  if (total > blob.length) fail(`totalsize ${total} exceeds the ${blob.length} bytes given`);
  if (total < HEADER_SIZE) fail(`totalsize ${total} is smaller than the header`);
  // Version 16 blobs lack size_dt_struct; the block then runs at most to the end.
  const structSize = version >= 17 ? h(9) : total - Math.min(structOff, total);
  const inBlob = (what: string, off: number, size: number) => {
    if (off > total || size > total - off) fail(`${what} (offset ${off}, size ${size}) extends past totalsize ${total}`);
  };
  inBlob('structure block', structOff, structSize);
  inBlob('strings block', stringsOff, stringsSize);
  if (structOff < HEADER_SIZE) fail(`structure block offset ${structOff} overlaps the header`);
  if (structOff % 4) fail(`structure block offset ${structOff} is not 4-byte aligned`);
  if (rsvOff % 8) fail(`memory reservation map offset ${rsvOff} is not 8-byte aligned`);
  if (rsvOff < HEADER_SIZE) fail(`memory reservation map offset ${rsvOff} overlaps the header`);

  const reservations: FdtReservation[] = [];
  for (let at = rsvOff; ; at += 16) {
    if (at + 16 > total) fail('memory reservation map has no terminating entry');
    const address = dv.getBigUint64(at), size = dv.getBigUint64(at + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const structEnd = structOff + structSize;
  const cstring = (from: number, end: number, what: string): { s: string; next: number } => {
    const nul = blob.subarray(from, end).indexOf(0);
    if (nul < 0) fail(`${what} at offset ${from} is not NUL-terminated`);
    return { s: utf8Decoder.decode(blob.subarray(from, from + nul)), next: from + nul + 1 };
  };
  const align4 = (n: number) => Math.ceil(n / 4) * 4;
  const word = (at: number, what: string): number => {
    if (at + 4 > structEnd) fail(`structure block ends inside ${what} at offset ${at}`);
    return dv.getUint32(at);
  };

  let root: FdtNode | undefined;
  const stack: FdtNode[] = [];
  let at = structOff;
  for (;;) {
    const tokenAt = at;
    const token = word(at, 'a token');
    at += 4;
    if (token === NOP) continue;
    if (token === BEGIN_NODE) {
      if (root && stack.length === 0) fail('a second root node follows the first');
      if (stack.length >= MAX_DEPTH) fail(`nodes nest deeper than ${MAX_DEPTH}`);
      const { s, next } = cstring(at, structEnd, 'node name');
      at = align4(next);
      const n: FdtNode = { name: s, props: [], children: [] };
      if (stack.length === 0) {
        if (s !== '') fail(`the root node is named ${JSON.stringify(s)}`);
        root = n;
      } else {
        if (s === '') fail(`a node without a name at offset ${tokenAt}`);
        stack[stack.length - 1].children.push(n);
      }
      stack.push(n);
    } else if (token === PROP) {
      const n = stack[stack.length - 1];
      if (!n) fail(`property outside any node at offset ${tokenAt}`);
      if (n.children.length) fail(`property after a subnode in ${JSON.stringify(n.name)}`);
      const len = word(at, 'a property header');
      const nameOff = word(at + 4, 'a property header');
      at += 8;
      if (len > structEnd - at) fail(`property at offset ${tokenAt} is ${len} bytes, past the structure block`);
      if (nameOff >= stringsSize) fail(`property name offset ${nameOff} is outside the strings block`);
      const { s } = cstring(stringsOff + nameOff, stringsOff + stringsSize, 'property name');
      n.props.push({ name: s, value: blob.slice(at, at + len) });
      at = align4(at + len);
    } else if (token === END_NODE) {
      if (!stack.pop()) fail(`END_NODE without a node at offset ${tokenAt}`);
    } else if (token === END) {
      if (!root) fail('the structure block holds no root node');
      if (stack.length) fail(`END reached with ${stack.length} node(s) still open`);
      return { root, reservations, bootCpuId, version };
    } else {
      fail(`unknown token 0x${token.toString(16)} at offset ${tokenAt}`);
    }
  }
}

// ---- looking things up in a parsed tree ----

/** Finds a node by absolute path with full names (`/soc/serial@10000000`). */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  let n: FdtNode | undefined = root;
  for (const part of path.split('/').filter(Boolean)) n = n?.children.find((c) => c.name === part);
  return n;
}

export function getProp(n: FdtNode, name: string): Uint8Array | undefined {
  return n.props.find((p) => p.name === name)?.value;
}

export function readCells(value: Uint8Array): number[] {
  if (value.length % 4) throw new Error(`a ${value.length}-byte value is not a whole number of cells`);
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return Array.from({ length: value.length / 4 }, (_, i) => dv.getUint32(i * 4));
}

export function readStrings(value: Uint8Array): string[] {
  if (value.length === 0 || value[value.length - 1] !== 0) throw new Error('a string property must end in NUL');
  return utf8Decoder.decode(value.subarray(0, -1)).split('\0');
}
