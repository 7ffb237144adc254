// The shared control block of a virt machine whose harts run on their own threads: the
// run state the VM's thread sets, each hart's HSM state, start requests and remote-fence
// handshakes between hart threads, and the counters the VM reads. Everything is int32
// (or float64) words in one SharedArrayBuffer, changed with Atomics where two threads
// may race. No Node API here.

/** What the VM's thread wants the hart threads to do. */
export const enum RunState { Running = 0, Paused = 1, Stopping = 2 }

// Global words.
const RUN = 0;
const GLOBAL_WORDS = 4;
// Per-hart words, after the global ones.
const enum H {
  /** Remote-fence requests made of this hart (a sequence number) and the last it did. */
  FenceReq = 0, FenceAck,
  /** hart_start's entry address and opaque value (lo, hi each). */
  StartLo, StartHi, OpaqueLo, OpaqueHi,
  /** 1 while the thread is parked by a pause (or stopped in HSM). */
  Parked,
  Words,
}
/** Per-hart float64s: host ms spent running the hart. */
const F_BUSY = 0, F_WORDS = 1;

export interface ControlMemory {
  words: SharedArrayBuffer;
  hsm: SharedArrayBuffer;
  floats: SharedArrayBuffer;
  harts: number;
}

export function controlMemory(harts: number): ControlMemory {
  return {
    words: new SharedArrayBuffer((GLOBAL_WORDS + harts * H.Words) * 4),
    hsm: new SharedArrayBuffer(harts),
    floats: new SharedArrayBuffer(harts * F_WORDS * 8),
    harts,
  };
}

export class SmpControl {
  private readonly w: Int32Array;
  /** HSM state of each hart (firmware/context.ts HsmState); the SBI's own array. */
  readonly hsm: Uint8Array;
  private readonly f: Float64Array;

  constructor(readonly memory: ControlMemory) {
    this.w = new Int32Array(memory.words);
    this.hsm = new Uint8Array(memory.hsm);
    this.f = new Float64Array(memory.floats);
  }

  get harts(): number {
    return this.memory.harts;
  }

  private at(hart: number, word: H): number {
    return GLOBAL_WORDS + hart * H.Words + word;
  }

  get run(): RunState {
    return Atomics.load(this.w, RUN) as RunState;
  }

  set run(s: RunState) {
    Atomics.store(this.w, RUN, s);
  }

  // hart_start: the caller leaves the entry point here and marks the hart START_PENDING;
  // the hart's own thread resets it (its PMP and caches are thread-local) and starts it.

  setStart(hart: number, addr: number, opaque: bigint): void {
    this.w[this.at(hart, H.StartLo)] = addr | 0;
    this.w[this.at(hart, H.StartHi)] = Math.floor(addr / 4294967296);
    this.w[this.at(hart, H.OpaqueLo)] = Number(BigInt.asIntN(32, opaque));
    this.w[this.at(hart, H.OpaqueHi)] = Number(BigInt.asIntN(32, opaque >> 32n));
  }

  start(hart: number): { addr: number; opaque: bigint } {
    const lo = this.w[this.at(hart, H.StartLo)] >>> 0, hi = this.w[this.at(hart, H.StartHi)] >>> 0;
    const olo = this.w[this.at(hart, H.OpaqueLo)] >>> 0, ohi = this.w[this.at(hart, H.OpaqueHi)];
    return { addr: hi * 4294967296 + lo, opaque: (BigInt(ohi) << 32n) | BigInt(olo) };
  }

  // Remote fences: a requester bumps FenceReq and waits until FenceAck reaches it; the
  // target flushes at its next look (slice boundary, or at once when it sleeps).

  requestFence(hart: number): number {
    return Atomics.add(this.w, this.at(hart, H.FenceReq), 1) + 1;
  }

  fenceDone(hart: number, seq: number): boolean {
    return Atomics.load(this.w, this.at(hart, H.FenceAck)) - seq >= 0;
  }

  /** Waits up to `ms` for hart to acknowledge fence `seq`. */
  waitFence(hart: number, seq: number, ms: number): void {
    const i = this.at(hart, H.FenceAck);
    const ack = Atomics.load(this.w, i);
    if (ack - seq < 0) Atomics.wait(this.w, i, ack, ms);
  }

  /** The fence sequence a target must reach, or undefined when nothing is asked. */
  pendingFence(hart: number): number | undefined {
    const req = Atomics.load(this.w, this.at(hart, H.FenceReq));
    return req !== Atomics.load(this.w, this.at(hart, H.FenceAck)) ? req : undefined;
  }

  ackFence(hart: number, seq: number): void {
    const i = this.at(hart, H.FenceAck);
    Atomics.store(this.w, i, seq);
    Atomics.notify(this.w, i);
  }

  setParked(hart: number, parked: boolean): void {
    Atomics.store(this.w, this.at(hart, H.Parked), parked ? 1 : 0);
  }

  parked(hart: number): boolean {
    return Atomics.load(this.w, this.at(hart, H.Parked)) === 1;
  }

  addBusy(hart: number, ms: number): void {
    this.f[hart * F_WORDS + F_BUSY] += ms;
  }

  busyMs(hart: number): number {
    return this.f[hart * F_WORDS + F_BUSY];
  }
}
