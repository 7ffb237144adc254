// What every extension handler sees: the harts (index = hartid), the platform the VMM
// provides, and the HSM state of each hart.

import type { Hart } from '../cpu/hart.js';
import type { StealTime } from './sta.js';

/** What the VMM provides to the firmware. Everything here must work in a browser. */
export interface SbiPlatform {
  /** Bytes the guest writes to the debug console (the array is the firmware's copy). */
  consoleWrite(bytes: Uint8Array): void;
  /** The next byte typed on the console, or -1 when there is none (never blocks). */
  consoleRead(): number;
  /** SRST (and legacy shutdown): type 0 shutdown, 1 cold reboot, 2 warm reboot; reason 0
   *  none, 1 system failure. The VMM decides what happens (stop the run loop, rebuild the
   *  machine...) and must return; it never exits the process. By the time it is called the
   *  calling hart is already stopped (HSM STOPPED), so a VMM that merely flags the request
   *  and stops later does not see the guest run past its reset call. A VMM that reboots in
   *  place calls bootHartInSMode() again, which marks that hart started. */
  systemReset(type: number, reason: number): void;
  /** The platform clock in timebase ticks (the same clock as the harts' TimeSource). The
   *  SBI calls implemented today take time from the harts; this is for extensions that
   *  need the clock without a hart at hand. */
  mtime(): number;
  /** Present when each hart runs on its own thread: a hart's reset and TLB are its own
   *  thread's, so starting one and fencing one are requests to that thread. */
  threads?: SbiThreads;
}

/** Requests to harts on other threads (machine/smp). */
export interface SbiThreads {
  /** Hart `id` is STOPPED: marks it START_PENDING, and its thread resets it and starts
   *  it in S-mode at `addr` with a1 = opaque. */
  startHart(id: number, addr: number, opaque: bigint): void;
  /** Flushes the TLBs (and fetch paths) of harts `ids` and returns once each did. */
  fence(ids: readonly number[]): void;
}

/** HSM hart states (SBI v2.0, table "HSM Hart States"). */
export const enum HsmState {
  Started = 0,
  Stopped = 1,
  StartPending = 2,
  StopPending = 3,
  Suspended = 4,
  SuspendPending = 5,
  ResumePending = 6,
}

export interface SbiContext {
  readonly harts: readonly Hart[];
  readonly platform: SbiPlatform;
  /** HSM state of each hart. Only Started, Stopped and Suspended are ever stored: every
   *  transition completes inside the call that asks for it. */
  readonly hsm: Uint8Array;
  /** The HSM state as the guest should see it now (a suspended hart an interrupt woke is
   *  started again). */
  status(hartid: number): HsmState;
  /** hartid of a hart of this machine. */
  hartId(h: Hart): number;
  /** probe_extension's answer for an extension id. */
  probe(eid: number): number;
  /** STA: each hart's steal-time structure and totals. */
  readonly sta: StealTime;
}

/** One SBI extension: `call` serves function `fid`. The dispatcher has already set the
 *  return pc to the instruction after the ECALL; a handler that sends the hart elsewhere
 *  (stop, non-retentive suspend) overrides it. */
export interface SbiExtension {
  readonly eid: number;
  call(ctx: SbiContext, h: Hart, fid: number): void;
}
