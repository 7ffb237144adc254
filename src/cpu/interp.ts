// The interpreter loop: fetch through a one-page cache, decode with a switch on the major
// opcode, execute on (low, high) int32 register pairs. Loads and stores hit the software
// TLB inline and leave to the hart's slow paths on a miss. Exceptions unwind with TRAP
// and are delivered here with the pc of the faulting instruction; interrupts are checked
// when the loop starts a new slice.

import * as A from './alu.js';
import { Csr, csrRead, csrWrite, csrHi } from './csr.js';
import { executeFp } from './fpu/index.js';
import { Hart, MSTATUS, PC, PRIV, TLB_SIZE } from './hart.js';
import { Access } from './pmp.js';
import { enterTrap, mret, pendingInterrupt, sret, wakeupPending } from './priv.js';
import { amoOpOf } from './atomics.js';
import { Slot, slotIndex } from './state.js';
import { Cause, Ms, TRAP } from './trap.js';

const INSTRET = slotIndex(Slot.Instret);
const CYCLE = slotIndex(Slot.Cycle);
const MCOUNTINHIBIT = slotIndex(Slot.Mcountinhibit);
const RESERVATION = slotIndex(Slot.Reservation);
const RESERVED_VALUE = slotIndex(Slot.ReservedValue);

/** Major opcodes by bits 6:2 (bits 1:0 are 11 for every 32-bit instruction), so the
 *  dispatch switch is dense and compiles to a jump table. */
const enum Op {
  Load = 0x00, LoadFp = 0x01, MiscMem = 0x03, OpImm = 0x04, Auipc = 0x05, OpImm32 = 0x06,
  Store = 0x08, StoreFp = 0x09, Amo = 0x0b, Op = 0x0c, Lui = 0x0d, Op32 = 0x0e,
  Madd = 0x10, Msub = 0x11, Nmsub = 0x12, Nmadd = 0x13, OpFp = 0x14,
  Branch = 0x18, Jalr = 0x19, Jal = 0x1b, System = 0x1c,
}

/** Retires `n` instructions into minstret and mcycle (unless mcountinhibit says not);
 *  the translator counts through this too. */
export function addInstret(h: Hart, n: number): void {
  const w = h.w;
  const inhibit = w[MCOUNTINHIBIT];
  if (!(inhibit & 4)) bump(w, INSTRET, n);
  if (!(inhibit & 1)) bump(w, CYCLE, n);
}

function bump(w: Int32Array, i: number, n: number): void {
  const lo = (w[i] >>> 0) + n;
  w[i] = lo | 0;
  if (lo > 0xffffffff) w[i + 1] = (w[i + 1] + 1) | 0;
}

/** Runs up to `budget` instructions (fewer if the hart starts waiting in WFI or is asked
 *  to stop). Returns the number retired. */
