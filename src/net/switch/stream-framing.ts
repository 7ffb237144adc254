// QEMU's stream network protocol (`-netdev socket,listen=|connect=` and `-netdev stream`):
// over a byte stream (TCP or a Unix socket), each Ethernet frame follows its length as a
// 32-bit big-endian number (qemu net/stream.c). No handshake, no FCS.

/** QEMU's own bound on one frame (NET_BUFSIZE: 4096 + 65536); a longer length is junk. */
export const MAX_STREAM_FRAME = 69632;

export class StreamFramingError extends Error {}

export function encodeStreamFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length);
  out.set(frame, 4);
  return out;
}

/** Cuts a byte stream, arriving in chunks of any size, into frames. */
export class StreamFrameDecoder {
  // The length as it arrives, then the frame, filled in place as chunks come. Joining what
  // was held to each new chunk instead copied all of it again per chunk: one of the largest
  // frames sent a byte at a time cost some 5 GB of copying (half a second of CPU), so a peer
  // could keep the host busy for the price of a trickle.
  private readonly head = new Uint8Array(4);
  private headBytes = 0;
  private frame: Uint8Array | null = null;
  private filled = 0;

  /** The frames completed by `chunk`. Throws StreamFramingError on a length no peer
   *  would send: the stream cannot be resynchronised after that, so its owner closes it. */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    for (let at = 0; at < chunk.length;) {
      if (!this.frame) {
        const n = Math.min(4 - this.headBytes, chunk.length - at);
        this.head.set(chunk.subarray(at, at + n), this.headBytes);
        this.headBytes += n;
        at += n;
        if (this.headBytes < 4) break;
        const h = this.head;
        const len = ((h[0] << 24) >>> 0) + (h[1] << 16) + (h[2] << 8) + h[3];
        if (len === 0 || len > MAX_STREAM_FRAME) throw new StreamFramingError(`a frame of ${len} bytes (at most ${MAX_STREAM_FRAME})`);
        this.headBytes = 0;
        this.frame = new Uint8Array(len);
        this.filled = 0;
      }
      const n = Math.min(this.frame.length - this.filled, chunk.length - at);
      this.frame.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.frame.length) {
        frames.push(this.frame);
        this.frame = null;
      }
    }
    return frames;
  }

  /** Bytes of an unfinished frame held, its length included. */
  get buffered(): number {
    return this.frame ? 4 + this.filled : this.headBytes;
  }
}
