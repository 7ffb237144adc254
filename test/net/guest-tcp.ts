// A deliberately small TCP endpoint standing in for the guest's kernel: in-order receive
// only (out-of-order segments are dropped and re-ACKed, as the NAT must cope with that),
// a fixed advertised window, optional loss of incoming segments, and a window-respecting
// sender for uploads. It checks the NAT's behaviour as it goes (window overruns).

import type { EthernetPort } from '../../src/devices/ethernet.js';
import { F, GUEST, type Seg, Wire, cat, guestFrame, parse, tcp } from './frames.js';

export interface GuestTcpOptions {
  window?: number;
  mss?: number;
  /** Return true to lose this incoming segment (before the guest sees it). */
  drop?: (s: Seg) => boolean;
}

export class GuestTcp {
  readonly segments: Seg[] = [];
  readonly chunks: Uint8Array[] = [];
  iss = 1_000_000;
  sndNxt = this.iss;
  sndUna = this.iss;
  rcvNxt = 0;
  peerIss = 0;
  peerMss = 0;
  peerWindow = 0;
  established = false;
  finReceived = false;
  rstReceived = false;
  windowOverruns = 0;
  private rightEdge = 0;
  private upload: Uint8Array = new Uint8Array(0);
  private uploaded = 0;
  private closeAfterUpload = false;
  /** Advertised in every segment; tests change it to model the guest application. */
  window: number;
  readonly mss: number;

  constructor(private readonly net: EthernetPort, readonly port: number, readonly peer: Uint8Array, public peerPort: number, private readonly opts: GuestTcpOptions = {}) {
    this.window = opts.window ?? 65535;
    this.mss = opts.mss ?? 1460;
  }

  /** Routes this connection's segments from `wire` to the endpoint. */
  attach(wire: Wire): void {
    const prev = wire.onFrame;
    wire.onFrame = (f) => {
      prev?.(f);
      const p = parse(f);
      if (p.tcp && p.tcp.dport === this.port) this.handle(p.tcp);
    };
  }

  get received(): Uint8Array {
    return cat(...this.chunks);
  }

  send(flags: number, payload: Uint8Array = new Uint8Array(0), seq = this.sndNxt, mss?: number): void {
    if (flags & F.ACK) this.rightEdge = (this.rcvNxt + this.window) >>> 0;
    const seg: Seg = { sport: this.port, dport: this.peerPort, seq: seq >>> 0, ack: flags & F.ACK ? this.rcvNxt >>> 0 : 0, flags, window: this.window, mss, payload };
    this.net.deliver(guestFrame(this.peer, 6, tcp(GUEST, this.peer, seg)));
  }

  connect(): void {
    this.send(F.SYN, undefined, this.iss, this.mss);
    this.sndNxt = this.iss + 1;
  }

  write(data: Uint8Array, thenClose = false): void {
    this.upload = data;
    this.uploaded = 0;
    this.closeAfterUpload = thenClose;
    this.pumpUpload();
  }

  close(): void {
    this.send(F.FIN | F.ACK);
    this.sndNxt++;
  }

  private pumpUpload(): void {
    while (this.uploaded < this.upload.length) {
      const inFlight = this.sndNxt - this.sndUna;
      const n = Math.min(this.peerMss || 536, this.upload.length - this.uploaded, this.peerWindow - inFlight);
      if (n <= 0) return;
      this.send(F.ACK | F.PSH, this.upload.subarray(this.uploaded, this.uploaded + n));
      this.sndNxt += n;
      this.uploaded += n;
    }
    if (this.closeAfterUpload) {
      this.closeAfterUpload = false;
      this.close();
    }
  }

  handle(s: Seg): void {
    this.segments.push(s);
    if (this.opts.drop?.(s)) return;
    if (s.flags & F.RST) {
      this.rstReceived = true;
      return;
    }
    if (s.flags & F.SYN) {
      this.peerIss = s.seq;
      this.peerMss = s.mss ?? 536;
      this.peerWindow = s.window;
      this.rcvNxt = (s.seq + 1) >>> 0;
      if (s.flags & F.ACK) {
        // Our active open answered.
        if (s.ack !== this.iss + 1) throw new Error(`SYN-ACK acks ${s.ack}, not ${this.iss + 1}`);
        this.sndUna = s.ack;
        this.established = true;
        this.send(F.ACK);
      } else {
        // A connection from a published port.
        this.peerPort = s.sport;
        this.send(F.SYN | F.ACK, undefined, this.iss, this.mss);
        this.sndNxt = this.iss + 1;
      }
      return;
    }
    if (s.flags & F.ACK) {
      if (!this.established && s.ack === this.iss + 1) this.established = true;
      if (s.ack - this.sndUna > 0) this.sndUna = s.ack;
      this.peerWindow = s.window;
    }
    const len = s.payload.length + (s.flags & F.FIN ? 1 : 0);
    if (len === 0 && s.seq !== this.rcvNxt) this.send(F.ACK); // a probe: answered as Linux does
    if (len > 0) {
      if (((s.seq + s.payload.length - this.rightEdge) | 0) > 0) this.windowOverruns++;
      if (s.seq === this.rcvNxt) {
        this.chunks.push(s.payload.slice());
        this.rcvNxt = (this.rcvNxt + len) >>> 0;
        if (s.flags & F.FIN) this.finReceived = true;
      }
      this.send(F.ACK); // in order or not: a (possibly duplicate) ACK
    }
    this.pumpUpload();
  }
}
