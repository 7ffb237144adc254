// The sending half of a NATed TCP connection as pure sequence-space bookkeeping, apart
// from sockets and timers: what the host sent and the guest has not acknowledged, how far
// we have sent (nxt) and ever sent (max; go-back-N rewinds nxt but not max), the guest's
// window, a congestion window that collapses to one segment after a timeout, and where
// our FIN sits once the host has ended.

import { ByteQueue } from './bytequeue.js';
import { seqAdd, seqDiff, seqLe, seqLt } from './tcp-segment.js';

const MAX_CWND = 1 << 20;

export interface Outgoing {
  seq: number;
  payload: Uint8Array;
  fin: boolean;
  /** The last bytes we have: worth a PSH. */
  push: boolean;
}

export type AckResult = 'advanced' | 'duplicate' | 'fast-retransmit' | 'future' | 'old';

export class SendSequence {
  /** Bytes from `una` on: acknowledged bytes are dropped, the rest kept for resending. */
  readonly queue = new ByteQueue();
  una: number;
  nxt: number;
  max: number;
  /** The guest's advertised window (16 bits: we never agree to scaling). */
  wnd = 0;
  mss = 536;
  cwnd = MAX_CWND;
  /** The host has ended its side: a FIN follows the data. */
  ended = false;
  finAcked = false;
  private finSeq = -1;
  private dupAcks = 0;
  private recover: number;

  /** `iss` is our SYN's sequence number; the SYN itself counts as sent. */
  constructor(iss: number) {
    this.una = iss;
    this.nxt = seqAdd(iss, 1);
    this.max = this.nxt;
    this.recover = iss;
  }

  get inFlight(): number {
    return seqDiff(this.nxt, this.una);
  }

  /** Something is sent and unacknowledged, or held back by a zero window. */
  get waiting(): boolean {
    return this.inFlight > 0 || (this.queue.length > 0 && this.wnd === 0);
  }

  /** Takes an ACK (with its window) from a segment; `pure` means no data, SYN or FIN. */
  onAck(ack: number, window: number, pure: boolean): AckResult {
    if (seqLt(this.max, ack)) return 'future';
    let result: AckResult = 'old';
    if (seqLt(this.una, ack)) {
      const data = Math.min(seqDiff(ack, this.una), this.queue.length);
      this.queue.drop(data);
      this.una = ack;
      if (seqLt(this.nxt, ack)) this.nxt = ack; // acked beyond a go-back-N rewind
      if (this.finSeq >= 0 && seqLt(this.finSeq, ack)) this.finAcked = true;
      this.cwnd = Math.min(MAX_CWND, this.cwnd + data);
      this.dupAcks = 0;
      result = 'advanced';
    } else if (ack === this.una && pure && window === this.wnd && this.inFlight > 0 && !seqLt(this.una, this.recover)) {
      // Three duplicates mean a lost segment. Not again until the resent data is acked
      // (NewReno's `recover`): the resending itself draws duplicates.
      result = ++this.dupAcks === 3 ? 'fast-retransmit' : 'duplicate';
      if (result === 'fast-retransmit') this.cwnd = Math.max(2 * this.mss, this.cwnd >>> 1);
    }
    if (seqLe(this.una, ack)) this.wnd = window;
    return result;
  }

  /** The next segment the guest's window and cwnd allow, or null; advances `nxt`. */
  next(): Outgoing | null {
    const offset = this.inFlight;
    const unsent = this.queue.length - offset;
    let out: Outgoing;
    if (unsent > 0) {
      const room = Math.min(this.wnd, this.cwnd) - offset;
      if (room <= 0) return null;
      const n = Math.min(unsent, room, this.mss);
      out = { seq: this.nxt, payload: this.queue.read(offset, n), fin: false, push: n === unsent };
      this.nxt = seqAdd(this.nxt, n);
    } else if (this.ended && unsent === 0 && !this.finAcked) {
      // A FIN takes no window: it is sent even into a zero window.
      this.finSeq = this.nxt;
      out = { seq: this.nxt, payload: new Uint8Array(0), fin: true, push: false };
      this.nxt = seqAdd(this.nxt, 1);
    } else {
      return null;
    }
    if (seqLt(this.max, this.nxt)) this.max = this.nxt;
    return out;
  }

  /** Rewinds to the oldest unacknowledged byte (the FIN too, if it was sent). */
  goBack(timeout: boolean): void {
    if (timeout) this.cwnd = this.mss;
    this.recover = this.max;
    this.nxt = this.una;
  }
}
