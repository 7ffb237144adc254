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
  private pending: Uint8Array = new Uint8Array(0);

  /** The frames completed by `chunk`. Throws StreamFramingError on a length no peer
   *  would send: the stream cannot be resynchronised after that, so its owner closes it. */
  push(chunk: Uint8Array): Uint8Array[] {
    let buf = chunk;
    if (this.pending.length) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending, 0);
      buf.set(chunk, this.pending.length);
    }
    const frames: Uint8Array[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const len = ((buf[at] << 24) >>> 0) + (buf[at + 1] << 16) + (buf[at + 2] << 8) + buf[at + 3];
      if (len === 0 || len > MAX_STREAM_FRAME) throw new StreamFramingError(`a frame of ${len} bytes (at most ${MAX_STREAM_FRAME})`);
      if (buf.length - at - 4 < len) break;
      frames.push(buf.slice(at + 4, at + 4 + len));
      at += 4 + len;
    }
    this.pending = buf.slice(at);
    return frames;
  }

  /** Bytes of an unfinished frame held. */
  get buffered(): number {
    return this.pending.length;
  }
}
