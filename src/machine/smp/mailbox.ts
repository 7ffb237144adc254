// MMIO from harts on their own threads to the devices, which live on the VM's thread:
// each hart has a mailbox in shared memory; an access fills it, rings the device
// thread's doorbell and sleeps until the answer is in. The device side serves every
// mailbox with a request each time its doorbell rings (Atomics.waitAsync, so its event
// loop goes on serving I/O meanwhile). Accesses of one hart are served in order.
// No Node API here: a browser's workers use the same code.

import type { PhysBus } from '../../cpu/memory.js';

const enum Box { State = 0, Op, Size, PaLo, PaHi, ValLo, ValHi, Ok, Words }
const enum State { Idle = 0, Request = 1, Done = 2 }
const READ = 0, WRITE = 1;
/** Loads of the state word before a requester sleeps: the answer often comes within a
 *  few microseconds, and a futex wake costs tens of them. */
const SPINS = 200;
/** A sleeping requester wakes this often (ms) to look at `abandoned`. */
const WAIT_MS = 100;

/** The shared words of N mailboxes and the device side's doorbell. */
export interface MailboxMemory {
  /** Box.Words int32 per hart, then one doorbell word. */
  words: SharedArrayBuffer;
  harts: number;
}

export function mailboxMemory(harts: number): MailboxMemory {
  return { words: new SharedArrayBuffer((harts * Box.Words + 1) * 4), harts };
}

/** The device thread's doorbell word: every request rings it (and so may anything else
 *  that wants the device thread's loop to look again). */
export function deviceDoorbell(m: MailboxMemory): Int32Array {
  return new Int32Array(m.words, m.harts * Box.Words * 4, 1);
}

/** A hart thread's bus: every access becomes a request to the device thread. */
export class MailboxBus implements PhysBus {
  private readonly box: Int32Array;
  private readonly doorbell: Int32Array;

  /** `abandoned()`: true once the VM is gone, so a request never answered ends. */
  constructor(m: MailboxMemory, hart: number, private readonly abandoned: () => boolean = () => false) {
    this.box = new Int32Array(m.words, hart * Box.Words * 4, Box.Words);
    this.doorbell = deviceDoorbell(m);
  }

  read(pa: number, size: number, out: Int32Array): boolean {
    this.request(READ, pa, size, 0, 0);
    out[0] = this.box[Box.ValLo];
    out[1] = this.box[Box.ValHi];
    return this.finish();
  }

  write(pa: number, size: number, lo: number, hi: number): boolean {
    this.request(WRITE, pa, size, lo, hi);
    return this.finish();
  }

  private request(op: number, pa: number, size: number, lo: number, hi: number): void {
    const b = this.box;
    b[Box.Op] = op;
    b[Box.Size] = size;
    b[Box.PaLo] = pa | 0;
    b[Box.PaHi] = Math.floor(pa / 4294967296);
    b[Box.ValLo] = lo;
    b[Box.ValHi] = hi;
    Atomics.store(b, Box.State, State.Request);
    Atomics.add(this.doorbell, 0, 1);
    Atomics.notify(this.doorbell, 0);
    for (let i = 0; i < SPINS; i++) if (Atomics.load(b, Box.State) !== State.Request) return;
    while (Atomics.load(b, Box.State) === State.Request) {
      if (Atomics.wait(b, Box.State, State.Request, WAIT_MS) === 'timed-out' && this.abandoned()) {
        b[Box.Ok] = 0;
        return;
      }
    }
  }

  private finish(): boolean {
    const ok = this.box[Box.Ok] === 1;
    Atomics.store(this.box, Box.State, State.Idle);
    return ok;
  }
}

/** The device thread's side: serves the mailboxes on `bus` until stop(). */
export class MailboxServer {
  private readonly words: Int32Array;
  private readonly doorbellIndex: number;
  private readonly out = new Int32Array(2);
  private stopped = false;
  /** Requests served (for counters and tests). */
  served = 0;

  /** `onError`: a device threw while serving an access (a bug in rvisor): the access
   *  was answered as a fault so the hart goes on, and the VM decides what to do. */
  constructor(private readonly m: MailboxMemory, private readonly bus: PhysBus, private readonly onError: (e: unknown) => void) {
    this.words = new Int32Array(m.words);
    this.doorbellIndex = m.harts * Box.Words;
  }

  /** Serves until stop(); resolves then. */
  async run(): Promise<void> {
    while (!this.stopped) {
      const seen = Atomics.load(this.words, this.doorbellIndex);
      this.serve();
      if (this.stopped) break;
      const w = Atomics.waitAsync(this.words, this.doorbellIndex, seen);
      if (w.async) await w.value;
    }
  }

  stop(): void {
    this.stopped = true;
    Atomics.add(this.words, this.doorbellIndex, 1);
    Atomics.notify(this.words, this.doorbellIndex);
  }

  /** Answers every pending request once (also callable between other work). */
  serve(): void {
    const w = this.words;
    for (let h = 0; h < this.m.harts; h++) {
      const at = h * Box.Words;
      if (Atomics.load(w, at + Box.State) !== State.Request) continue;
      const pa = (w[at + Box.PaHi] >>> 0) * 4294967296 + (w[at + Box.PaLo] >>> 0);
      const size = w[at + Box.Size];
      let ok = false;
      try {
        if (w[at + Box.Op] === READ) {
          ok = this.bus.read(pa, size, this.out);
          w[at + Box.ValLo] = this.out[0];
          w[at + Box.ValHi] = this.out[1];
        } else {
          ok = this.bus.write(pa, size, w[at + Box.ValLo], w[at + Box.ValHi]);
        }
      } catch (e) {
        this.onError(e);
      }
      // Even a device that threw answers (as an access fault): the hart must not hang.
      w[at + Box.Ok] = ok ? 1 : 0;
      this.served++;
      Atomics.store(w, at + Box.State, State.Done);
      Atomics.notify(w, at + Box.State);
    }
  }
}
