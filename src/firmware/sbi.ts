// rvisor's SBI (v2.0): the VMM plays the M-mode firmware. Every trap that would enter
// M-mode comes to Sbi.onTrap instead: ECALLs from S-mode are SBI calls, other exceptions
// are redirected to S-mode, stray M-level interrupts are masked. Extensions live one per
// file; this file dispatches on the extension id and keeps the HSM state of every hart.

import type { Hart, MachineModeFirmware } from '../cpu/hart.js';
import { PRIV } from '../cpu/hart.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { Cause } from '../cpu/trap.js';
import { A0, A6, A7, argLo, ret, SbiErr, setPcAfter, setReg } from './abi.js';
import { base } from './base.js';
import type { BootObserver } from './boot.js';
import { dbcn, legacyGetchar, legacyPutchar } from './console.js';
import { HsmState, type SbiContext, type SbiExtension, type SbiPlatform } from './context.js';
import { hsm, park } from './hsm.js';
import { ipi, legacyClearIpi, rfence } from './ipi.js';
import { dismissInterrupt, redirectToS } from './redirect.js';
import { legacyShutdown, srst } from './srst.js';
import { sta, StealTime } from './sta.js';
import { legacySetTimer, time } from './time.js';

export { bootHartInSMode, resetHartForSbi, SBI_MEDELEG, SBI_MIDELEG } from './boot.js';
export { HsmState, type SbiPlatform } from './context.js';
export { IMPL_ID, IMPL_VERSION, SPEC_VERSION } from './base.js';
export { SbiErr, Eid } from './abi.js';

const MHARTID = slotIndex(Slot.Mhartid);

const EXTENSIONS: readonly SbiExtension[] = [
  base, time, ipi, rfence, hsm, srst, dbcn, sta,
  legacySetTimer, legacyPutchar, legacyGetchar, legacyClearIpi, legacyShutdown,
];

/** EIDs below this are the v0.1 legacy extensions, which return a0 only. */
const FIRST_V02_EID = 0x10;

export interface SbiOptions {
  /** The hart that is running when the machine starts (default 0); all others start
   *  STOPPED and wait for HSM hart_start. */
  bootHartId?: number;
  /** With a thread per hart: the hart this thread runs (the others in `harts` are views
   *  of theirs), and the HSM states all threads share, already set up. */
  thread?: { self: number; hsm: Uint8Array };
}

export class Sbi implements MachineModeFirmware, SbiContext, BootObserver {
  readonly hsm: Uint8Array;
  readonly sta: StealTime;
  private readonly ids = new Map<Hart, number>();
  private readonly extensions = new Map<number, SbiExtension>();
  /** The one hart of this thread's that this firmware runs (undefined: all of them). */
  private readonly self: number | undefined;

  /**
   * `harts[i]` is hart i. Installs itself as every hart's firmware. The boot hart is
   * considered started (the VMM puts it in S-mode with bootHartInSMode); the others are
   * stopped and parked until the guest starts them.
   */
  constructor(readonly harts: readonly Hart[], readonly platform: SbiPlatform, opts: SbiOptions = {}) {
    const boot = opts.bootHartId ?? 0;
    this.self = opts.thread?.self;
    this.hsm = opts.thread?.hsm ?? new Uint8Array(harts.length);
    this.sta = new StealTime(harts.length);
    harts.forEach((h, i) => {
      this.ids.set(h, i);
      if (this.self !== undefined) {
        // Another thread's hart is its firmware's business, and HSM is set up already.
        if (i === this.self) h.firmware = this;
        return;
      }
      h.firmware = this;
      if (i === boot) {
        this.hsm[i] = HsmState.Started;
      } else {
        this.hsm[i] = HsmState.Stopped;
        park(h);
      }
    });
    for (const e of EXTENSIONS) this.extensions.set(e.eid, e);
  }

  /** HSM state of a hart (hartid must exist). */
  status(hartid: number): HsmState {
    const s = this.hsm[hartid] as HsmState;
    // A suspend is a wait: once an interrupt ended it, the hart is running again (only
    // a hart's own thread knows whether it still waits).
    if (s === HsmState.Suspended && (this.self === undefined || hartid === this.self) && !this.harts[hartid].waiting) {
      this.hsm[hartid] = HsmState.Started;
      return HsmState.Started;
    }
    return s;
  }

  /** Whether the machine's run loop should execute the hart: anything but STOPPED
   *  (a suspended hart waits inside execute() like WFI). */
  isRunning(hartid: number): boolean {
    return this.hsm[hartid] !== HsmState.Stopped;
  }

  hartId(h: Hart): number {
    return this.ids.get(h) ?? h.w[MHARTID];
  }

  /** The VMM withheld hart `hartid` for `ns` nanoseconds while it was ready to run. */
  addSteal(hartid: number, ns: number): void {
    this.sta.add(this.harts[hartid], hartid, ns);
  }

  probe(eid: number): number {
    return this.extensions.has(eid) ? 1 : 0;
  }

  onHartBooted(h: Hart): void {
    const id = this.ids.get(h);
    if (id !== undefined) this.hsm[id] = HsmState.Started;
  }

  onTrap(h: Hart, cause: number, interrupt: boolean, pcLo: number, pcHi: number, tvalLo: number, tvalHi: number): boolean {
    // A trap from M-mode means real M-mode code is running: it has its own handler.
    if (h.w[PRIV] === 3) return false;
    if (interrupt) dismissInterrupt(h, cause, pcLo, pcHi);
    else if (cause === Cause.EcallS) this.call(h, pcLo, pcHi);
    else redirectToS(h, cause, pcLo, pcHi, tvalLo, tvalHi);
    return true;
  }

  private call(h: Hart, pcLo: number, pcHi: number): void {
    setPcAfter(h, pcLo, pcHi);
    const eid = argLo(h, A7);
    const ext = this.extensions.get(eid);
    if (ext) ext.call(this, h, argLo(h, A6));
    else if (eid >= 0 && eid < FIRST_V02_EID) setReg(h, A0, SbiErr.NotSupported);
    else ret(h, SbiErr.NotSupported);
  }
}