export function execute(h: Hart, budget: number): number {
  const x = h.x, w = h.w, mem = h.mem, rvc = h.rvc;
  const u8 = mem.u8, i8 = mem.i8, u16 = mem.u16, i16 = mem.i16, i32 = mem.i32, dv = mem.dv;
  const fi = h.s.fi;
  let total = 0;

  if (h.waiting) {
    if (!wakeupPending(h)) return 0;
    h.waiting = false;
  }

  let pcLo = w[PC], pcHi = w[PC + 1];
  let n = 0;
  const attention = h.attention;
  while (n < budget && !h.waiting && !h.stopRequested && attention[0] === 0) {
    // Between runs of straight-line execution (after a trap, xRET, CSR write or fence),
    // pick up what those may have changed: pending interrupts, the translation context,
    // the fetch page. The fetch page lives in locals; only fetchSlow changes it mid-run.
    const irq = pendingInterrupt(h);
    if (irq >= 0) {
      enterTrap(h, irq, true, pcLo, pcHi, 0, 0);
      pcLo = w[PC];
      pcHi = w[PC + 1];
    }
    const context = h.dataContext();
    const rs = h.tlbSets[context * 3 + Access.Read], ws = h.tlbSets[context * 3 + Access.Write];
    const rTagLo = rs.tagLo, rTagHi = rs.tagHi, rHost = rs.host;
    const wTagLo = ws.tagLo, wTagHi = ws.tagHi, wHost = ws.host;
    let fTagLo = h.fetchTagLo, fTagHi = h.fetchTagHi, fHost = h.fetchHost;
    let resync = false;
    let insn = 0;
    /** The instruction as fetched (the 16-bit parcel for RVC), reported in tval. */
    let raw = 0;
    try {
      for (; n < budget; n++) {
        let off: number;
        // Exact compare: the invalid tag (0x800) has low bits set, so it never matches.
        if ((pcLo & -4096) === fTagLo && pcHi === fTagHi) off = fHost + (pcLo & 0xfff);
        else {
          off = h.fetchSlow(pcLo, pcHi);
          fTagLo = h.fetchTagLo; fTagHi = h.fetchTagHi; fHost = h.fetchHost;
        }
        insn = u16[off >>> 1];
        let len = 4;
        if ((insn & 3) !== 3) {
          raw = insn;
          insn = rvc[insn];
          if (insn === 0) h.raise(Cause.IllegalInsn);
          len = 2;
        } else {
          if ((off & 2) === 0) insn = i32[off >>> 2];
          else if ((pcLo & 0xfff) === 0xffe) insn |= h.fetchUpperHalf(pcLo, pcHi) << 16;
          else insn |= u16[(off >>> 1) + 1] << 16;
          raw = insn;
        }
        let npcLo = (pcLo + len) | 0;
        let npcHi = (npcLo >>> 0) < len ? (pcHi + 1) | 0 : pcHi;
        const rd = (insn >> 6) & 62;
        const r1 = (insn >> 14) & 62;
        const r2 = (insn >> 19) & 62;
        const f3 = (insn >> 12) & 7;

        // A 32-bit encoding whose low bits are not 11 cannot reach here (RVC is expanded).
        switch ((insn >> 2) & 31) {
          case Op.Lui:
            x[rd] = insn & -4096;
            x[rd + 1] = insn >> 31;
            break;

          case Op.Auipc: {
            const imm = insn & -4096;
            const lo = (pcLo + imm) | 0;
            x[rd + 1] = (pcHi + (imm >> 31) + ((lo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            x[rd] = lo;
            break;
          }

          case Op.Jal: {
            const imm = ((insn >> 31) << 20) | (insn & 0xff000) | (((insn >> 20) & 1) << 11) | (((insn >> 21) & 0x3ff) << 1);
            x[rd] = npcLo; x[rd + 1] = npcHi;
            const lo = (pcLo + imm) | 0;
            npcHi = (pcHi + (imm >> 31) + ((lo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
            npcLo = lo;
            break;
          }

          case Op.Jalr: {
            if (f3 !== 0) h.raise(Cause.IllegalInsn);
            const imm = insn >> 20;
            const bLo = x[r1], bHi = x[r1 + 1];
            const lo = (bLo + imm) | 0;
            const hi = (bHi + (imm >> 31) + ((lo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
            x[rd] = npcLo; x[rd + 1] = npcHi;
            npcLo = lo & ~1;
            npcHi = hi;
            break;
          }

          case Op.Branch: {
            const aLo = x[r1], aHi = x[r1 + 1], bLo = x[r2], bHi = x[r2 + 1];
            let taken: boolean;
            switch (f3) {
              case 0: taken = aLo === bLo && aHi === bHi; break;
              case 1: taken = aLo !== bLo || aHi !== bHi; break;
              case 4: taken = aHi < bHi || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0)); break;
              case 5: taken = !(aHi < bHi || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0))); break;
              case 6: taken = (aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0)); break;
              case 7: taken = !((aHi >>> 0) < (bHi >>> 0) || (aHi === bHi && (aLo >>> 0) < (bLo >>> 0))); break;
              default: return h.raise(Cause.IllegalInsn);
            }
            if (taken) {
              const imm = ((insn >> 31) << 12) | (((insn >> 7) & 1) << 11) | (((insn >> 25) & 0x3f) << 5) | (((insn >> 8) & 0xf) << 1);
              const lo = (pcLo + imm) | 0;
              npcHi = (pcHi + (imm >> 31) + ((lo >>> 0) < (pcLo >>> 0) ? 1 : 0)) | 0;
              npcLo = lo;
            }
            break;
          }

          case Op.Load: {
            if (f3 === 7) h.raise(Cause.IllegalInsn);
            const imm = insn >> 20;
            const bLo = x[r1];
            const vaLo = (bLo + imm) | 0;
            const vaHi = (x[r1 + 1] + (imm >> 31) + ((vaLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
            const size = 1 << (f3 & 3);
            const t = (vaLo >>> 12) & (TLB_SIZE - 1);
            let lo: number, hi: number;
            if (rTagLo[t] === (vaLo & -4096) && rTagHi[t] === vaHi && (vaLo & 0xfff) <= 4096 - size) {
              const o = rHost[t] + (vaLo & 0xfff);
              switch (f3) {
                case 0: lo = i8[o]; hi = lo >> 31; break;
                case 1: lo = (o & 1) ? dv.getInt16(o, true) : i16[o >>> 1]; hi = lo >> 31; break;
                case 2: lo = (o & 3) ? dv.getInt32(o, true) : i32[o >>> 2]; hi = lo >> 31; break;
                case 3:
                  if (o & 7) { lo = dv.getInt32(o, true); hi = dv.getInt32(o + 4, true); }
                  else { lo = i32[o >>> 2]; hi = i32[(o >>> 2) + 1]; }
                  break;
                case 4: lo = u8[o]; hi = 0; break;
                case 5: lo = (o & 1) ? dv.getUint16(o, true) : u16[o >>> 1]; hi = 0; break;
                default: lo = (o & 3) ? dv.getInt32(o, true) : i32[o >>> 2]; hi = 0; break;
              }
            } else {
              lo = h.loadSlow(vaLo, vaHi, size);
              hi = h.ldHi;
              switch (f3) {
                case 0: lo = (lo << 24) >> 24; hi = lo >> 31; break;
                case 1: lo = (lo << 16) >> 16; hi = lo >> 31; break;
                case 2: hi = lo >> 31; break;
                case 3: break;
                default: hi = 0;
              }
            }
            x[rd] = lo; x[rd + 1] = hi;
            break;
          }

          case Op.Store: {
            if (f3 > 3) h.raise(Cause.IllegalInsn);
            const imm = ((insn >> 25) << 5) | ((insn >> 7) & 31);
            const bLo = x[r1];
            const vaLo = (bLo + imm) | 0;
            const vaHi = (x[r1 + 1] + (imm >> 31) + ((vaLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
            const size = 1 << f3;
            const t = (vaLo >>> 12) & (TLB_SIZE - 1);
            const lo = x[r2], hi = x[r2 + 1];
            if (wTagLo[t] === (vaLo & -4096) && wTagHi[t] === vaHi && (vaLo & 0xfff) <= 4096 - size) {
              const o = wHost[t] + (vaLo & 0xfff);
              switch (f3) {
                case 0: u8[o] = lo; break;
                case 1: if (o & 1) dv.setInt16(o, lo, true); else i16[o >>> 1] = lo; break;
                case 2: if (o & 3) dv.setInt32(o, lo, true); else i32[o >>> 2] = lo; break;
                default:
                  if (o & 7) { dv.setInt32(o, lo, true); dv.setInt32(o + 4, hi, true); }
                  else { i32[o >>> 2] = lo; i32[(o >>> 2) + 1] = hi; }
              }
            } else {
              h.storeSlow(vaLo, vaHi, size, lo, hi);
            }
            break;
          }

          case Op.OpImm: {
            const imm = insn >> 20;
            const aLo = x[r1], aHi = x[r1 + 1];
            switch (f3) {
              case 0: { // addi
                const lo = (aLo + imm) | 0;
                x[rd + 1] = (aHi + (imm >> 31) + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
                x[rd] = lo;
                break;
              }
              case 2: x[rd] = A.ltSigned(aLo, aHi, imm, imm >> 31) ? 1 : 0; x[rd + 1] = 0; break;
              case 3: x[rd] = A.ltUnsigned(aLo, aHi, imm, imm >> 31) ? 1 : 0; x[rd + 1] = 0; break;
              case 4: x[rd] = aLo ^ imm; x[rd + 1] = aHi ^ (imm >> 31); break;
              case 6: x[rd] = aLo | imm; x[rd + 1] = aHi | (imm >> 31); break;
              case 7: x[rd] = aLo & imm; x[rd + 1] = aHi & (imm >> 31); break;
              case 1:
                if ((insn >>> 26) === 0) { x[rd] = A.sll64(aLo, aHi, imm); x[rd + 1] = A.hi; }
                else opImmShiftLeft(h, insn, rd, aLo, aHi);
                break;
              default:
                if ((insn >>> 26) === 0) { x[rd] = A.srl64(aLo, aHi, imm); x[rd + 1] = A.hi; }
                else if ((insn >>> 26) === 0x10) { x[rd] = A.sra64(aLo, aHi, imm); x[rd + 1] = A.hi; }
                else opImmShiftRight(h, insn, rd, aLo, aHi);
                break;
            }
            break;
          }

          case Op.Op: {
            const funct7 = insn >>> 25;
            const aLo = x[r1], aHi = x[r1 + 1], bLo = x[r2], bHi = x[r2 + 1];
            if (funct7 === 0) {
              switch (f3) {
                case 0: { // add
                  const lo = (aLo + bLo) | 0;
                  x[rd + 1] = (aHi + bHi + ((lo >>> 0) < (aLo >>> 0) ? 1 : 0)) | 0;
                  x[rd] = lo;
                  break;
                }
                case 1: x[rd] = A.sll64(aLo, aHi, bLo); x[rd + 1] = A.hi; break;
                case 2: x[rd] = A.ltSigned(aLo, aHi, bLo, bHi) ? 1 : 0; x[rd + 1] = 0; break;
                case 3: x[rd] = A.ltUnsigned(aLo, aHi, bLo, bHi) ? 1 : 0; x[rd + 1] = 0; break;
                case 4: x[rd] = aLo ^ bLo; x[rd + 1] = aHi ^ bHi; break;
                case 5: x[rd] = A.srl64(aLo, aHi, bLo); x[rd + 1] = A.hi; break;
                case 6: x[rd] = aLo | bLo; x[rd + 1] = aHi | bHi; break;
                default: x[rd] = aLo & bLo; x[rd + 1] = aHi & bHi; break;
              }
            } else if (funct7 === 1 && f3 === 0) {
              x[rd] = A.mul64(aLo, aHi, bLo, bHi); x[rd + 1] = A.hi;
            } else if (funct7 === 0x20 && f3 === 0) {
              const lo = (aLo - bLo) | 0;
              x[rd + 1] = (aHi - bHi - ((aLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
              x[rd] = lo;
            } else {
              opOther(h, funct7, f3, rd, aLo, aHi, bLo, bHi);
            }
            break;
          }

          case Op.OpImm32: {
            const a = x[r1];
            let v: number;
            if (f3 === 0) v = (a + (insn >> 20)) | 0;
            else if (f3 === 1 && (insn >>> 26) === 0x02) { // slli.uw: the one 64-bit result here
              x[rd] = A.sll64(a, 0, (insn >>> 20) & 63);
              x[rd + 1] = A.hi;
              break;
            } else v = opImm32Other(h, insn, f3, a);
            x[rd] = v; x[rd + 1] = v >> 31;
            break;
          }

          case Op.Op32: {
            const funct7 = insn >>> 25;
            const a = x[r1], b = x[r2];
            let v: number;
            if (funct7 === 0) {
              if (f3 === 0) v = (a + b) | 0;
              else if (f3 === 1) v = a << (b & 31);
              else if (f3 === 5) v = a >>> (b & 31) | 0;
              else return h.raise(Cause.IllegalInsn);
              x[rd] = v; x[rd + 1] = v >> 31;
            } else if (funct7 === 0x20 && f3 === 0) {
              v = (a - b) | 0;
              x[rd] = v; x[rd + 1] = v >> 31;
            } else {
              op32Other(h, insn, funct7, f3, rd, a, b);
            }
            break;
          }

          case Op.MiscMem:
            // The interpreter always fetches from memory, so FENCE.I has nothing to drop.
            if (f3 > 1) h.raise(Cause.IllegalInsn);
            // The host (x86 TSO, or any) may let a later load pass an earlier store: a
            // FENCE ordering writes before reads is a full host fence when harts share
            // memory across threads (pred.W is bit 24, succ.R bit 21).
            if (f3 === 0 && (insn & 0x01200000) === 0x01200000 && h.mem.shared) h.mem.atomics.fence();
            // FENCE.I: code other threads wrote must be fetched from now on (their
            // writes are counted per page; the translator drops what they changed).
            if (f3 === 1 && h.mem.shared) h.mem.onFenceI?.();
            break;

          case Op.Amo:
            amo(h, insn, rd, r1, r2, f3);
            break;

          case Op.LoadFp: case Op.StoreFp: {
            if (!(w[MSTATUS] & Ms.FS) || (f3 !== 2 && f3 !== 3)) h.raise(Cause.IllegalInsn);
            const store = ((insn >> 2) & 31) === Op.StoreFp;
            const imm = store ? ((insn >> 25) << 5) | ((insn >> 7) & 31) : insn >> 20;
            const bLo = x[r1];
            const vaLo = (bLo + imm) | 0;
            const vaHi = (x[r1 + 1] + (imm >> 31) + ((vaLo >>> 0) < (bLo >>> 0) ? 1 : 0)) | 0;
            const size = f3 === 2 ? 4 : 8;
            const t = (vaLo >>> 12) & (TLB_SIZE - 1);
            const set = store ? ws : rs;
            const hit = set.tagLo[t] === (vaLo & -4096) && set.tagHi[t] === vaHi && (vaLo & 0xfff) <= 4096 - size;
            const o = set.host[t] + (vaLo & 0xfff);
            if (store) {
              if (!hit) h.storeSlow(vaLo, vaHi, size, fi[r2], fi[r2 + 1]);
              else if (size === 8 && (o & 7) === 0) { i32[o >>> 2] = fi[r2]; i32[(o >>> 2) + 1] = fi[r2 + 1]; }
              else h.writeHost(o, size, fi[r2], fi[r2 + 1]);
            } else {
              if (!hit) {
                fi[rd] = h.loadSlow(vaLo, vaHi, size);
                fi[rd + 1] = size === 4 ? -1 : h.ldHi;
              } else if (size === 8 && (o & 7) === 0) {
                fi[rd] = i32[o >>> 2];
                fi[rd + 1] = i32[(o >>> 2) + 1];
              } else {
                fi[rd] = dv.getInt32(o, true);
                fi[rd + 1] = size === 4 ? -1 : dv.getInt32(o + 4, true);
              }
              w[MSTATUS] |= Ms.FS;
            }
            break;
          }

          case Op.Madd: case Op.Msub: case Op.Nmsub: case Op.Nmadd: case Op.OpFp:
            if (!(w[MSTATUS] & Ms.FS) || !executeFp(h.s, insn)) h.raise(Cause.IllegalInsn);
            w[MSTATUS] |= Ms.FS;
            break;

          case Op.System: {
            if (f3 === 0) {
              const r = system(h, insn);
              if (r === SystemResult.Jump) { npcLo = w[PC]; npcHi = w[PC + 1]; }
              resync = r !== SystemResult.Next;
              break;
            }
            if (f3 === 4) h.raise(Cause.IllegalInsn);
            // Counters must include the instructions retired so far in this slice.
            addInstret(h, n - total);
            total = n;
            if (csrInstruction(h, insn, f3, rd, r1)) {
              // A counter written by this instruction reads back exactly what was written.
              const csr = insn >>> 20;
              if (csr === Csr.Minstret || csr === Csr.Mcycle) total = n + 1;
              // A CSR write may unmask an interrupt or change translation.
              resync = true;
            }
            break;
          }

          default:
            h.raise(Cause.IllegalInsn);
        }
        pcLo = npcLo;
        pcHi = npcHi;
        x[0] = 0;
        x[1] = 0;
        if (resync) {
          n++;
          break;
        }
      }
    } catch (e) {
      if (e !== TRAP) throw e;
      x[0] = 0;
      x[1] = 0;
      let tvalLo = h.trapTvalLo, tvalHi = h.trapTvalHi;
      if (h.trapCause === Cause.IllegalInsn) { tvalLo = raw; tvalHi = 0; }
      enterTrap(h, h.trapCause, false, pcLo, pcHi, tvalLo, tvalHi);
      pcLo = w[PC];
      pcHi = w[PC + 1];
      // A trap retires nothing but uses up budget, so a fault storm (say, a trap vector
      // that itself faults) still returns to the caller.
      budget--;
    }
  }
  w[PC] = pcLo;
  w[PC + 1] = pcHi;
  addInstret(h, n - total);
  return n;
}

const enum SystemResult { Next, Jump, Wait, Flush }

function system(h: Hart, insn: number): SystemResult {
  const w = h.w;
  const priv = w[PRIV];
  if (((insn >>> 25) === 0x09) && ((insn >> 7) & 31) === 0) { // sfence.vma
    if (priv === 0 || (priv === 1 && (w[MSTATUS] & Ms.TVM))) h.raise(Cause.IllegalInsn);
    // ASIDs are not cached apart, so rs2 changes nothing.
    const r1 = (insn >> 15) & 31;
    if (r1 === 0) h.flushTlb();
    else h.flushTlbPage(h.x[2 * r1], h.x[2 * r1 + 1]);
    return SystemResult.Flush;
  }
  if ((insn & 0x000fff80) !== 0) h.raise(Cause.IllegalInsn);
  switch (insn >>> 20) {
    case 0x000: return h.raise(priv === 0 ? Cause.EcallU : priv === 1 ? Cause.EcallS : Cause.EcallM);
    case 0x001: return h.raise(Cause.Breakpoint); // mtval 0, as QEMU 7.2 reports it
    case 0x302: mret(h); return SystemResult.Jump;
    case 0x102: sret(h); return SystemResult.Jump;
    case 0x105: // wfi
      if (priv === 0 || (priv === 1 && (w[MSTATUS] & Ms.TW))) h.raise(Cause.IllegalInsn);
      if (!wakeupPending(h)) h.waiting = true;
      return SystemResult.Wait;
  }
  return h.raise(Cause.IllegalInsn);
}

/** Executes a Zicsr instruction; returns whether it wrote the CSR. */
function csrInstruction(h: Hart, insn: number, f3: number, rd: number, r1: number): boolean {
  const x = h.x;
  const csr = insn >>> 20;
  const imm = f3 >= 5;
  const srcLo = imm ? (r1 >> 1) : x[r1];
  const srcHi = imm ? 0 : x[r1 + 1];
  const op = f3 & 3;
  // CSRRS/CSRRC with x0 (or uimm 0) do not write; CSRRW does.
  const writes = op === 1 || (r1 >> 1) !== 0;
  const oldLo = csrRead(h, csr);
  const oldHi = csrHi;
  if (writes) {
    let lo = srcLo, hi = srcHi;
    if (op === 2) { lo = oldLo | srcLo; hi = oldHi | srcHi; }
    else if (op === 3) { lo = oldLo & ~srcLo; hi = oldHi & ~srcHi; }
    csrWrite(h, csr, lo, hi);
  }
  x[rd] = oldLo;
  x[rd + 1] = oldHi;
  return writes;
}

function opImmShiftLeft(h: Hart, insn: number, rd: number, aLo: number, aHi: number): void {
  const x = h.x;
  const funct6 = insn >>> 26;
  const sh = (insn >>> 20) & 63;
  if (funct6 === 0) { x[rd] = A.sll64(aLo, aHi, sh); x[rd + 1] = A.hi; return; }
  if (funct6 === 0x0a || funct6 === 0x12 || funct6 === 0x1a) { // bseti, bclri, binvi
    const mLo = sh < 32 ? 1 << sh : 0, mHi = sh >= 32 ? 1 << (sh - 32) : 0;
    if (funct6 === 0x0a) { x[rd] = aLo | mLo; x[rd + 1] = aHi | mHi; }
    else if (funct6 === 0x12) { x[rd] = aLo & ~mLo; x[rd + 1] = aHi & ~mHi; }
    else { x[rd] = aLo ^ mLo; x[rd + 1] = aHi ^ mHi; }
    return;
  }
  if ((insn >>> 20) >= 0x600 && (insn >>> 20) <= 0x605) {
    let lo: number, hi: number;
    switch ((insn >>> 20) & 0x1f) {
      case 0: lo = A.clz64(aLo, aHi); hi = 0; break;
      case 1: lo = A.ctz64(aLo, aHi); hi = 0; break;
      case 2: lo = A.popcount32(aLo) + A.popcount32(aHi); hi = 0; break;
      case 4: lo = (aLo << 24) >> 24; hi = lo >> 31; break;
      case 5: lo = (aLo << 16) >> 16; hi = lo >> 31; break;
      default: return h.raise(Cause.IllegalInsn);
    }
    x[rd] = lo; x[rd + 1] = hi;
    return;
  }
  h.raise(Cause.IllegalInsn);
}

function opImmShiftRight(h: Hart, insn: number, rd: number, aLo: number, aHi: number): void {
  const x = h.x;
  const funct6 = insn >>> 26;
  const sh = (insn >>> 20) & 63;
  switch (funct6) {
    case 0x00: x[rd] = A.srl64(aLo, aHi, sh); x[rd + 1] = A.hi; return;
    case 0x10: x[rd] = A.sra64(aLo, aHi, sh); x[rd + 1] = A.hi; return;
    case 0x18: x[rd] = A.ror64(aLo, aHi, sh); x[rd + 1] = A.hi; return;
    case 0x12: { // bexti
      x[rd] = sh < 32 ? (aLo >>> sh) & 1 : (aHi >>> (sh - 32)) & 1;
      x[rd + 1] = 0;
      return;
    }
  }
  const funct12 = insn >>> 20;
  if (funct12 === 0x287) { x[rd] = A.orcb32(aLo); x[rd + 1] = A.orcb32(aHi); return; }
  if (funct12 === 0x6b8) { x[rd] = A.bswap32(aHi); x[rd + 1] = A.bswap32(aLo); return; }
  h.raise(Cause.IllegalInsn);
}

/** OP-32-immediate forms other than ADDIW; returns the 32-bit result to sign-extend. */
function opImm32Other(h: Hart, insn: number, f3: number, a: number): number {
  const funct7 = insn >>> 25;
  const sh = (insn >>> 20) & 31;
  if (f3 === 1) {
    if (funct7 === 0) return a << sh;
    if (funct7 === 0x30) {
      switch (sh) {
        case 0: return Math.clz32(a);
        case 1: return A.ctz32(a);
        case 2: return A.popcount32(a);
      }
    }
  } else if (f3 === 5) {
    if (funct7 === 0) return a >>> sh | 0;
    if (funct7 === 0x20) return a >> sh;
    if (funct7 === 0x30) return sh === 0 ? a : (a >>> sh) | (a << (32 - sh));
  }
  return h.raise(Cause.IllegalInsn);
}

function opOther(h: Hart, funct7: number, f3: number, rd: number, aLo: number, aHi: number, bLo: number, bHi: number): void {
  const x = h.x;
  let lo: number;
  let hi = 0;
  switch (funct7) {
    case 0x01: // M
      switch (f3) {
        case 0: lo = A.mul64(aLo, aHi, bLo, bHi); hi = A.hi; break;
        case 1: lo = A.mulh64(aLo, aHi, bLo, bHi); hi = A.hi; break;
        case 2: lo = A.mulhsu64(aLo, aHi, bLo, bHi); hi = A.hi; break;
        case 3: lo = A.mulhu64(aLo, aHi, bLo, bHi); hi = A.hi; break;
        case 4: lo = A.div64(aLo, aHi, bLo, bHi); hi = A.hi; break;
        case 5: lo = A.divu64(aLo, aHi, bLo, bHi); hi = A.hi; break;
        case 6: lo = A.rem64(aLo, aHi, bLo, bHi); hi = A.hi; break;
        default: lo = A.remu64(aLo, aHi, bLo, bHi); hi = A.hi; break;
      }
      break;
    case 0x20:
      if (f3 === 5) { lo = A.sra64(aLo, aHi, bLo); hi = A.hi; }
      else if (f3 === 7) { lo = aLo & ~bLo; hi = aHi & ~bHi; }
      else if (f3 === 6) { lo = aLo | ~bLo; hi = aHi | ~bHi; }
      else if (f3 === 4) { lo = ~(aLo ^ bLo); hi = ~(aHi ^ bHi); }
      else return h.raise(Cause.IllegalInsn);
      break;
    case 0x10: { // sh1add, sh2add, sh3add
      if (f3 !== 2 && f3 !== 4 && f3 !== 6) return h.raise(Cause.IllegalInsn);
      const s = A.sll64(aLo, aHi, f3 >> 1);
      lo = A.add64(s, A.hi, bLo, bHi); hi = A.hi;
      break;
    }
    case 0x05: {
      let pickA: boolean;
      switch (f3) {
        case 4: pickA = A.ltSigned(aLo, aHi, bLo, bHi); break; // min
        case 5: pickA = A.ltUnsigned(aLo, aHi, bLo, bHi); break; // minu
        case 6: pickA = !A.ltSigned(aLo, aHi, bLo, bHi); break; // max
        case 7: pickA = !A.ltUnsigned(aLo, aHi, bLo, bHi); break; // maxu
        default: return h.raise(Cause.IllegalInsn);
      }
      lo = pickA ? aLo : bLo; hi = pickA ? aHi : bHi;
      break;
    }
    case 0x30:
      if (f3 === 1) { lo = A.rol64(aLo, aHi, bLo); hi = A.hi; }
      else if (f3 === 5) { lo = A.ror64(aLo, aHi, bLo); hi = A.hi; }
      else return h.raise(Cause.IllegalInsn);
      break;
    case 0x24: case 0x14: case 0x34: {
      const sh = bLo & 63;
      const mLo = sh < 32 ? 1 << sh : 0, mHi = sh >= 32 ? 1 << (sh - 32) : 0;
      if (funct7 === 0x24 && f3 === 1) { lo = aLo & ~mLo; hi = aHi & ~mHi; } // bclr
      else if (funct7 === 0x24 && f3 === 5) { lo = ((sh < 32 ? aLo >>> sh : aHi >>> (sh - 32)) & 1); hi = 0; } // bext
      else if (funct7 === 0x14 && f3 === 1) { lo = aLo | mLo; hi = aHi | mHi; } // bset
      else if (funct7 === 0x34 && f3 === 1) { lo = aLo ^ mLo; hi = aHi ^ mHi; } // binv
      else return h.raise(Cause.IllegalInsn);
      break;
    }
    default:
      return h.raise(Cause.IllegalInsn);
  }
  x[rd] = lo;
  x[rd + 1] = hi;
}

function op32Other(h: Hart, insn: number, funct7: number, f3: number, rd: number, a: number, b: number): void {
  const x = h.x;
  let v: number;
  switch (funct7) {
    case 0x01:
      switch (f3) {
        case 0: v = Math.imul(a, b); break;
        case 4: v = A.divw(a, b); break;
        case 5: v = A.divuw(a, b); break;
        case 6: v = A.remw(a, b); break;
        case 7: v = A.remuw(a, b); break;
        default: return h.raise(Cause.IllegalInsn);
      }
      break;
    case 0x20:
      if (f3 === 5) v = a >> (b & 31);
      else return h.raise(Cause.IllegalInsn);
      break;
    case 0x30:
      if (f3 === 1) { const s = b & 31; v = s === 0 ? a : (a << s) | (a >>> (32 - s)); }
      else if (f3 === 5) { const s = b & 31; v = s === 0 ? a : (a >>> s) | (a << (32 - s)); }
      else return h.raise(Cause.IllegalInsn);
      break;
    case 0x04:
      if (f3 === 0) { // add.uw: rs2 + zext(rs1[31:0])
        const bLo = x[((insn >> 19) & 62)], bHi = x[((insn >> 19) & 62) + 1];
        const lo = A.add64(a, 0, bLo, bHi);
        x[rd] = lo; x[rd + 1] = A.hi;
        return;
      }
      if (f3 === 4 && ((insn >> 20) & 31) === 0) { x[rd] = a & 0xffff; x[rd + 1] = 0; return; } // zext.h
      return h.raise(Cause.IllegalInsn);
    case 0x10: { // shNadd.uw
      if (f3 !== 2 && f3 !== 4 && f3 !== 6) return h.raise(Cause.IllegalInsn);
      const s = A.sll64(a, 0, f3 >> 1);
      const r2 = (insn >> 19) & 62;
      const lo = A.add64(s, A.hi, x[r2], x[r2 + 1]);
      x[rd] = lo; x[rd + 1] = A.hi;
      return;
    }
    default:
      return h.raise(Cause.IllegalInsn);
  }
  x[rd] = v;
  x[rd + 1] = v >> 31;
}

function amo(h: Hart, insn: number, rd: number, r1: number, r2: number, f3: number): void {
  const x = h.x, w = h.w;
  if (f3 !== 2 && f3 !== 3) h.raise(Cause.IllegalInsn);
  const size = f3 === 2 ? 4 : 8;
  const funct5 = insn >>> 27;
  const vaLo = x[r1], vaHi = x[r1 + 1];
  if (funct5 === 0x02) { // lr
    if (r2 !== 0) h.raise(Cause.IllegalInsn);
    if (vaLo & (size - 1)) h.raise(Cause.LoadMisaligned, vaLo, vaHi);
    const lo = h.loadSlow(vaLo, vaHi, size);
    const hi = size === 4 ? lo >> 31 : h.ldHi;
    x[rd] = lo;
    x[rd + 1] = hi;
    w[RESERVATION] = vaLo;
    w[RESERVATION + 1] = vaHi & 0x7fffffff;
    w[RESERVED_VALUE] = lo;
    w[RESERVED_VALUE + 1] = hi;
    return;
  }
  if (funct5 === 0x03) { // sc
    if (vaLo & (size - 1)) h.raise(Cause.StoreMisaligned, vaLo, vaHi);
    const reserved = w[RESERVATION] === vaLo && w[RESERVATION + 1] === (vaHi & 0x7fffffff);
    // The store's permission is checked whether or not it succeeds.
    const host = h.amoHost(vaLo, vaHi, size);
    w[RESERVATION + 1] = -1;
    // Memory must still hold what LR read: a store by another hart in between fails it.
    const ops = h.mem.atomics;
    const ok = reserved && (size === 4
      ? ops.cas32(host, w[RESERVED_VALUE], x[r2])
      : ops.cas64(host, w[RESERVED_VALUE], w[RESERVED_VALUE + 1], x[r2], x[r2 + 1])) === 1;
    x[rd] = ok ? 0 : 1;
    x[rd + 1] = 0;
    return;
  }
  const op = amoOpOf(funct5);
  if (op < 0) return h.raise(Cause.IllegalInsn);
  const host = h.amoHost(vaLo, vaHi, size);
  const ops = h.mem.atomics;
  if (size === 4) {
    const old = ops.amo32[op](host, x[r2]);
    x[rd] = old;
    x[rd + 1] = old >> 31;
  } else {
    x[rd] = ops.amo64[op](host, x[r2], x[r2 + 1]);
    x[rd + 1] = ops.hi();
  }
}


