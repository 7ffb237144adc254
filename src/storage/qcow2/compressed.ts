// Compressed clusters (read only): raw deflate streams at byte offsets, sized in sectors.

import { constants, inflateRawSync } from 'node:zlib';
import { DiskError } from '../errors.js';
import { preadCount } from '../fileio.js';

export interface CompressedSpan {
  offset: number;
  length: number;
}

/** Decodes a compressed L2 entry's descriptor (bits 0..61) into a host byte range. */
export function compressedSpan(hi: number, lo: number, clusterBits: number): CompressedSpan {
  const x = 62 - (clusterBits - 8); // offset bits, then "additional sectors" bits up to 61
  const value = ((BigInt(hi & 0x3fffffff) << 32n) | BigInt(lo >>> 0));
  const offset = Number(value & ((1n << BigInt(x)) - 1n));
  const sectors = Number(value >> BigInt(x)) + 1;
  return { offset, length: sectors * 512 - (offset & 511) };
}

/** The host clusters a compressed cluster holds a reference to. */
export function compressedClusters(span: CompressedSpan, cs: number): [first: number, count: number] {
  const first = Math.floor(span.offset / cs);
  return [first, Math.floor((span.offset + span.length - 1) / cs) - first + 1];
}

export function inflateCluster(fd: number, file: string, span: CompressedSpan, cs: number, guest: number): Uint8Array {
  const input = new Uint8Array(span.length);
  const got = preadCount(fd, input, span.offset);
  let out: Uint8Array;
  try {
    // Sync flush: the stream may end inside the last sector, followed by another cluster.
    out = inflateRawSync(input.subarray(0, got), { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (e) {
    throw new DiskError(`${file}: corrupt compressed cluster at guest offset ${guest}: ${(e as Error).message}`);
  }
  if (out.length < cs) throw new DiskError(`${file}: corrupt compressed cluster at guest offset ${guest}: ${out.length} bytes, not ${cs}`);
  return out.subarray(0, cs);
}
