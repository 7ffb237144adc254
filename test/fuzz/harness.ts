// The fuzz harness shared by every target (`npm run fuzz -- --target T --seed S --count N`).
//
// A target opens whatever it attacks once (a server, a device on fake guest memory, an
// image directory), then runs inputs one at a time. Each input gets its own generator,
// seeded from (seed, index), so any failing input replays alone with
// `--seed S --from INDEX --count 1`. An input fails when it throws: the target's own
// checks ("a clear error or the correct result, nothing written outside what the guest
// may touch") are assertions. Every `aliveEvery` inputs the harness also asks the target
// whether the host side still answers.

/** A small, fast, reproducible generator (mulberry32) with the helpers fuzzers need. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed | 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let x = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  u32(): number {
    return (this.next() * 4294967296) >>> 0;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A value that often sits on a boundary: 0, small, powers of two and their neighbours, all ones. */
  interesting(bits: 8 | 16 | 32): number {
    const max = bits === 32 ? 0xffffffff : (1 << bits) - 1;
    switch (this.int(6)) {
      case 0: return 0;
      case 1: return this.int(16);
      case 2: return max;
      case 3: return (2 ** this.int(bits)) >>> 0;
      case 4: return ((2 ** this.int(bits)) - 1 + this.int(3)) % (max + 1) >>> 0;
      default: return bits === 32 ? this.u32() : this.int(max + 1);
    }
  }
}

/**
 * Byte-level mutations of a valid input (bit flips, boundary values, truncation,
 * extension, duplicated slices): what a structure-aware generator applies last, so the
 * parsers see inputs that are almost right.
 */
export function mutateBytes(rng: Rng, input: Uint8Array, rounds = 1 + rng.int(4)): Uint8Array {
  let b = input.slice();
  for (let r = 0; r < rounds; r++) {
    const at = b.length ? rng.int(b.length) : 0;
    switch (rng.int(7)) {
      case 0: if (b.length) b[at] ^= 1 << rng.int(8); break;
      case 1: if (b.length) b[at] = rng.interesting(8); break;
      case 2:
        if (b.length >= at + 4) new DataView(b.buffer, b.byteOffset).setUint32(at, rng.interesting(32), rng.chance(0.5));
        break;
      case 3: b = b.slice(0, rng.int(b.length + 1)); break;
      case 4: {
        const extra = rng.bytes(rng.int(32));
        const out = new Uint8Array(b.length + extra.length);
        out.set(b.subarray(0, at));
        out.set(extra, at);
        out.set(b.subarray(at), at + extra.length);
        b = out;
        break;
      }
      case 5: {
        const len = rng.int(Math.min(64, b.length - at) + 1);
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, at + len));
        out.set(b.subarray(at, at + len), at + len);
        out.set(b.subarray(at + len), at + 2 * len);
        b = out;
        break;
      }
      default: if (b.length) b.fill(rng.interesting(8), at, at + rng.int(16)); break;
    }
  }
  return b;
}

export interface FuzzSession {
  /** Runs one input; throws when the outcome is wrong (a crash, a hang, a bad answer). */
  one(rng: Rng, index: number): void | Promise<void>;
  /** Throws when the host side no longer answers (the server died, the device wedged). */
  alive?(): void | Promise<void>;
  close(): void | Promise<void>;
}

export interface FuzzTarget {
  name: string;
  /** What the target attacks, for --help. */
  surface: string;
  open(): FuzzSession | Promise<FuzzSession>;
}

export interface FuzzOptions {
  seed: number;
  count: number;
  /** Index of the first input (to replay one). */
  from?: number;
  /** Stop after this many failures (default 5). */
  maxFailures?: number;
  /** Inputs between liveness checks (default 256). */
  aliveEvery?: number;
  /** Called now and then with the number of inputs done. */
  progress?: (done: number) => void;
}

export interface FuzzFailure {
  index: number;
  error: string;
}

export interface FuzzReport {
  target: string;
  seed: number;
  inputs: number;
  failures: FuzzFailure[];
  ms: number;
}

/** The generator seed for input `index` of run `seed`: independent of every other input. */
export function inputSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.imul(h, 0x27d4eb2f) ^ (h >>> 13);
}

export async function runFuzz(target: FuzzTarget, o: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const session = await target.open();
  const failures: FuzzFailure[] = [];
  const from = o.from ?? 0;
  const aliveEvery = o.aliveEvery ?? 256;
  const maxFailures = o.maxFailures ?? 5;
  let done = 0;
  const describe = (e: unknown) => (e instanceof Error ? e.stack ?? e.message : String(e));
  try {
    for (let i = from; i < from + o.count && failures.length < maxFailures; i++) {
      try {
        await session.one(new Rng(inputSeed(o.seed, i)), i);
      } catch (e) {
        failures.push({ index: i, error: describe(e) });
      }
      done++;
      if (done % aliveEvery === 0) {
        o.progress?.(done);
        try {
          await session.alive?.();
        } catch (e) {
          failures.push({ index: i, error: `host side not responsive after input ${i}: ${describe(e)}` });
          break;
        }
      }
    }
    if (failures.length === 0) await session.alive?.();
  } finally {
    await session.close();
  }
  return { target: target.name, seed: o.seed, inputs: done, failures, ms: performance.now() - t0 };
}
