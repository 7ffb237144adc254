// A minimal WebAssembly binary writer: just the opcodes and sections the translator
// emits. Bytes go into a growable buffer; LEB128 for every immediate.

export const enum W {
  Unreachable = 0x00, Block = 0x02, Loop = 0x03, If = 0x04, Else = 0x05, End = 0x0b,
  Br = 0x0c, BrIf = 0x0d, BrTable = 0x0e, Return = 0x0f, Call = 0x10, CallIndirect = 0x11, ReturnCall = 0x12, ReturnCallIndirect = 0x13, Drop = 0x1a, Select = 0x1b,
  LocalGet = 0x20, LocalSet = 0x21, LocalTee = 0x22,
  I32Load = 0x28, I64Load = 0x29, I64Load8S = 0x30, I64Load8U = 0x31, I64Load16S = 0x32,
  I64Load16U = 0x33, I64Load32S = 0x34, I64Load32U = 0x35, I32Store = 0x36, I64Store = 0x37,
  I64Store8 = 0x3c, I64Store16 = 0x3d, I64Store32 = 0x3e,
  I32Const = 0x41, I64Const = 0x42,
  I32Eqz = 0x45, I32Eq = 0x46, I32Ne = 0x47, I32LtS = 0x48, I32LtU = 0x49, I32GeS = 0x4e, I32GeU = 0x4f, I32LeU = 0x4d, I32GtU = 0x4b,
  I64Eqz = 0x50, I64Eq = 0x51, I64Ne = 0x52, I64LtS = 0x53, I64LtU = 0x54, I64GeS = 0x59, I64GeU = 0x5a,
  I32Clz = 0x67, I32Ctz = 0x68, I32Popcnt = 0x69, I32Add = 0x6a, I32Sub = 0x6b, I32Mul = 0x6c,
  I32DivS = 0x6d, I32DivU = 0x6e, I32RemS = 0x6f, I32RemU = 0x70, I32And = 0x71, I32Or = 0x72,
  I32Xor = 0x73, I32Shl = 0x74, I32ShrS = 0x75, I32ShrU = 0x76, I32Rotl = 0x77, I32Rotr = 0x78,
  I64Clz = 0x79, I64Ctz = 0x7a, I64Popcnt = 0x7b, I64Add = 0x7c, I64Sub = 0x7d, I64Mul = 0x7e,
  I64DivS = 0x7f, I64DivU = 0x80, I64RemS = 0x81, I64RemU = 0x82, I64And = 0x83, I64Or = 0x84,
  I64Xor = 0x85, I64Shl = 0x86, I64ShrS = 0x87, I64ShrU = 0x88, I64Rotl = 0x89, I64Rotr = 0x8a,
  I32WrapI64 = 0xa7, I64ExtendI32S = 0xac, I64ExtendI32U = 0xad,
  I64Extend8S = 0xc2, I64Extend16S = 0xc3, I64Extend32S = 0xc4,
}

export const enum T { I32 = 0x7f, I64 = 0x7e, Void = 0x40 }

export class Bytes {
  buf: Uint8Array<ArrayBuffer> = new Uint8Array(4096);
  len = 0;

  byte(b: number): void {
    if (this.len === this.buf.length) this.grow();
    this.buf[this.len++] = b;
  }

  /** Up to five opcode bytes (no rest array: this is the code generator's hot path). */
  op(a: number, b = -1, c = -1, d = -1, e = -1): void {
    this.byte(a);
    if (b >= 0) this.byte(b);
    if (c >= 0) this.byte(c);
    if (d >= 0) this.byte(d);
    if (e >= 0) this.byte(e);
  }

  /** Empties the buffer for reuse (the translator builds one module at a time). */
  reset(): this {
    this.len = 0;
    return this;
  }

