// Which memory an instruction is about to access, decoded before it runs, so that the
// debug runner can report GDB watchpoints without hooks in the interpreter's load/store
// paths: loads, stores, FP loads/stores and AMOs (RVC forms expanded first).

import type { Hart } from '../cpu/hart.js';
import { debugRead } from './guest-walk.js';

export interface MemAccess {
  addr: bigint;
  size: number;
  read: boolean;
  write: boolean;
}

export function decodeAccess(h: Hart): MemAccess | undefined {
  const bytes = debugRead(h, h.pc, 4);
  if (bytes.length < 2) return undefined;
  const parcel = bytes[0] | (bytes[1] << 8);
  let insn: number;
  if ((parcel & 3) !== 3) {
    insn = h.rvc[parcel];
  } else {
    if (bytes.length < 4) return undefined;
    insn = parcel | (bytes[2] << 16) | (bytes[3] << 24);
  }
  const f3 = (insn >>> 12) & 7;
  const base = h.s.getX((insn >>> 15) & 31);
  const iImm = insn >> 20;
  const sImm = ((insn >> 25) << 5) | ((insn >>> 7) & 31);
  const at = (imm: number) => BigInt.asUintN(64, base + BigInt(imm));
  switch (insn & 0x7f) {
    case 0x03: return { addr: at(iImm), size: 1 << (f3 & 3), read: true, write: false };
    case 0x23: return { addr: at(sImm), size: 1 << (f3 & 3), read: false, write: true };
    case 0x07: return f3 === 2 || f3 === 3 ? { addr: at(iImm), size: f3 === 2 ? 4 : 8, read: true, write: false } : undefined;
    case 0x27: return f3 === 2 || f3 === 3 ? { addr: at(sImm), size: f3 === 2 ? 4 : 8, read: false, write: true } : undefined;
    case 0x2f: {
      if (f3 !== 2 && f3 !== 3) return undefined;
      const funct5 = insn >>> 27;
      // LR only reads, SC only writes, every other AMO does both.
      return { addr: at(0), size: f3 === 2 ? 4 : 8, read: funct5 !== 3, write: funct5 !== 2 };
    }
  }
  return undefined;
}
