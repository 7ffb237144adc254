// GDB remote serial protocol framing: $payload#checksum, '+'/'-' acknowledgements,
// '}' escaping (byte ^ 0x20) of '$', '#', '}' and '*', and the out-of-band 0x03 that
// asks a running target to stop. The reader is incremental: packets may arrive split
// across reads or several per read.

export type Frame =
  | { kind: 'packet'; data: Uint8Array }
  | { kind: 'bad-checksum' }
  | { kind: 'ack' }
  | { kind: 'nack' }
  | { kind: 'interrupt' };

/** Largest packet we accept or send (advertised as PacketSize, in hex). */
export const PACKET_SIZE = 0x4000;

export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum = (sum + b) & 0xff;
  return sum;
}

const NEEDS_ESCAPE = new Set([0x23, 0x24, 0x7d, 0x2a]);

/** Escapes a payload for the wire. '*' is escaped too: GDB reads it as run-length encoding. */
export function escape(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (const b of data) {
    if (NEEDS_ESCAPE.has(b)) out.push(0x7d, b ^ 0x20);
    else out.push(b);
  }
  return Uint8Array.from(out);
}

/** Frames a payload (a latin1 string or raw bytes) as $payload#cs. */
export function encodePacket(payload: string | Uint8Array): Buffer {
  const raw = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const body = escape(raw);
  const cs = checksum(body).toString(16).padStart(2, '0');
  return Buffer.concat([Buffer.from('$'), body, Buffer.from(`#${cs}`)]);
}

const enum State { Idle, Body, Escape, Sum1, Sum2 }

export class PacketReader {
  private state = State.Idle;
  private body: number[] = [];
  /** Checksum over the bytes as sent (escaped), which is what the sender summed. */
  private sum = 0;
  private sumText = '';
  private overflow = false;

  /** Feeds bytes from the connection; returns the frames they complete. */
  push(data: Uint8Array): Frame[] {
    const out: Frame[] = [];
    for (const b of data) {
      switch (this.state) {
        case State.Idle:
          if (b === 0x24) this.begin();
          else if (b === 0x2b) out.push({ kind: 'ack' });
          else if (b === 0x2d) out.push({ kind: 'nack' });
          else if (b === 0x03) out.push({ kind: 'interrupt' });
          // Anything else between packets is line noise: ignore it, as gdbserver does.
          break;
        case State.Body:
          if (b === 0x23) { this.state = State.Sum1; break; }
          // A '$' inside a packet means the previous one was cut short: start over.
          if (b === 0x24) { this.begin(); break; }
          this.sum = (this.sum + b) & 0xff;
          if (b === 0x7d) this.state = State.Escape;
          else this.keep(b);
          break;
        case State.Escape:
          this.sum = (this.sum + b) & 0xff;
          this.keep(b ^ 0x20);
          this.state = State.Body;
          break;
        case State.Sum1:
          this.sumText = String.fromCharCode(b);
          this.state = State.Sum2;
          break;
        case State.Sum2: {
          this.sumText += String.fromCharCode(b);
          this.state = State.Idle;
          const good = /^[0-9a-fA-F]{2}$/.test(this.sumText) && parseInt(this.sumText, 16) === this.sum && !this.overflow;
          out.push(good ? { kind: 'packet', data: Uint8Array.from(this.body) } : { kind: 'bad-checksum' });
          this.body = [];
          break;
        }
      }
    }
    return out;
  }

  private begin(): void {
    this.state = State.Body;
    this.body = [];
    this.sum = 0;
    this.overflow = false;
  }

  private keep(b: number): void {
    // Oversized packets are answered with a nack (reported as a bad checksum).
    if (this.body.length >= PACKET_SIZE) this.overflow = true;
    else this.body.push(b);
  }
}

// Hex helpers for register and memory payloads.

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** A register value as `bytes` little-endian bytes in hex (the target's byte order). */
export function regToHex(value: bigint, bytes: number): string {
  let v = BigInt.asUintN(bytes * 8, value);
  let s = '';
  for (let i = 0; i < bytes; i++) {
    s += Number(v & 0xffn).toString(16).padStart(2, '0');
    v >>= 8n;
  }
  return s;
}

export function regFromHex(text: string): bigint | undefined {
  const b = fromHex(text);
  if (!b || b.length === 0) return undefined;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}
