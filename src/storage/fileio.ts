// Positioned reads and writes that never return short: readSync/writeSync may move fewer
// bytes than asked (signals, huge requests), and a short read of metadata must not be
// mistaken for data.

import { fstatSync, readSync, writeSync, writevSync } from 'node:fs';

/** Reads `dest.length` bytes at `pos`; bytes past the end of the file read as zero. */
export function preadFull(fd: number, dest: Uint8Array, pos: number): void {
  let done = 0;
  while (done < dest.length) {
    const n = readSync(fd, dest, done, dest.length - done, pos + done);
    if (n === 0) {
      dest.fill(0, done);
      return;
    }
    done += n;
  }
}

/** Like preadFull, but returns how many bytes the file really had (the rest is zeroed). */
export function preadCount(fd: number, dest: Uint8Array, pos: number): number {
  let done = 0;
  while (done < dest.length) {
    const n = readSync(fd, dest, done, dest.length - done, pos + done);
    if (n === 0) break;
    done += n;
  }
  dest.fill(0, done);
  return done;
}

export function pwriteFull(fd: number, src: Uint8Array, pos: number): void {
  let done = 0;
  while (done < src.length) done += writeSync(fd, src, done, src.length - done, pos + done);
}

/** Gathers `parts` into one write syscall (a partial cluster's head, the data, its tail). */
export function pwritevFull(fd: number, parts: Uint8Array[], pos: number): void {
  const live = parts.filter((p) => p.length > 0);
  if (live.length === 1) return pwriteFull(fd, live[0], pos);
  const total = live.reduce((s, p) => s + p.length, 0);
  const n = writevSync(fd, live, pos);
  if (n < total) {
    // Rare short write: finish the rest plainly.
    const all = new Uint8Array(total);
    let at = 0;
    for (const p of live) { all.set(p, at); at += p.length; }
    pwriteFull(fd, all.subarray(n), pos + n);
  }
}

export function fileSize(fd: number): number {
  return fstatSync(fd).size;
}

/** Reads a big-endian 64-bit value as a JS number; throws if it needs more than 53 bits. */
export function getU64(view: DataView, at: number): number {
  const hi = view.getUint32(at);
  if (hi >= 0x200000) throw new RangeError('64-bit value beyond 2^53');
  return hi * 2 ** 32 + view.getUint32(at + 4);
}

export function setU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, Math.floor(value / 2 ** 32));
  view.setUint32(at + 4, value >>> 0);
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
