// A NIC's wire between threads: a VM worker's NIC and its port on a switch that lives on
// the daemon's main thread. Frames cross as transferred buffers (no copy, no JSON), and a
// shared counter of frames in flight each way bounds the queue: a thread that stops
// reading (a paused or busy VM) makes the other side drop, never grow without bound.

import type { MessagePort } from 'node:worker_threads';
import type { EthernetEndpoint, EthernetPort } from '../../devices/ethernet.js';

/** Frames one side may have posted and the other not yet taken. */
const MAX_IN_FLIGHT = 512;

/** What crosses to the worker: its end of the channel and the shared counters. */
export interface PortLinkEnd {
  port: MessagePort;
  /** Int32 [main -> worker in flight, worker -> main in flight]. */
  inFlight: SharedArrayBuffer;
}

export class PortLink implements EthernetEndpoint {
  /** Frames dropped because the other side had MAX_IN_FLIGHT waiting. */
  dropped = 0;
  private peer: EthernetPort | null = null;
  private readonly counts: Int32Array;
  private readonly out: number;
  private readonly back: number;

  /** `side` is which end this is: the daemon's main thread or the VM's worker. */
  constructor(private readonly end: PortLinkEnd, side: 'main' | 'worker') {
    this.counts = new Int32Array(end.inFlight);
    this.out = side === 'main' ? 0 : 1;
    this.back = 1 - this.out;
    end.port.on('message', (data: unknown) => {
      Atomics.sub(this.counts, this.back, 1);
      if (data instanceof Uint8Array) this.peer?.deliver(data);
    });
  }

  static ends(port: MessagePort): PortLinkEnd {
    return { port, inFlight: new SharedArrayBuffer(8) };
  }

  connect(peer: EthernetPort): void {
    this.peer = peer;
  }

  deliver(frame: Uint8Array): void {
    if (Atomics.load(this.counts, this.out) >= MAX_IN_FLIGHT) {
      this.dropped++;
      return;
    }
    Atomics.add(this.counts, this.out, 1);
    // The caller keeps no claim on the frame: a frame that is its whole buffer moves.
    const whole = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength && frame.buffer instanceof ArrayBuffer;
    // Anything else is copied, with new Uint8Array(): a Buffer's slice() is a view, and
    // moving its buffer would take the rest of the caller's buffer (a socket's read
    // buffer, say) away from it.
    const f = whole ? frame : new Uint8Array(frame);
    this.end.port.postMessage(f, [f.buffer as ArrayBuffer]);
  }

  close(): void {
    this.end.port.close();
  }
}
