// One NATed TCP connection: the guest talks TCP to us, we talk to the host through a
// node:net Socket, and this state machine joins the two. Guest-initiated connections
// start in 'connecting': the SYN-ACK waits for the host connect, so a refused port becomes
// an RST as if the guest had reached it. Published ports start in 'syn-sent'.
// To the guest (bookkeeping in tcp-send.ts): segments of at most min(guest MSS, 1460)
// within the guest's window; frames to the guest may be lost (virtio-net drops when the
// guest has no rx buffers), so unacknowledged data is resent go-back-N on a timeout or
// three duplicate ACKs. The host socket is paused while much is queued. From the guest:
// only in-order data is taken (the guest resends the rest); our window is what the host
// socket has not flushed yet, so a slow host reader slows the guest down.

import type { Socket } from 'node:net';
import { type Ip, ipToString } from './addresses.js';
import { ACK, FIN, PSH, RST, SYN, type TcpSegment, buildTcp, seqAdd, seqDiff, seqLe, seqLt } from './tcp-segment.js';
import { SendSequence } from './tcp-send.js';

const OUR_MSS = 1460;
const DEFAULT_MSS = 536; // RFC 9293, when the peer's SYN has no MSS option
const RCV_WINDOW = 65535; // no window scaling: see tcp-segment.ts
const SEND_HIGH = 256 * 1024;
const SEND_LOW = 64 * 1024;
const RTO_MIN = 200; // a virtual link: round trips are short and losses are local
const RTO_MAX = 10_000;
const MAX_RETRIES = 12;
const TIME_WAIT_MS = 2000;
const NONE = new Uint8Array(0);

export interface TcpEnds {
  guestIp: Ip;
  guestPort: number;
  /** The far end as the guest sees it (10.0.2.2 for the host's loopback). */
  peerIp: Ip;
  peerPort: number;
}

export interface TcpHooks {
  /** An encoded segment (checksum done) from peer to guest, for IP to carry. */
  send(segment: Uint8Array): void;
  /** The connection is over; forget it. */
  closed(): void;
  retransmitted(): void;
  log(line: string): void;
}

export type TcpState = 'connecting' | 'syn-sent' | 'syn-received' | 'established' | 'time-wait' | 'closed';

export class TcpConnection {
  state: TcpState;
  private readonly iss = Math.floor(Math.random() * 0x100000000);
  private readonly tx = new SendSequence(this.iss);
  private rcvNxt = 0;
  private guestFin = false;
  private ackPending = false;
  private lastWindow = RCV_WINDOW;
  private paused = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private rto = RTO_MIN;
  private retries = 0;
  private readonly name: string;

