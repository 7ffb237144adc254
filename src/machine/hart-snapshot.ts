// Save and restore of a hart and of rvisor's SBI. They live in the machine layer rather
// than in src/cpu and src/firmware because SnapshotError sits in the devices layer, which
// those layers do not depend on; both are saved through their public state.
//
// A hart is its state buffer (state.ts: registers, pc, privilege, every CSR, the LR/SC
// reservation), its PMP registers and its WFI flag. The TLBs and the fetch cache are
// derived and are flushed on restore, never saved. The SBI's only state is each hart's
// HSM state: pending IPIs (SSIP) and timers (stimecmp) are in the harts' CSRs.

import { PRIV, type Hart } from '../cpu/hart.js';
import { PMP_ENTRIES } from '../cpu/pmp.js';
import { Slot, STATE_BYTES, slotIndex } from '../cpu/state.js';
import { StateReader } from '../devices/snapshot.js';
import { HsmState, type Sbi } from '../firmware/sbi.js';

export interface HartSnapshot {
  /** The HartState bytes, little-endian, in state.ts's layout. */
  state: Uint8Array;
  pmp: { cfg: number; addrLo: number; addrHi: number }[];
  /** Waiting in WFI (or parked by SBI HSM). */
  waiting: boolean;
}

export interface SbiSnapshot {
  /** HSM state of each hart: 0 started, 1 stopped, 4 suspended. */
  hsm: number[];
  /** STA per hart: the registered structure's address (-1: none), the steal total and
   *  the part of it before registration, in nanoseconds. */
  sta: { shmem: number[]; steal: number[]; reported: number[] };
}

const MISA = slotIndex(Slot.Misa), MHARTID = slotIndex(Slot.Mhartid), SATP = slotIndex(Slot.Satp);
const MSTATUS = slotIndex(Slot.Mstatus), FCSR = slotIndex(Slot.Fcsr);
const PMP_CFG_BITS = 0x9f, PMP_R = 1, PMP_W = 2;

function stateBytes(h: Hart): Uint8Array {
  return new Uint8Array(h.s.w.buffer, h.s.w.byteOffset, STATE_BYTES);
}

export function saveHart(h: Hart): HartSnapshot {
  return {
    state: stateBytes(h).slice(),
    pmp: Array.from({ length: PMP_ENTRIES }, (_, i) => ({ cfg: h.pmp.cfg[i], addrLo: h.pmp.addrLo[i] >>> 0, addrHi: h.pmp.addrHi[i] })),
    waiting: h.waiting,
  };
}

/** Checks the state against what this hart is (id, ISA) and against values the hart can
 *  never hold, then applies it and drops every cached translation. */
export function restoreHart(h: Hart, snapshot: unknown, where: string): void {
  const r: StateReader = StateReader.of(snapshot, where);
  const bytes = r.bytes('state', STATE_BYTES);
  const w = new Int32Array(bytes.slice().buffer);
  const mine = h.s.w;
  if (w[MISA] !== mine[MISA] || w[MISA + 1] !== mine[MISA + 1]) r.fail('state', 'misa differs: the snapshot is of another CPU');
  if (w[MHARTID] !== mine[MHARTID] || w[MHARTID + 1] !== 0) r.fail('state', `mhartid is ${w[MHARTID]}, this hart is ${mine[MHARTID]}`);
  if (w[0] !== 0 || w[1] !== 0) r.fail('state', 'x0 is not zero');
  if (![0, 1, 3].includes(w[PRIV]) || w[PRIV + 1] !== 0) r.fail('state', `privilege ${w[PRIV]} does not exist`);
  if (![0, 8, 9, 10].includes(w[SATP + 1] >>> 28)) r.fail('state', `satp mode ${w[SATP + 1] >>> 28} is not implemented`);
  if (((w[MSTATUS] >>> 11) & 3) === 2) r.fail('state', 'mstatus.MPP is the reserved value 2');
  if (w[FCSR] >>> 5 !== 0 || w[FCSR + 1] >>> 3 !== 0) r.fail('state', 'fcsr has bits past fflags and frm');
  const pmp = r.objects('pmp', PMP_ENTRIES).map((e) => {
    const cfg = e.int('cfg', 0, 0xff);
    if (cfg & ~PMP_CFG_BITS || (cfg & (PMP_R | PMP_W)) === PMP_W) e.fail('cfg', `0x${cfg.toString(16)} is not a legal pmpcfg value`);
    return { cfg, addrLo: e.int('addrLo', 0, 0xffff_ffff) | 0, addrHi: e.int('addrHi', 0, 0x3f_ffff) };
  });
  const waiting = r.bool('waiting');

  stateBytes(h).set(bytes);
  // Reset first so that locked entries take the snapshot's values; addresses before
  // configurations so that a lock set by a cfg cannot block its own address.
  h.pmp.reset();
  pmp.forEach((e, i) => h.pmp.writeAddr(i, e.addrLo, e.addrHi));
  pmp.forEach((e, i) => h.pmp.writeCfg(i, e.cfg));
  h.waiting = waiting;
  h.flushTlb();
}

export function saveSbi(sbi: Sbi): SbiSnapshot {
  return { hsm: Array.from(sbi.hsm), sta: { shmem: Array.from(sbi.sta.shmem), steal: Array.from(sbi.sta.steal), reported: Array.from(sbi.sta.reported) } };
}

export function restoreSbi(sbi: Sbi, snapshot: unknown): void {
  const r = StateReader.of(snapshot, 'sbi');
  const hsm = r.ints('hsm', sbi.hsm.length, 0, 6);
  hsm.forEach((s, i) => {
    if (s !== HsmState.Started && s !== HsmState.Stopped && s !== HsmState.Suspended) r.fail(`hsm[${i}]`, `HSM state ${s} is never stored`);
  });
  // A snapshot from before STA has no `sta`: no structures registered, nothing stolen.
  const n = sbi.hsm.length, MAX = Number.MAX_SAFE_INTEGER;
  const sta = r.has('sta') ? r.object('sta') : undefined;
  const shmem = sta ? sta.ints('shmem', n, -1, MAX) : new Array<number>(n).fill(-1);
  const steal = sta ? sta.ints('steal', n, 0, MAX) : new Array<number>(n).fill(0);
  const reported = sta ? sta.ints('reported', n, 0, MAX) : new Array<number>(n).fill(0);
  shmem.forEach((a, i) => { if (a !== -1 && a % 64 !== 0) sta?.fail(`shmem[${i}]`, 'not 64-byte aligned'); });
  reported.forEach((v, i) => { if (v > steal[i]) sta?.fail(`reported[${i}]`, 'more than the steal total'); });
  sbi.hsm.set(hsm);
  sbi.sta.shmem.set(shmem);
  sbi.sta.steal.set(steal);
  sbi.sta.reported.set(reported);
}
