// 64-bit integer arithmetic on pairs of int32 (low, high), for the interpreter's hot
// path where BigInt would allocate. Functions return the low word and leave the high
// word in `hi` (read it right after the call).

export let hi = 0;

const TWO32 = 4294967296;

/** Unsigned high 32 bits of a 32x32 product. */
function mulhu32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const lo = a0 * b0;
  const mid1 = a1 * b0 + (lo >>> 16);
  const mid2 = a0 * b1 + (mid1 & 0xffff);
  return (a1 * b1 + Math.floor(mid1 / 65536) + Math.floor(mid2 / 65536)) | 0;
}

/** Low 64 bits of a 64x64 product. */
export function mul64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  hi = (mulhu32(aLo, bLo) + Math.imul(aLo, bHi) + Math.imul(aHi, bLo)) | 0;
  return Math.imul(aLo, bLo);
}

let hi32 = 0;

/** Unsigned 32x32 product: returns the low word (as a double in [0, 2^32)) and leaves
 *  the high word in hi32. Splitting one factor in 16-bit halves keeps every step exact. */
function mul32(a: number, b: number): number {
  a >>>= 0;
  const t0 = a * (b & 0xffff);
  const t1 = a * (b >>> 16);
  const t1lo = t1 % 65536;
  const s = t0 + t1lo * 65536;
  const slo = s % 4294967296;
  hi32 = (t1 - t1lo) / 65536 + (s - slo) / 4294967296;
  return slo;
}

/** High 64 bits of the unsigned 128-bit product. */
export function mulhu64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  const p0lo = mul32(aLo, bLo), p0hi = hi32;
  const p1lo = mul32(aLo, bHi), p1hi = hi32;
  const p2lo = mul32(aHi, bLo), p2hi = hi32;
  const p3lo = mul32(aHi, bHi), p3hi = hi32;
  void p0lo;
  // Column 1 (bits 32..63) only matters for its carry into column 2.
  const mid = p0hi + p1lo + p2lo;
  const carry1 = Math.floor(mid / 4294967296);
  const col2 = p3lo + p1hi + p2hi + carry1;
  const col2lo = col2 % 4294967296;
  hi = (p3hi + (col2 - col2lo) / 4294967296) | 0;
  return col2lo | 0;
}

/** High 64 bits of the signed x signed product. */
export function mulh64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  let lo = mulhu64(aLo, aHi, bLo, bHi);
  let h = hi;
  if (aHi < 0) { lo = sub64(lo, h, bLo, bHi); h = hi; }
  if (bHi < 0) { lo = sub64(lo, h, aLo, aHi); h = hi; }
  hi = h;
  return lo;
}

/** High 64 bits of the signed x unsigned product. */
export function mulhsu64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  let lo = mulhu64(aLo, aHi, bLo, bHi);
  let h = hi;
  if (aHi < 0) { lo = sub64(lo, h, bLo, bHi); h = hi; }
  hi = h;
  return lo;
}

export function add64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  const lo = (aLo + bLo) | 0;
  hi = (aHi + bHi + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
  return lo;
}

export function sub64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  const lo = (aLo - bLo) | 0;
  hi = (aHi - bHi - ((aLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
  return lo;
}

/** A pair whose value fits a double exactly (|v| < 2^53) converts without loss. */
function fitsDouble(h: number): boolean {
  return (h >= -0x200000 && h < 0x200000);
}

function toBig(lo: number, h: number): bigint {
  return (BigInt(h) << 32n) | BigInt(lo >>> 0);
}

function fromBig(v: bigint): number {
  hi = Number(BigInt.asIntN(32, v >> 32n));
  return Number(BigInt.asIntN(32, v));
}

function fromDouble(v: number): number {
  // v is an integer with |v| <= 2^63; split into words.
  const h = Math.floor(v / TWO32);
  hi = h | 0;
  return (v - h * TWO32) | 0;
}

/** Signed 64-bit division with RISC-V's rules for zero and overflow. */
export function div64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (bLo === 0 && bHi === 0) { hi = -1; return -1; }
  if (fitsDouble(aHi) && fitsDouble(bHi)) {
    return fromDouble(Math.trunc((aHi * TWO32 + (aLo >>> 0)) / (bHi * TWO32 + (bLo >>> 0))));
  }
  if (aHi === -0x80000000 && aLo === 0 && bLo === -1 && bHi === -1) { hi = aHi; return 0; }
  return fromBig(toBig(aLo, aHi) / toBig(bLo, bHi));
}

export function rem64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (bLo === 0 && bHi === 0) { hi = aHi; return aLo; }
  if (fitsDouble(aHi) && fitsDouble(bHi)) {
    const a = aHi * TWO32 + (aLo >>> 0), b = bHi * TWO32 + (bLo >>> 0);
    const r = a - Math.trunc(a / b) * b;
    return fromDouble(r === 0 ? 0 : r);
  }
  if (aHi === -0x80000000 && aLo === 0 && bLo === -1 && bHi === -1) { hi = 0; return 0; }
  return fromBig(toBig(aLo, aHi) % toBig(bLo, bHi));
}

