// Physical memory protection: 16 entries, TOR / NA4 / NAPOT, as OpenSBI programs them.
// Entry ranges are kept decoded (as doubles, exact below 2^53) so a check is a few compares.

export const PMP_ENTRIES = 16;

export const enum PmpCfg {
  R = 1,
  W = 2,
  X = 4,
  A_SHIFT = 3,
  L = 0x80,
}

const enum AddrMode {
  Off = 0,
  Tor = 1,
  Na4 = 2,
  Napot = 3,
}

/** Access kinds, shared with the MMU. */
export const enum Access {
  Read = 0,
  Write = 1,
  Fetch = 2,
}

export class Pmp {
  readonly cfg = new Uint8Array(PMP_ENTRIES);
  /** pmpaddr registers: bits 53:0 of the physical address >> 2, low and high words. */
  readonly addrLo = new Int32Array(PMP_ENTRIES);
  readonly addrHi = new Int32Array(PMP_ENTRIES);
  private readonly start = new Float64Array(PMP_ENTRIES);
  private readonly end = new Float64Array(PMP_ENTRIES);
  /** True when no entry is active: checks reduce to the privilege rule. */
  private empty = true;

  isLocked(i: number): boolean {
    if (this.cfg[i] & PmpCfg.L) return true;
    // A locked TOR entry also locks the address register below it.
    const next = i + 1 < PMP_ENTRIES ? this.cfg[i + 1] : 0;
    return (next & PmpCfg.L) !== 0 && ((next >> PmpCfg.A_SHIFT) & 3) === AddrMode.Tor;
  }

  writeCfg(i: number, v: number): void {
    if (this.cfg[i] & PmpCfg.L) return;
    v &= 0x9f;
    // W without R is reserved; keep the entry's permissions legal.
    if ((v & (PmpCfg.R | PmpCfg.W)) === PmpCfg.W) v &= ~PmpCfg.W;
    this.cfg[i] = v;
    this.decode();
  }

  writeAddr(i: number, lo: number, hi: number): void {
    if (this.isLocked(i)) return;
    this.addrLo[i] = lo;
    this.addrHi[i] = hi & 0x3fffff;
    this.decode();
  }

  private decode(): void {
    this.empty = true;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const mode = (this.cfg[i] >> PmpCfg.A_SHIFT) & 3;
      const a = this.addrHi[i] * 4294967296 + (this.addrLo[i] >>> 0);
      let s = 0, e = 0;
      if (mode === AddrMode.Tor) {
        s = i === 0 ? 0 : (this.addrHi[i - 1] * 4294967296 + (this.addrLo[i - 1] >>> 0)) * 4;
        e = a * 4;
      } else if (mode === AddrMode.Na4) {
        s = a * 4;
        e = s + 4;
      } else if (mode === AddrMode.Napot) {
        // Trailing ones give the size, 2^(ones+3) bytes; computed on the words because
        // pmpaddr has 54 bits, more than a double holds exactly.
        const lo = this.addrLo[i], hi = this.addrHi[i];
        const ones = lo === -1 ? 32 + Math.min(22, trailingZeros(~hi)) : trailingZeros(~lo);
        const clearedLo = ones >= 32 ? 0 : (lo & ~((1 << ones) - 1)) >>> 0;
        const clearedHi = ones >= 32 ? hi & ~((1 << (ones - 32)) - 1) : hi;
        s = (clearedHi * 4294967296 + clearedLo) * 4;
        const size = Math.pow(2, ones + 3);
        e = s + size;
      }
      this.start[i] = s;
      this.end[i] = e;
      if (mode !== AddrMode.Off) this.empty = false;
    }
  }

  /** True if an access of `size` bytes at `pa` with privilege `priv` (0 U, 1 S, 3 M) is allowed. */
  check(pa: number, size: number, access: Access, priv: number): boolean {
    if (this.empty) return priv === 3;
    const last = pa + size;
    for (let i = 0; i < PMP_ENTRIES; i++) {
      const s = this.start[i], e = this.end[i];
      if (s >= e) continue;
      if (last <= s || pa >= e) continue;
      // A partial match fails the access.
      if (pa < s || last > e) return false;
      const c = this.cfg[i];
      if (priv === 3 && !(c & PmpCfg.L)) return true;
      const bit = access === Access.Read ? PmpCfg.R : access === Access.Write ? PmpCfg.W : PmpCfg.X;
      return (c & bit) !== 0;
    }
    return priv === 3;
  }

  reset(): void {
    this.cfg.fill(0);
    this.addrLo.fill(0);
    this.addrHi.fill(0);
    this.decode();
  }
}

function trailingZeros(v: number): number {
  return v === 0 ? 32 : 31 - Math.clz32(v & -v);
}
