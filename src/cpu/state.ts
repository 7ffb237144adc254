// The architectural state of one hart lives in one ArrayBuffer with a fixed layout, so
// that the interpreter (typed-array views), the WebAssembly translator (the same bytes as
// i64) and snapshots (copy the buffer) all read the same thing.
//
// 64-bit values are stored little-endian: the low 32 bits at the lower address. In the
// Int32Array view a 64-bit slot n is therefore [2n] = low, [2n+1] = high.
//
// Byte layout:
//   0    x0..x31        32 x 8 bytes
//   256  f0..f31        32 x 8 bytes (single-precision values NaN-boxed)
//   512  scalar slots   see Slot below, 8 bytes each
export const STATE_BYTES = 1024;
export const X_OFFSET = 0;
export const F_OFFSET = 256;
export const SLOT_OFFSET = 512;

/** 64-bit slots after the register files; Int32 index of slot s is (SLOT_OFFSET/4) + 2*s. */
export const enum Slot {
  Pc = 0,
  /** fflags in the low word, frm in the high word. */
  Fcsr,
  /** Current privilege: 0 = U, 1 = S, 3 = M (low word). */
  Priv,
  Mstatus,
  Misa,
  Medeleg,
  Mideleg,
  Mie,
  Mip,
  Mtvec,
  Mscratch,
  Mepc,
  Mcause,
  Mtval,
  Stvec,
  Sscratch,
  Sepc,
  Scause,
  Stval,
  Satp,
  Mcounteren,
  Scounteren,
  Menvcfg,
  Senvcfg,
  Stimecmp,
  Mcountinhibit,
  Cycle,
  Instret,
  Mhartid,
  /** LR/SC reservation address; high word -1 when no reservation is held. */
  Reservation,
  /** The value LR loaded: SC stores only if memory still holds it (a compare-and-swap,
   *  as QEMU's MTTCG does), which is what makes LR/SC atomic across threads. */
  ReservedValue,
  Count,
}

/** Int32-array index of the low word of a slot. */
export function slotIndex(s: Slot): number {
  return (SLOT_OFFSET >> 2) + 2 * s;
}

/** Views over one hart's state buffer. */
export class HartState {
  readonly buffer: ArrayBuffer;
  /** x registers: [2*i] low word, [2*i+1] high word. x0 is kept zero by the interpreter. */
  readonly x: Int32Array;
  /** f registers as doubles (for arithmetic). */
  readonly f: Float64Array;
  /** f registers as words: [2*i] low word, [2*i+1] high word (for bit moves and NaN-boxing). */
  readonly fi: Int32Array;
  /** The whole buffer as words; slots are reached with slotIndex(). */
  readonly w: Int32Array;

  /** Byte offset of the state in `buffer` (non-zero when it lives in guest RAM's
   *  WebAssembly.Memory, where translated code reaches it). */
  readonly byteOffset: number;

  constructor(buffer: ArrayBuffer = new ArrayBuffer(STATE_BYTES), byteOffset = 0) {
    if (buffer.byteLength < byteOffset + STATE_BYTES || byteOffset % 8 !== 0) throw new Error('hart state buffer too small or misaligned');
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.x = new Int32Array(buffer, byteOffset + X_OFFSET, 64);
    this.f = new Float64Array(buffer, byteOffset + F_OFFSET, 32);
    this.fi = new Int32Array(buffer, byteOffset + F_OFFSET, 64);
    this.w = new Int32Array(buffer, byteOffset, STATE_BYTES >> 2);
  }

  /** Reads a 64-bit slot as a BigInt (for tools and tests; never on the hot path). */
  get64(s: Slot): bigint {
    const i = slotIndex(s);
    return (BigInt(this.w[i + 1]) << 32n) | BigInt(this.w[i] >>> 0);
  }

  set64(s: Slot, v: bigint): void {
    const i = slotIndex(s);
    this.w[i] = Number(BigInt.asIntN(32, v));
    this.w[i + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }

  getX(r: number): bigint {
    return (BigInt(this.x[2 * r + 1]) << 32n) | BigInt(this.x[2 * r] >>> 0);
  }

  setX(r: number, v: bigint): void {
    if (r === 0) return;
    this.x[2 * r] = Number(BigInt.asIntN(32, v));
    this.x[2 * r + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }

  getF(r: number): bigint {
    return (BigInt(this.fi[2 * r + 1]) << 32n) | BigInt(this.fi[2 * r] >>> 0);
  }

  setF(r: number, v: bigint): void {
    this.fi[2 * r] = Number(BigInt.asIntN(32, v));
    this.fi[2 * r + 1] = Number(BigInt.asIntN(32, v >> 32n));
  }
}

/** fflags bits (fcsr[4:0]). */
export const enum FFlag {
  NX = 1,
  UF = 2,
  OF = 4,
  DZ = 8,
  NV = 16,
}

/** Rounding modes (frm and the instruction rm field; 7 = dynamic). */
export const enum Rm {
  RNE = 0,
  RTZ = 1,
  RDN = 2,
  RUP = 3,
  RMM = 4,
  DYN = 7,
}