  /** `syn` is the guest's SYN for a guest-initiated connection (the socket is still
   *  connecting); without it, the socket came from a published port (paused). */
  constructor(readonly ends: TcpEnds, private readonly socket: Socket, private readonly hooks: TcpHooks, syn?: TcpSegment) {
    this.name = `${ipToString(ends.guestIp)}:${ends.guestPort} <-> ${ipToString(ends.peerIp)}:${ends.peerPort}`;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.fromHost(d));
    socket.on('end', () => {
      this.tx.ended = true;
      this.pump();
    });
    socket.on('drain', () => this.state === 'established' && this.lastWindow < RCV_WINDOW && this.sendAck()); // window update
    socket.on('error', (err) => this.reset(`host: ${err.message}`));
    socket.on('close', () => {
      if (this.state !== 'closed' && this.state !== 'time-wait' && !(this.guestFin && this.tx.ended)) this.reset('host closed');
    });
    if (syn) {
      this.state = 'connecting';
      this.takeSyn(syn);
      socket.on('connect', () => {
        this.state = 'syn-received';
        this.sendSyn();
      });
    } else {
      this.state = 'syn-sent';
      this.paused = true;
      this.sendSyn();
    }
  }

  private takeSyn(seg: TcpSegment): void {
    this.rcvNxt = seqAdd(seg.seq, 1);
    this.tx.wnd = seg.window;
    this.tx.mss = Math.max(64, Math.min(seg.mss ?? DEFAULT_MSS, OUR_MSS));
  }

  /** A segment from the guest for this connection. */
  input(seg: TcpSegment): void {
    if (this.state === 'closed') return;
    if (seg.flags & RST) return this.guestReset(seg);
    if (this.state === 'connecting') return; // SYN retransmits while the host connects
    if (this.state === 'syn-sent') {
      if ((seg.flags & (SYN | ACK)) === (SYN | ACK) && seg.ack === this.tx.nxt) {
        this.takeSyn(seg);
        this.established(seg.ack);
        this.sendAck();
      } else if (seg.flags & ACK) {
        this.sendSegment(RST, seg.ack, NONE);
      }
      return;
    }
    if (this.state === 'syn-received') {
      if (seg.flags & SYN) return this.sendSyn(); // our SYN-ACK was lost
      if (!(seg.flags & ACK)) return;
      if (seg.ack !== this.tx.nxt) return this.sendSegment(RST, seg.ack, NONE);
      this.established(seg.ack);
    }
    if (seg.flags & SYN) return this.sendAck(); // RFC 5961 challenge ACK
    if (!(seg.flags & ACK)) return;
    if (this.takeAck(seg)) this.takeData(seg);
    this.pump();
    if (this.ackPending) this.sendAck();
    // Both directions done: linger to re-ACK a retransmitted FIN whose ACK was lost.
    if (this.state === 'established' && this.guestFin && this.tx.finAcked) {
      this.state = 'time-wait';
      this.setTimer(TIME_WAIT_MS);
    }
  }

  private established(ack: number): void {
    this.state = 'established';
    this.tx.una = ack;
    this.retries = 0;
    this.rto = RTO_MIN;
    this.stopTimer();
    this.hooks.log(`tcp ${this.name} established`);
    this.resumeBelow(SEND_HIGH);
  }

  private resumeBelow(queued: number): void {
    if (!this.paused || this.tx.queue.length >= queued) return;
    this.paused = false;
    this.socket.resume();
  }

  private guestReset(seg: TcpSegment): void {
    // RFC 5961: only an RST inside our receive window counts (blind resets are ignored).
    const inWindow = seqLe(this.rcvNxt, seg.seq) && seqLt(seg.seq, seqAdd(this.rcvNxt, Math.max(1, this.receiveWindow())));
    const ok = this.state === 'syn-sent' ? seg.ack === this.tx.nxt : inWindow;
    if (!ok || this.state === 'connecting') return;
    this.hooks.log(`tcp ${this.name} reset by guest`);
    abort(this.socket);
    this.finish();
  }

  /** Returns false when the segment must not be processed further. */
  private takeAck(seg: TcpSegment): boolean {
    const result = this.tx.onAck(seg.ack, seg.window, seg.payload.length === 0 && !(seg.flags & FIN));
    if (result === 'future') {
      this.ackPending = true; // acknowledges what we never sent
      return false;
    }
    if (result === 'advanced') {
      this.retries = 0;
      this.rto = RTO_MIN;
      this.stopTimer();
      if (this.state === 'established') this.resumeBelow(SEND_LOW);
    } else if (result === 'fast-retransmit') {
      this.hooks.retransmitted();
      this.tx.goBack(false);
    }
    return true;
  }

  private takeData(seg: TcpSegment): void {
    let data = seg.payload;
    let fin = (seg.flags & FIN) !== 0;
    if (data.length === 0 && !fin) {
      if (seg.seq !== this.rcvNxt) this.ackPending = true; // keepalive or window probe
      return;
    }
    this.ackPending = true;
    if (this.guestFin) return; // after the guest's FIN everything is a retransmission
    const old = seqDiff(this.rcvNxt, seg.seq);
    if (old < 0) return; // out of order: dropped, the duplicate ACK makes the guest resend
    if (old > data.length || (old === data.length && !fin)) return; // a duplicate
    data = data.subarray(old);
    const room = this.receiveWindow();
    if (data.length > room) {
      data = data.subarray(0, room);
      fin = false;
    }
    if (data.length > 0) {
      this.socket.write(data);
      this.rcvNxt = seqAdd(this.rcvNxt, data.length);
    }
    if (fin) {
      this.rcvNxt = seqAdd(this.rcvNxt, 1);
      this.guestFin = true;
      this.socket.end(); // half-close: the host may still answer
    }
  }

  private fromHost(d: Buffer): void {
    if (this.state === 'closed' || this.state === 'time-wait') return;
    this.tx.queue.push(d);
    if (!this.paused && this.tx.queue.length > SEND_HIGH) {
      this.paused = true;
      this.socket.pause();
    }
    this.pump();
  }

  /** Sends whatever the windows allow, then the FIN once the host has ended. */
  private pump(): void {
    if (this.state !== 'established') return;
    for (let s = this.tx.next(); s; s = this.tx.next()) {
      this.sendSegment(ACK | (s.fin ? FIN : 0) | (s.push ? PSH : 0), s.seq, s.payload);
    }
    if (this.tx.waiting && this.timer === undefined) this.setTimer(this.rto);
  }

  private onTimeout(): void {
    this.timer = undefined;
    if (this.state === 'time-wait') return this.finish();
    if (this.state === 'established' && this.tx.inFlight === 0) {
      if (!this.tx.waiting) return;
      // Zero window: probe with an old sequence number, which the guest answers with an
      // ACK carrying its current window (Linux's own probe). Not counted as a retry: a
      // guest application may legitimately stop reading for a long time.
      this.sendSegment(ACK, seqAdd(this.tx.una, -1), NONE);
      this.rto = Math.min(this.rto * 2, RTO_MAX);
      return this.setTimer(this.rto);
    }
    if (++this.retries > MAX_RETRIES) return this.reset('guest not responding');
    this.hooks.retransmitted();
    this.rto = Math.min(this.rto * 2, RTO_MAX);
    if (this.state !== 'established') return this.sendSyn();
    this.tx.goBack(true);
    this.pump();
  }

  private sendSyn(): void {
    this.sendSegment(this.state === 'syn-sent' ? SYN : SYN | ACK, this.iss, NONE, OUR_MSS);
    this.setTimer(this.rto);
  }

  private sendAck(): void {
    this.sendSegment(ACK, this.tx.nxt, NONE);
  }

  private sendSegment(flags: number, seq: number, payload: Uint8Array, mss?: number): void {
    this.hooks.send(this.encode(flags, seq, payload, mss));
  }

  private encode(flags: number, seq: number, payload: Uint8Array, mss?: number): Uint8Array {
    const window = this.receiveWindow();
    if (flags & ACK) {
      this.ackPending = false;
      this.lastWindow = window;
    }
    const { guestIp, guestPort, peerIp, peerPort } = this.ends;
    return buildTcp(peerIp, guestIp, { srcPort: peerPort, dstPort: guestPort, seq, ack: flags & ACK ? this.rcvNxt : 0, flags, window, mss, payload });
  }

  private receiveWindow(): number {
    return Math.max(0, RCV_WINDOW - this.socket.writableLength);
  }

  /** Ends the connection with an RST to the guest (host error, give-up). */
  reset(reason: string): void {
    if (this.state === 'closed') return;
    this.hooks.log(`tcp ${this.name} reset: ${reason}`);
    if (this.state === 'connecting') this.sendSegment(RST | ACK, 0, NONE);
    else if (this.state !== 'syn-sent' && this.state !== 'time-wait') this.sendSegment(RST | ACK, this.tx.nxt, NONE);
    abort(this.socket);
    this.finish();
  }

  /** Forgets the connection without telling the guest (shutdown, reuse after TIME-WAIT). */
  finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopTimer();
    if (!this.socket.destroyed) this.socket.destroy();
    this.hooks.closed();
  }

  private setTimer(ms: number): void {
    this.stopTimer();
    this.timer = setTimeout(() => this.onTimeout(), ms);
    this.timer.unref();
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Ends a host socket with an RST where that is possible. libuv cannot reset a socket
 *  whose shutdown (our FIN, after the guest's) is still in flight: Node then reports
 *  "reset EINVAL" and drops the handle without closing it, which leaks the descriptor
 *  for good. Such a socket is closed instead; its peer sees a FIN, not an RST. */
function abort(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded && !socket.writableFinished) socket.destroy();
  else socket.resetAndDestroy();
}
