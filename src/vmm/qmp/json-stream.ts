// Splits a byte stream into top-level JSON texts, the way QEMU's json-streamer does:
// clients send objects back to back, split across reads or several per read, so values
// are delimited by tracking nesting, strings and escapes rather than by newlines.
// Oversized values, and values nested deeper than QEMU allows, are reported once and
// skipped, without buffering them: everything that handles a request (JSON.parse, the
// reply echoing its id through JSON.stringify) recurses, and a few hundred thousand
// brackets would overflow the stack there.

export type JsonChunk = { ok: true; text: string } | { ok: false; error: string };

/** Default cap on one value: QMP commands are small; a megabyte is already absurd. */
export const MAX_JSON_BYTES = 1 << 20;

/** QEMU's json-streamer limit (MAX_NESTING) on open brackets and braces. */
export const MAX_JSON_DEPTH = 1024;

export class JsonSplitter {
  private buf: number[] = [];
  private depth = 0;
  private inString = false;
  private escape = false;
  /** A bare scalar at the top level (`true`, `12`, or garbage) is being read. */
  private scalar = false;
  /** The current value outgrew the cap: track its structure but keep nothing. */
  private skipping = false;
  private readonly decoder = new TextDecoder();

  constructor(private readonly maxBytes = MAX_JSON_BYTES) {}

  /** Feeds bytes; returns every value completed by them, in order. */
  push(data: Uint8Array): JsonChunk[] {
    const out: JsonChunk[] = [];
    for (const b of data) this.byte(b, out);
    return out;
  }

  private byte(b: number, out: JsonChunk[]): void {
    const idle = this.depth === 0 && !this.inString && !this.scalar;
    if (idle) {
      if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) return;
      if (b === 0x7b || b === 0x5b) this.depth = 1;
      else if (b === 0x22) this.inString = true;
      else if (b === 0x7d || b === 0x5d) {
        out.push({ ok: false, error: `JSON parse error, unexpected '${String.fromCharCode(b)}'` });
        return;
      } else this.scalar = true;
      this.keep(b, out);
      if (this.depth === 0 && !this.inString && !this.scalar) this.emit(out);
      return;
    }
    if (this.scalar) {
      // A scalar ends at whitespace or at the start of the next structured value.
      if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x7b || b === 0x5b || b === 0x22) {
        this.scalar = false;
        this.emit(out);
        this.byte(b, out);
        return;
      }
      this.keep(b, out);
      return;
    }
    this.keep(b, out);
    if (this.inString) {
      if (this.escape) this.escape = false;
      else if (b === 0x5c) this.escape = true;
      else if (b === 0x22) {
        this.inString = false;
        if (this.depth === 0) this.emit(out);
      }
      return;
    }
    if (b === 0x22) this.inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++this.depth > MAX_JSON_DEPTH) this.skip(out, 'JSON nesting depth limit exceeded');
    } else if (b === 0x7d || b === 0x5d) {
      this.depth--;
      if (this.depth === 0) this.emit(out);
    }
  }

  private keep(b: number, out: JsonChunk[]): void {
    if (this.skipping) return;
    if (this.buf.length >= this.maxBytes) return this.skip(out, `JSON parse error, input exceeds ${this.maxBytes} bytes`);
    this.buf.push(b);
  }

  /** Drops the current value (its structure is still tracked to find its end). */
  private skip(out: JsonChunk[], error: string): void {
    if (this.skipping) return;
    this.skipping = true;
    this.buf = [];
    out.push({ ok: false, error });
  }

  private emit(out: JsonChunk[]): void {
    if (!this.skipping) out.push({ ok: true, text: this.decoder.decode(Uint8Array.from(this.buf)) });
    this.buf = [];
    this.skipping = false;
  }

  /** Returns a pending bare scalar at end of input (the stream closed after it). */
  flush(): JsonChunk[] {
    const out: JsonChunk[] = [];
    if (this.scalar) {
      this.scalar = false;
      this.emit(out);
    }
    return out;
  }
}
