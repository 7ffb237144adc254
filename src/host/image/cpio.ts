// A cpio "newc" (SVR4, no CRC) archive writer: the format the Linux kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
//
// No Node API here on purpose, so the writer can move below the host layer later.
//
// Each entry is a 110-byte ASCII header ("070701" then 13 fields of 8 hex digits), the
// NUL-terminated name padded to a multiple of 4 (counting from the header start), then the
// data padded to a multiple of 4. The archive ends with an entry named "TRAILER!!!".

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

export interface CpioOptions {
  /** Modification time of every entry, seconds since 1970. Fixed so builds are reproducible. */
  mtime?: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const MAGIC = '070701';
const HEADER_SIZE = 110;
const TRAILER = 'TRAILER!!!';

const encoder = new TextEncoder();

export function writeCpio(entries: readonly CpioEntry[], options: CpioOptions = {}): Uint8Array {
  const mtime = options.mtime ?? 0;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    size += bytes.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
  };
  const seen = new Set<string>();
  let ino = 1;
  for (const entry of entries) {
    const name = normalisePath(entry.path);
    if (seen.has(name)) throw new Error(`cpio: duplicate path ${name}`);
    seen.add(name);
    const { mode, data, rdev } = describe(entry);
    push(header({ ino: ino++, mode, nlink: entry.kind === 'dir' ? 2 : 1, mtime, size: data.length, rdev, name }));
    if (data.length) push(data);
  }
  push(header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0, rdev: [0, 0], name: TRAILER }));
  return concat(chunks, size);
}

// The kernel and GNU cpio accept both "bin/sh" and "/bin/sh"; relative names are what
// `find . | cpio -o` produces and what `cpio -i` extracts without complaint.
function normalisePath(path: string): string {
  const name = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!name || name.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`cpio: bad path ${JSON.stringify(path)}`);
  }
  return name;
}

function describe(entry: CpioEntry): { mode: number; data: Uint8Array; rdev: [number, number] } {
  switch (entry.kind) {
    case 'dir':
      return { mode: S_IFDIR | (entry.mode ?? 0o755), data: new Uint8Array(0), rdev: [0, 0] };
    case 'file':
      return { mode: S_IFREG | (entry.mode ?? 0o644), data: entry.data, rdev: [0, 0] };
    case 'symlink':
      // A symlink's data is its target, without a terminating NUL.
      return { mode: S_IFLNK | 0o777, data: encoder.encode(entry.target), rdev: [0, 0] };
    case 'chardev':
      return { mode: S_IFCHR | (entry.mode ?? 0o600), data: new Uint8Array(0), rdev: [entry.major, entry.minor] };
  }
}

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  mtime: number;
  size: number;
  rdev: [number, number];
  name: string;
}

function header(h: Header): Uint8Array {
  const name = encoder.encode(h.name);
  const fields = [h.ino, h.mode, 0, 0, h.nlink, h.mtime, h.size, 0, 0, h.rdev[0], h.rdev[1], name.length + 1, 0];
  const text = MAGIC + fields.map(hex8).join('');
  const out = new Uint8Array(HEADER_SIZE + name.length + 1);
  out.set(encoder.encode(text), 0);
  out.set(name, HEADER_SIZE);
  return out; // the NUL terminator is already there (zero-filled)
}

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`cpio: field out of range: ${value}`);
  return value.toString(16).padStart(8, '0');
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
