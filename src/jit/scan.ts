// Finding blocks: decode from a host offset to the first jump, the end of the page or the
// first instruction the translator leaves to the interpreter (CSR, system, FP arithmetic,
// anything illegal), which then starts its own block. Conditional branches do
// not end a translated block (the taken side leaves it, the other goes on), so that a
// block holds the straight path through a function rather than a few instructions.

/** Longest block, so that one block's instructions stay well inside any budget. */
export const MAX_BLOCK = 64;

export const enum Kind { Stop, Plain, Load, Store, LoadFp, StoreFp, Branch, Jal, Jalr, Fence, FenceI, Amo, Lr, Sc, Csr }

export interface Scan {
  /** Instructions of the translatable prefix (expanded to 32 bits) and their lengths. */
  insns: number[];
  lens: number[];
  /** Instructions up to and including the first control transfer (branches included),
   *  whatever they are: what the interpreter runs for this entry while it is cold. */
  interpCount: number;
}

/** Decodes the block at host offset `host` of RAM (u16 view) with the RVC table. */
export function scanBlock(u16: Uint16Array, rvc: Int32Array, host: number): Scan {
  const insns: number[] = [];
  const lens: number[] = [];
  let translating = true;
  /** 0 until the first control transfer is scanned. */
  let interpCount = 0;
  let scanned = 0;
  const page = host >>> 12;
  let off = host;
  while (scanned < MAX_BLOCK && off >>> 12 === page && (translating || interpCount === 0)) {
    let insn = u16[off >>> 1];
    let len = 2;
    if ((insn & 3) !== 3) insn = rvc[insn];
    else if ((off & 0xfff) === 0xffe) break; // crosses the page: the interpreter fetches it
    else { insn |= u16[(off >>> 1) + 1] << 16; len = 4; }
    const kind = insn === 0 ? Kind.Stop : classify(insn);
    if (kind === Kind.Stop) translating = false;
    if (translating) { insns.push(insn); lens.push(len); }
    scanned++;
    off += len;
    // FENCE.I ends a block: code written before it (which dropped its page's
    // translations) must not run from this block's stale copy.
    const jump = kind === Kind.Jal || kind === Kind.Jalr || kind === Kind.FenceI;
    if (interpCount === 0 && (jump || kind === Kind.Branch)) interpCount = scanned;
    if (jump) break;
  }
  if (interpCount === 0) interpCount = Math.max(scanned, 1);
  return { insns, lens, interpCount };
}

/** CSRs a translated block may access through the interpreter without ending: the trap
 *  CSRs, status and interrupt enables (the runtime re-checks the data context and pending
 *  interrupts after each), and time. Not satp (the fetch mapping), not cycle/instret
 *  (translated code adds its count at the end), not FP CSRs (rare in hot integer code). */
const INLINE_CSRS = new Set([
  0x100, 0x104, 0x140, 0x141, 0x142, 0x143, 0x144, 0xc01,
  0x300, 0x304, 0x340, 0x341, 0x342, 0x343, 0x344,
]);

/** What the translator does with a 32-bit instruction; Stop for every encoding it does not
 *  handle exactly as the interpreter does (those run in the interpreter). */
