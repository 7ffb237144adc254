// The qcow2 header (docs/interop/qcow2.txt in QEMU): parsing with validation, and the
// header QEMU's `qemu-img create` writes, so that fresh images match its byte layout.

import { DiskError } from '../errors.js';
import { getU64, setU64, viewOf } from '../fileio.js';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const INCOMPAT_DIRTY = 1;
export const INCOMPAT_CORRUPT = 2;
const INCOMPAT_DATA_FILE = 4;
const INCOMPAT_COMPRESSION = 8;
const INCOMPAT_EXTL2 = 16;

const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_TABLE = 0x6803f857;
const EXT_CRYPTO = 0x0537be77;
const EXT_BITMAPS = 0x23852875;

/** QEMU's feature name table, in its order: [type, bit, name]. */
const FEATURES: [number, number, string][] = [
  [0, 0, 'dirty bit'], [0, 1, 'corrupt bit'], [0, 2, 'external data file'],
  [0, 3, 'compression type'], [0, 4, 'extended L2 entries'], [1, 0, 'lazy refcounts'],
  [2, 0, 'bitmaps'], [2, 1, 'raw external data'],
];

export interface Qcow2Header {
  version: number;
  clusterBits: number;
  /** Virtual size in bytes, as stored. */
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  /** Low 32 bits of each feature mask (higher bits are rejected as unknown). */
  incompatible: number;
  autoclear: number;
  refcountOrder: number;
  headerLength: number;
  backingFile?: string;
  backingFormat?: string;
  hasBitmaps: boolean;
}

/** Parses and validates the header; `first` holds the file's first bytes (up to a cluster). */
export function parseHeader(file: string, first: Uint8Array, fileLength: number): Qcow2Header {
  const bad = (what: string) => new DiskError(`${file}: not a valid qcow2 image: ${what}`);
  const unsupported = (what: string) => new DiskError(`${file}: unsupported qcow2 feature: ${what}`);
  if (fileLength < 72) throw bad(`truncated header (${fileLength} bytes)`);
  const v = viewOf(first);
  if (v.getUint32(0) !== QCOW2_MAGIC) throw bad('bad magic');
  const version = v.getUint32(4);
  if (version !== 2 && version !== 3) throw unsupported(`version ${version}`);
  const clusterBits = v.getUint32(20);
  if (clusterBits < 9 || clusterBits > 21) throw bad(`cluster_bits ${clusterBits} out of range 9..21`);
  const cs = 2 ** clusterBits;
  const u64 = (at: number, name: string) => {
    try {
      return getU64(v, at);
    } catch {
      throw bad(`${name} too large`);
    }
  };
  if (version === 3 && fileLength < 104) throw bad(`truncated header (${fileLength} bytes)`);
  const headerLength = version === 2 ? 72 : v.getUint32(100);
  if (version === 3 && (headerLength < 104 || headerLength % 8 !== 0 || headerLength > cs)) throw bad(`header_length ${headerLength}`);
  if (fileLength < headerLength) throw bad(`truncated header (${fileLength} bytes)`);
  const h: Qcow2Header = {
    version, clusterBits, headerLength,
    size: u64(24, 'size'),
    l1Size: v.getUint32(36),
    l1TableOffset: u64(40, 'l1_table_offset'),
    refcountTableOffset: u64(48, 'refcount_table_offset'),
    refcountTableClusters: v.getUint32(56),
    nbSnapshots: v.getUint32(60),
    snapshotsOffset: u64(64, 'snapshots_offset'),
    incompatible: version === 2 ? 0 : v.getUint32(76),
    autoclear: version === 2 ? 0 : v.getUint32(92),
    refcountOrder: version === 2 ? 4 : v.getUint32(96),
    hasBitmaps: false,
  };
  if (v.getUint32(32) !== 0) throw unsupported('encryption (crypt_method ' + v.getUint32(32) + ')');
  if (h.refcountOrder > 6) throw bad(`refcount_order ${h.refcountOrder} above 6`);

  const names = new Map<string, string>();
  // Header extensions run from the end of the header to the first zero type.
  let pos = headerLength;
  let compressionType = 0;
  if (version === 3 && headerLength > 104) compressionType = v.getUint8(104);
  while (pos + 8 <= Math.min(cs, first.length)) {
    const type = v.getUint32(pos);
    const len = v.getUint32(pos + 4);
    if (type === 0) break;
    if (pos + 8 + len > cs || pos + 8 + len > first.length) throw bad('header extension overruns the first cluster');
    const data = first.subarray(pos + 8, pos + 8 + len);
    if (type === EXT_BACKING_FORMAT) h.backingFormat = new TextDecoder().decode(data);
    else if (type === EXT_FEATURE_TABLE) {
      for (let i = 0; i + 48 <= len; i += 48) {
        const end = data.subarray(i + 2, i + 48).indexOf(0);
        names.set(`${data[i]}:${data[i + 1]}`, new TextDecoder().decode(data.subarray(i + 2, end < 0 ? i + 48 : i + 2 + end)));
      }
    } else if (type === EXT_CRYPTO) throw unsupported('encryption header');
    else if (type === EXT_BITMAPS) h.hasBitmaps = true;
    pos += 8 + Math.ceil(len / 8) * 8;
  }

  const incompatHigh = version === 2 ? 0 : v.getUint32(72);
  const known = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;
  if (incompatHigh !== 0 || (h.incompatible & ~known) !== 0) {
    const bits: string[] = [];
    for (let b = 0; b < 64; b++) {
      const set = b < 32 ? ((h.incompatible & ~known) >>> b) & 1 : (incompatHigh >>> (b - 32)) & 1;
      if (set) bits.push(names.get(`0:${b}`) ?? `bit ${b}`);
    }
    throw unsupported(`unknown incompatible feature ${bits.join(', ')}`);
  }
  if (h.incompatible & INCOMPAT_DATA_FILE) throw unsupported('external data file');
  if (h.incompatible & INCOMPAT_EXTL2) throw unsupported('extended L2 entries (subclusters)');
  if (h.incompatible & INCOMPAT_COMPRESSION) {
    throw compressionType === 1 ? unsupported('zstd compression') : bad(`compression_type ${compressionType}`);
  }
  if (compressionType !== 0) throw bad(`compression_type ${compressionType} without the compression type feature bit`);

  const aligned = (off: number) => off % cs === 0;
  if (!aligned(h.l1TableOffset) || (h.l1Size > 0 && h.l1TableOffset < cs)) throw bad(`l1_table_offset ${h.l1TableOffset} not a cluster boundary after the header`);
  if (h.l1Size > 32 * 2 ** 20 / 8) throw bad(`l1_size ${h.l1Size} too large`);
  if (h.l1Size > 0 && h.l1TableOffset + h.l1Size * 8 > fileLength) throw bad('L1 table beyond the end of the file');
  const l2Span = cs * (cs / 8);
  if (h.l1Size < Math.ceil(h.size / l2Span)) throw bad(`l1_size ${h.l1Size} too small for the virtual size`);
  if (!aligned(h.refcountTableOffset) || h.refcountTableOffset < cs) throw bad(`refcount_table_offset ${h.refcountTableOffset} not a cluster boundary after the header`);
  if (h.refcountTableClusters === 0 || h.refcountTableClusters * cs > 2 ** 23) throw bad(`refcount_table_clusters ${h.refcountTableClusters}`);
  if (h.refcountTableOffset >= fileLength) throw bad('refcount table beyond the end of the file');
  if (h.nbSnapshots > 0 && (!aligned(h.snapshotsOffset) || h.snapshotsOffset === 0)) throw bad('snapshots_offset not a cluster boundary');
  // QEMU's limit; each entry takes at least 40 bytes of the file.
  if (h.nbSnapshots > 65536) throw bad(`nb_snapshots ${h.nbSnapshots} above 65536`);
  if (h.nbSnapshots > 0 && h.snapshotsOffset + h.nbSnapshots * 40 > fileLength) throw bad('snapshot table beyond the end of the file');

  const bfOffset = u64(8, 'backing_file_offset');
  if (bfOffset !== 0) {
    const bfSize = v.getUint32(16);
    if (bfSize > 1023 || bfOffset + bfSize > Math.min(cs, first.length)) throw bad('backing file name outside the first cluster');
    const name = first.subarray(bfOffset, bfOffset + bfSize);
    // No file name holds a NUL byte: such a name cannot be opened, only misread.
    if (name.includes(0)) throw bad('backing file name contains a NUL byte');
    h.backingFile = new TextDecoder().decode(name);
  }
  return h;
}

