// runJit: the executor loop. At every block boundary it maps the pc through the fetch TLB
// (so mappings, satp and privilege are checked exactly as the interpreter checks them),
// runs the block's translation when there is one, and the interpreter otherwise: cold
// code, and every instruction the translator leaves out (most CSRs, system, FENCE.I, LR/SC,
// FP). Untranslatable loops (FP) get ever longer interpreted stretches, so they run at the
// interpreter's speed rather than paying this loop's overhead on every iteration.

import { HART_TLB, Hart, MSTATUS, PC, PRIV } from '../cpu/hart.js';
import { addInstret, execute } from '../cpu/interp.js';
import { Access } from '../cpu/pmp.js';
import { enterTrap, pendingInterrupt, wakeupPending } from '../cpu/priv.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { TRAP } from '../cpu/trap.js';
import { Entry, jitOf } from './cache.js';

const MIE = slotIndex(Slot.Mie), MIP = slotIndex(Slot.Mip), STIMECMP = slotIndex(Slot.Stimecmp);
const SET_BYTES = 256 * 4;
const SCR_RETIRED = 2, SCR_EXIT = 3, SCR_CSRS = 8, SCR_RECHECK = 9;

/**
 * Runs up to `budget` instructions, as execute() does (fewer when the hart starts waiting
 * in WFI or is asked to stop); returns the number retired. Interrupts are taken between
 * blocks that the runtime sees after an interpreted stretch or a trap, which is where the
 * interpreter takes them too (at slice starts and after CSR writes, xRET and traps).
 */
export function runJit(h: Hart, budget: number): number {
  if (h.area < 0) return execute(h, budget);
  const jit = jitOf(h.mem);
  jit.enter(h);
  jit.age(performance.now());
  const w = h.w;
  const st = h.area;
  const c = jit.counters;
  if (h.waiting) {
    if (!wakeupPending(h)) return 0;
    h.waiting = false;
  }
  let n = 0;
  let checkIrq = true;
  /** The untranslatable entry interpreted last, while nothing else ran since. */
  let last: Entry | undefined;
  const attention = h.attention;
  while (n < budget && !h.waiting && !h.stopRequested && Atomics.load(attention, 0) === 0) {
    if (checkIrq) {
      const irq = pendingInterrupt(h);
      if (irq >= 0) enterTrap(h, irq, true, w[PC], w[PC + 1], 0, 0);
      checkIrq = false;
    }
    const pcLo = w[PC], pcHi = w[PC + 1];
    let host: number;
    if ((pcLo & -4096) === h.fetchTagLo && pcHi === h.fetchTagHi) host = h.fetchHost + (pcLo & 0xfff);
    else {
      try {
        host = h.fetchSlow(pcLo, pcHi);
      } catch (e) {
        if (e !== TRAP) throw e;
        // Let the interpreter deliver the fetch fault exactly.
        host = -1;
      }
    }
    if (host < 0) {
      const r = execute(h, 1);
      n += r;
      if (r === 0) budget--; // a fault storm still ends the call, as in the interpreter
      continue;
    }
    const e = jit.entry(host);
    if (e.slot >= 0 && e.trans <= budget - n) {
      c.cacheHits++;
      const ctx = h.dataContext();
      const rset = st + HART_TLB + (ctx * 3 + Access.Read) * SET_BYTES;
      const dlo = (pcLo - host) | 0;
      const dhi = (pcHi - ((pcLo >>> 0) < host ? 1 : 0)) | 0;
      const scr = jit.scr;
      Atomics.store(scr, SCR_EXIT, 0);
      scr[SCR_CSRS] = 0;
      scr[SCR_RECHECK] = 0;
      // Another thread's poke() sets attention, then the exit flag: looked at after
      // clearing the flag, one of the two is always seen.
      if (Atomics.load(attention, 0) !== 0) break;
      const p = w[PRIV];
      const fset = st + HART_TLB + ((p === 3 ? 3 : p === 0 ? 0 : 1) * 3 + Access.Fetch) * SET_BYTES;
      jit.publish(host, e);
      let r: number;
      try {
        r = jit.call(e.slot, Math.min(budget - n, 0x7fffffff), st, rset, rset + SET_BYTES, dlo, dhi, fset, host);
      } catch (ex) {
        if (ex !== TRAP) throw ex;
        // The state is exact at the faulting instruction (pc, registers, retired count).
        r = scr[SCR_RETIRED];
        c.faults++;
        addInstret(h, r - scr[SCR_CSRS]);
        n += r;
        enterTrap(h, h.trapCause, false, w[PC], w[PC + 1], h.trapTvalLo, h.trapTvalHi);
        budget--;
        checkIrq = true;
        last = undefined;
        continue;
      }
      // CSR instructions counted in r already had instret added by the interpreter.
      addInstret(h, r - scr[SCR_CSRS]);
      n += r;
      last = undefined;
      if (scr[SCR_RECHECK]) checkIrq = true;
      continue;
    }
    if (e.trans > 0 && ++e.hits >= jit.threshold && e.slot < 0) {
      jit.compile(host);
      if (e.slot >= 0) continue;
    }
    c.interpreted++;
    let k = e.interpCount;
    if (e.trans === 0) {
      c.untranslatable++;
      if (e === last) k = e.stretch = Math.min(e.stretch * 2, 1024);
      last = e;
    }
    // An interrupt the interpreted instructions enable (CSR write, xRET, trap) is taken
    // right away, as the interpreter would; the state it depends on is compared rather
    // than pendingInterrupt() called, which reads the clock.
    const ms = w[MSTATUS], mie = w[MIE], mip = w[MIP], priv = w[PRIV], cmp = w[STIMECMP];
    const before = n;
    n += execute(h, Math.min(k, budget - n));
    if (n === before) budget--;
    checkIrq = ms !== w[MSTATUS] || mie !== w[MIE] || mip !== w[MIP] || priv !== w[PRIV] || cmp !== w[STIMECMP];
  }
  return n;
}

