// A FIFO of bytes kept as the chunks they arrived in: the TCP send buffer holds what the
// host sent until the guest acknowledges it, and must hand out arbitrary ranges for
// (re)transmission without concatenating everything on each arrival.

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** Bytes already consumed from chunks[0]. */
  private head = 0;
  length = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.length += data.length;
  }

  /** Copies `n` bytes starting `offset` bytes into the queue. */
  read(offset: number, n: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(n, this.length - offset)));
    let skip = offset + this.head;
    let filled = 0;
    for (const c of this.chunks) {
      if (filled === out.length) break;
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      const part = c.subarray(skip, skip + out.length - filled);
      out.set(part, filled);
      filled += part.length;
      skip = 0;
    }
    return out;
  }

  /** Discards the first `n` bytes. */
  drop(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    n += this.head;
    while (this.chunks.length > 0 && n >= this.chunks[0].length) {
      n -= this.chunks[0].length;
      this.chunks.shift();
    }
    this.head = n;
  }
}