  u32(v: number): void {
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.byte(b);
    } while (v !== 0);
  }

  /** Signed LEB128 of a 32-bit value. */
  s32(v: number): void {
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      if ((v === 0 && !(b & 0x40)) || (v === -1 && (b & 0x40))) { this.byte(b); return; }
      this.byte(b | 0x80);
    }
  }

  /** Signed LEB128 of a 64-bit value given as (low, high) int32 words. */
  s64(lo: number, hi: number): void {
    if (hi === lo >> 31) { this.s32(lo); return; }
    let v = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && !(b & 0x40)) || (v === -1n && (b & 0x40))) { this.byte(b); return; }
      this.byte(b | 0x80);
    }
  }

  bytes(b: ArrayLike<number>): void {
    if (b instanceof Uint8Array) {
      while (this.len + b.length > this.buf.length) this.grow();
      this.buf.set(b, this.len);
      this.len += b.length;
      return;
    }
    for (let i = 0; i < b.length; i++) this.byte(b[i]);
  }

  private grow(): void {
    const n = new Uint8Array(this.buf.length * 2);
    n.set(this.buf);
    this.buf = n;
  }

  name(s: string): void {
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
  }

  /** A section: id, then the contents' length and the contents. */
  section(id: number, body: Bytes): void {
    this.byte(id);
    this.u32(body.len);
    this.bytes(body.buf.subarray(0, body.len));
  }

  view(): Uint8Array<ArrayBuffer> {
    return this.buf.subarray(0, this.len);
  }

  // Instruction helpers.
  get(i: number): void { this.byte(W.LocalGet); this.u32(i); }
  set(i: number): void { this.byte(W.LocalSet); this.u32(i); }
  tee(i: number): void { this.byte(W.LocalTee); this.u32(i); }
  i32(v: number): void { this.byte(W.I32Const); this.s32(v); }
  i64(lo: number, hi = lo >> 31): void { this.byte(W.I64Const); this.s64(lo, hi); }
  /** An i64 constant from an exact integer (|v| < 2^53), e.g. an address. */
  i64n(v: number): void { this.i64(v | 0, Math.floor(v / 4294967296) | 0); }
  /** A load or store with its memarg (alignment hint 0: guest accesses may be unaligned). */
  mem(op: number, offset: number): void { this.byte(op); this.u32(0); this.u32(offset); }
  /** An atomic access (threads proposal, after the 0xfe prefix): its memarg must give the
   *  natural alignment, 2^align bytes. */
  atomic(op: Atomic, align: number): void { this.byte(0xfe); this.u32(op); this.u32(align); this.u32(0); }
  /** atomic.fence (its immediate is one reserved zero byte, not a memarg). */
  fence(): void { this.byte(0xfe); this.u32(Atomic.Fence); this.byte(0); }
  /** The import of guest memory ("e" "m"): a shared memory's import must say so, with a
   *  maximum (any at least the memory's). */
  memoryImport(shared: boolean): void {
    this.name('e'); this.name('m'); this.byte(0x02);
    if (shared) { this.byte(0x03); this.u32(1); this.u32(65536); } else { this.byte(0x00); this.u32(1); }
  }
}

/** Atomic opcodes after 0xfe: the i64 forms, and the 32-bit ones on i64 values
 *  (zero-extending); every rmw returns the old value. */
export const enum Atomic {
  Fence = 0x03,
  I64Load = 0x11, I64Load32U = 0x16,
  I64Add = 0x1f, I64Add32U = 0x24,
  I64And = 0x2d, I64And32U = 0x32,
  I64Or = 0x34, I64Or32U = 0x39,
  I64Xor = 0x3b, I64Xor32U = 0x40,
  I64Xchg = 0x42, I64Xchg32U = 0x47,
  I64Cmpxchg = 0x49, I64Cmpxchg32U = 0x4e,
}

/** Engine features the translator uses when present. `tailCalls`: return_call (Chrome
 *  112, Node 20, Firefox 121, Safari 18.2); without it blocks return to their page's loop.
 *  Mutable so tests can run both code shapes. */
export const features = { tailCalls: WebAssembly.validate(new Uint8Array([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, 6, 1, 4, 0, 0x12, 0, 0x0b,
])) };
