// Snapshot plumbing shared by every component: the error a restore throws, and a reader
// that checks a plain state object field by field. It lives in the devices layer because
// that layer depends on nothing, so the machine and the VMM layers can use it too.
//
// Conventions every component follows:
// - save() returns plain data: objects with named fields, numbers, booleans, strings,
//   arrays of one kind of value, and Uint8Array for binary blobs. No bigint (64-bit values
//   are decimal strings), no class instances, nothing shared with the live component.
// - restore(state) first checks everything (types, ranges, lengths, consistency) and only
//   then changes the component, so a SnapshotError leaves the component untouched.
// - Fields a reader does not know are ignored: a newer minor version may add some.

/** The persistence contract every stateful component of a board meets: its section id in
 *  the snapshot, and save/restore as above. Boards register one per component as they
 *  build it (VirtMachine.persistent), in restore order. */
export interface Persistent {
  readonly id: string;
  save(): unknown;
  restore(state: unknown): void;
}

/** A snapshot that cannot be read or does not fit the machine it is restored into. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** Reads fields of one plain object, naming the field in every error it throws. */
export class StateReader {
  private constructor(private readonly o: Record<string, unknown>, readonly where: string) {}

  static of(state: unknown, where: string): StateReader {
    if (typeof state !== 'object' || state === null || Array.isArray(state) || state instanceof Uint8Array) {
      throw new SnapshotError(`${where}: expected an object`);
    }
    return new StateReader(state as Record<string, unknown>, where);
  }

  fail(name: string, what: string): never {
    throw new SnapshotError(`${this.where}.${name}: ${what}`);
  }

  has(name: string): boolean {
    return this.o[name] !== undefined;
  }

  /** An integer in [min, max]. */
  int(name: string, min: number, max: number): number {
    const v = this.o[name];
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(name, `expected an integer, got ${describe(v)}`);
    if (v < min || v > max) this.fail(name, `${v} is outside [${min}, ${max}]`);
    return v;
  }

  bool(name: string): boolean {
    const v = this.o[name];
    if (typeof v !== 'boolean') this.fail(name, `expected a boolean, got ${describe(v)}`);
    return v;
  }

  str(name: string, maxLength = 4096): string {
    const v = this.o[name];
    if (typeof v !== 'string') this.fail(name, `expected a string, got ${describe(v)}`);
    if (v.length > maxLength) this.fail(name, `string longer than ${maxLength}`);
    return v;
  }

  /** A non-negative integer below 2^bits, written as a decimal string. */
  big(name: string, bits = 64, signed = false): bigint {
    const s = this.str(name, 30);
    if (!/^-?[0-9]+$/.test(s)) this.fail(name, `expected a decimal integer string, got ${JSON.stringify(s)}`);
    const v = BigInt(s);
    const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
    const hi = signed ? 1n << BigInt(bits - 1) : 1n << BigInt(bits);
    if (v < lo || v >= hi) this.fail(name, `${s} does not fit ${signed ? 'a signed' : 'an unsigned'} ${bits}-bit value`);
    return v;
  }

  /** Bytes of an exact length, or of at most `max` bytes. */
  bytes(name: string, length: number | { max: number }): Uint8Array {
    const v = this.o[name];
    if (!(v instanceof Uint8Array)) this.fail(name, `expected bytes, got ${describe(v)}`);
    if (typeof length === 'number' && v.length !== length) this.fail(name, `${v.length} bytes, expected ${length}`);
    if (typeof length === 'object' && v.length > length.max) this.fail(name, `${v.length} bytes, at most ${length.max} allowed`);
    return v;
  }

  /** An array of exactly `length` (or at most `max`) elements. */
  list(name: string, length: number | { max: number }): unknown[] {
    const v = this.o[name];
    if (!Array.isArray(v)) this.fail(name, `expected an array, got ${describe(v)}`);
    if (typeof length === 'number' && v.length !== length) this.fail(name, `${v.length} entries, expected ${length}`);
    if (typeof length === 'object' && v.length > length.max) this.fail(name, `${v.length} entries, at most ${length.max} allowed`);
    return v;
  }

  /** An array of integers in [min, max]. */
  ints(name: string, length: number | { max: number }, min: number, max: number): number[] {
    return this.list(name, length).map((v, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(`${name}[${i}]`, `expected an integer in [${min}, ${max}], got ${describe(v)}`);
      return v;
    });
  }

  /** The objects of an array field, each as a reader. */
  objects(name: string, length: number | { max: number }): StateReader[] {
    return this.list(name, length).map((v, i) => StateReader.of(v, `${this.where}.${name}[${i}]`));
  }

  object(name: string): StateReader {
    return StateReader.of(this.o[name], `${this.where}.${name}`);
  }

  /** The raw value of a field (for a nested component's own restore). */
  raw(name: string): unknown {
    return this.o[name];
  }
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
}
