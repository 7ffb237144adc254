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
/** Per-hart float64s: host ms spent running the hart, and withheld from it by the CPU
 *  limit while it was ready to run (its steal time). */
const F_BUSY = 0, F_STOLEN = 1, F_WORDS = 2;
/** Global float64s, after the per-hart ones: the VM's CPU limit in host cores, and the
 *  host time (timeOrigin + now, ms) until which every hart is held back by it. */
const F_CPU_LIMIT = 0, F_HELD_UNTIL = 1, F_GLOBALS = 2;

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
    floats: new SharedArrayBuffer((harts * F_WORDS + F_GLOBALS) * 8),
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
    if (this.f[this.limitIndex] === 0) this.f[this.limitIndex] = memory.harts;
  }

  private get limitIndex(): number {
    return this.memory.harts * F_WORDS + F_CPU_LIMIT;
  }

  /** The most host CPU the VM's harts may use together, in cores (the daemon's
   *  scheduler and the spec's cap set it); each hart thread takes its share. */
  get cpuLimit(): number {
    return this.f[this.limitIndex];
  }

  set cpuLimit(cores: number) {
    this.f[this.limitIndex] = cores;
  }

  /** Until when (host ms on the shared time line) the CPU limit holds every hart back:
   *  they sleep and run together, so none spins on a lock another one holds asleep. */
  get heldUntil(): number {
    return this.f[this.memory.harts * F_WORDS + F_HELD_UNTIL];
  }

  holdUntil(ms: number): void {
    const i = this.memory.harts * F_WORDS + F_HELD_UNTIL;
    if (ms > this.f[i]) this.f[i] = ms;
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

  addStolen(hart: number, ms: number): void {
    this.f[hart * F_WORDS + F_STOLEN] += ms;
  }

  stolenMs(hart: number): number {
    return this.f[hart * F_WORDS + F_STOLEN];
  }
}