export interface NewHeader {
  clusterBits: number;
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  backingFile?: string;
  backingFormat?: string;
}

/** The first cluster of a new version 3 image, laid out as qemu-img 7.2 lays it out. */
export function buildHeader(n: NewHeader): Uint8Array {
  const cs = 2 ** n.clusterBits;
  const out = new Uint8Array(cs);
  const v = viewOf(out);
  v.setUint32(0, QCOW2_MAGIC);
  v.setUint32(4, 3);
  v.setUint32(20, n.clusterBits);
  setU64(v, 24, n.size);
  v.setUint32(36, n.l1Size);
  setU64(v, 40, n.l1TableOffset);
  setU64(v, 48, n.refcountTableOffset);
  v.setUint32(56, n.refcountTableClusters);
  v.setUint32(96, 4); // 16-bit refcounts
  v.setUint32(100, 112); // up to compression_type (zlib = 0), padded to 8
  let pos = 112;
  const enc = new TextEncoder();
  const ext = (type: number, data: Uint8Array) => {
    v.setUint32(pos, type);
    v.setUint32(pos + 4, data.length);
    out.set(data, pos + 8);
    pos += 8 + Math.ceil(data.length / 8) * 8;
  };
  if (n.backingFile !== undefined && n.backingFormat) ext(EXT_BACKING_FORMAT, enc.encode(n.backingFormat));
  const table = new Uint8Array(FEATURES.length * 48);
  FEATURES.forEach(([type, bit, name], i) => {
    table[i * 48] = type;
    table[i * 48 + 1] = bit;
    table.set(enc.encode(name), i * 48 + 2);
  });
  ext(EXT_FEATURE_TABLE, table);
  pos += 8; // end of extensions
  if (n.backingFile !== undefined) {
    const name = enc.encode(n.backingFile);
    if (name.length > 1023 || pos + name.length > cs) throw new DiskError(`backing file name too long: ${n.backingFile}`);
    setU64(v, 8, pos);
    v.setUint32(16, name.length);
    out.set(name, pos);
  }
  return out;
}