export function classify(insn: number): Kind {
  const f3 = (insn >> 12) & 7;
  const f7 = insn >>> 25;
  const f6 = insn >>> 26;
  const f12 = insn >>> 20;
  if ((insn & 3) !== 3) return Kind.Stop;
  switch ((insn >> 2) & 31) {
    case 0x0d: case 0x05: return Kind.Plain; // lui, auipc
    case 0x03: return f3 === 0 ? Kind.Fence : f3 === 1 ? Kind.FenceI : Kind.Stop; // FENCE is a no-op here too
    case 0x1c: // Zicsr on CSRs that cannot change how translated code runs (not satp, counters)
      return f3 !== 0 && f3 !== 4 && INLINE_CSRS.has(f12) ? Kind.Csr : Kind.Stop;
    case 0x0b: { // AMOs
      const f5 = insn >>> 27;
      if (f3 !== 2 && f3 !== 3) return Kind.Stop;
      if (f5 === 0x02) return ((insn >> 20) & 31) === 0 ? Kind.Lr : Kind.Stop;
      if (f5 === 0x03) return Kind.Sc;
      return f5 === 0x00 || f5 === 0x01 || f5 === 0x04 || f5 === 0x08 || f5 === 0x0c || (f5 >= 0x10 && (f5 & 3) === 0) ? Kind.Amo : Kind.Stop;
    }
    case 0x1b: return Kind.Jal;
    case 0x19: return f3 === 0 ? Kind.Jalr : Kind.Stop;
    case 0x18: return f3 === 2 || f3 === 3 ? Kind.Stop : Kind.Branch;
    case 0x00: return f3 === 7 ? Kind.Stop : Kind.Load;
    case 0x01: return f3 === 2 || f3 === 3 ? Kind.LoadFp : Kind.Stop; // flw, fld
    case 0x09: return f3 === 2 || f3 === 3 ? Kind.StoreFp : Kind.Stop; // fsw, fsd
    case 0x08: return f3 <= 3 ? Kind.Store : Kind.Stop;
    case 0x04: // OP-IMM
      if (f3 === 1) {
        if (f6 === 0 || f6 === 0x0a || f6 === 0x12 || f6 === 0x1a) return Kind.Plain;
        return f12 >= 0x600 && f12 <= 0x605 && f12 !== 0x603 ? Kind.Plain : Kind.Stop;
      }
      if (f3 === 5) {
        if (f6 === 0 || f6 === 0x10 || f6 === 0x18 || f6 === 0x12) return Kind.Plain;
        return f12 === 0x287 || f12 === 0x6b8 ? Kind.Plain : Kind.Stop;
      }
      return Kind.Plain;
    case 0x0c: // OP
      switch (f7) {
        case 0x00: case 0x01: return Kind.Plain;
        case 0x20: return f3 === 0 || f3 === 4 || f3 === 5 || f3 === 6 || f3 === 7 ? Kind.Plain : Kind.Stop;
        case 0x10: return f3 === 2 || f3 === 4 || f3 === 6 ? Kind.Plain : Kind.Stop;
        case 0x05: return f3 >= 4 ? Kind.Plain : Kind.Stop;
        case 0x30: return f3 === 1 || f3 === 5 ? Kind.Plain : Kind.Stop;
        case 0x24: return f3 === 1 || f3 === 5 ? Kind.Plain : Kind.Stop;
        case 0x14: case 0x34: return f3 === 1 ? Kind.Plain : Kind.Stop;
      }
      return Kind.Stop;
    case 0x06: // OP-IMM-32
      if (f3 === 0) return Kind.Plain;
      if (f3 === 1) {
        if (f6 === 0x02 || f7 === 0) return Kind.Plain;
        return f7 === 0x30 && ((insn >>> 20) & 31) <= 2 ? Kind.Plain : Kind.Stop;
      }
      if (f3 === 5) return f7 === 0 || f7 === 0x20 || f7 === 0x30 ? Kind.Plain : Kind.Stop;
      return Kind.Stop;
    case 0x0e: // OP-32
      switch (f7) {
        case 0x00: return f3 === 0 || f3 === 1 || f3 === 5 ? Kind.Plain : Kind.Stop;
        case 0x20: return f3 === 0 || f3 === 5 ? Kind.Plain : Kind.Stop;
        case 0x01: return f3 === 0 || f3 >= 4 ? Kind.Plain : Kind.Stop;
        case 0x30: return f3 === 1 || f3 === 5 ? Kind.Plain : Kind.Stop;
        case 0x04: return f3 === 0 || (f3 === 4 && ((insn >> 20) & 31) === 0) ? Kind.Plain : Kind.Stop;
        case 0x10: return f3 === 2 || f3 === 4 || f3 === 6 ? Kind.Plain : Kind.Stop;
      }
      return Kind.Stop;
  }
  return Kind.Stop;
}