function fitsUnsigned(h: number): boolean {
  return h >= 0 && h < 0x200000;
}

export function divu64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (bLo === 0 && bHi === 0) { hi = -1; return -1; }
  if (fitsUnsigned(aHi) && fitsUnsigned(bHi)) {
    return fromDouble(Math.floor((aHi * TWO32 + (aLo >>> 0)) / (bHi * TWO32 + (bLo >>> 0))));
  }
  return fromBig(BigInt.asUintN(64, toBig(aLo, aHi)) / BigInt.asUintN(64, toBig(bLo, bHi)));
}

export function remu64(aLo: number, aHi: number, bLo: number, bHi: number): number {
  if (bLo === 0 && bHi === 0) { hi = aHi; return aLo; }
  if (fitsUnsigned(aHi) && fitsUnsigned(bHi)) {
    const a = aHi * TWO32 + (aLo >>> 0), b = bHi * TWO32 + (bLo >>> 0);
    return fromDouble(a - Math.floor(a / b) * b);
  }
  return fromBig(BigInt.asUintN(64, toBig(aLo, aHi)) % BigInt.asUintN(64, toBig(bLo, bHi)));
}

/** 32-bit signed division (DIVW), result sign-extended by the caller. */
export function divw(a: number, b: number): number {
  if (b === 0) return -1;
  if (a === -0x80000000 && b === -1) return a;
  return (a / b) | 0;
}

export function remw(a: number, b: number): number {
  if (b === 0) return a;
  if (b === -1) return 0;
  return (a % b) | 0;
}

export function divuw(a: number, b: number): number {
  if (b === 0) return -1;
  return ((a >>> 0) / (b >>> 0)) | 0;
}

export function remuw(a: number, b: number): number {
  if (b === 0) return a;
  return ((a >>> 0) % (b >>> 0)) | 0;
}

export function sll64(lo: number, h: number, s: number): number {
  s &= 63;
  if (s === 0) { hi = h; return lo; }
  if (s < 32) { hi = (h << s) | (lo >>> (32 - s)); return lo << s; }
  hi = lo << (s - 32);
  return 0;
}

export function srl64(lo: number, h: number, s: number): number {
  s &= 63;
  if (s === 0) { hi = h; return lo; }
  if (s < 32) { hi = h >>> s; return (lo >>> s) | (h << (32 - s)); }
  hi = 0;
  return h >>> (s - 32);
}

export function sra64(lo: number, h: number, s: number): number {
  s &= 63;
  if (s === 0) { hi = h; return lo; }
  if (s < 32) { hi = h >> s; return (lo >>> s) | (h << (32 - s)); }
  hi = h >> 31;
  return h >> (s - 32);
}

export function rol64(lo: number, h: number, s: number): number {
  s &= 63;
  if (s === 0) { hi = h; return lo; }
  if (s >= 32) { const t = lo; lo = h; h = t; s -= 32; if (s === 0) { hi = h; return lo; } }
  hi = (h << s) | (lo >>> (32 - s));
  return (lo << s) | (h >>> (32 - s));
}

export function ror64(lo: number, h: number, s: number): number {
  return rol64(lo, h, (64 - (s & 63)) & 63);
}

export function ltSigned(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return aHi < bHi || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0));
}

export function ltUnsigned(aLo: number, aHi: number, bLo: number, bHi: number): boolean {
  return (aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0));
}

export function clz64(lo: number, h: number): number {
  return h !== 0 ? Math.clz32(h) : 32 + Math.clz32(lo);
}

function ctz32(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}

export function ctz64(lo: number, h: number): number {
  return lo !== 0 ? ctz32(lo) : 32 + ctz32(h);
}

export { ctz32 };

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** orc.b on one word: each byte becomes 0xff if non-zero. */
export function orcb32(v: number): number {
  let r = 0;
  for (let i = 0; i < 32; i += 8) if ((v >>> i) & 0xff) r |= 0xff << i;
  return r;
}

export function bswap32(v: number): number {
  return ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) | 0;
}
