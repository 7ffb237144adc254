// One hart of a virt machine on its own thread (a worker; no platform API here): the
// guest's memory, this hart's area and the clock are shared with the VM's thread, MMIO
// goes to the devices there through the hart's mailbox, and rvisor's SBI runs here for
// this hart (it reaches the other harts through their areas and their threads).
//
// The loop: run a slice; between slices do what other threads asked (a remote fence, a
// pause, a start); when the hart waits in WFI, sleep on its doorbell until an interrupt
// rings it or its own timer (stimecmp) is due. No polling: an idle hart costs nothing.

import { Hart } from '../../cpu/hart.js';
import { execute } from '../../cpu/interp.js';
import { GuestMemory, type SharedGuestMemory } from '../../cpu/memory.js';
import { Slot, slotIndex } from '../../cpu/state.js';
import { HsmState } from '../../firmware/context.js';
import { Sbi, resetHartForSbi } from '../../firmware/sbi.js';
import { enterSMode } from '../../firmware/boot.js';
import { jitOf, runJit } from '../../jit/index.js';
import { HostClock, hostMs } from '../clock.js';
import { VIRT } from '../virt-map.js';
import { RunState, SmpControl, type ControlMemory } from './control.js';
import { MailboxBus, type MailboxMemory } from './mailbox.js';

/** Instructions between looks at requests (about a millisecond of guest code). */
const SLICE = 20_000;
/** A CPU limit sleeps in pieces of at least this many ms. */
const THROTTLE_MIN_MS = 10;
/** Longest sleep before a hart looks at its requests again without being rung. */
const MAX_SLEEP_MS = 1000;
/** A remote fence waits for its targets in naps this long, doing its own fences between
 *  (two harts may be fencing each other). */
const FENCE_NAP_MS = 0.1;

const STIMECMP = slotIndex(Slot.Stimecmp), MENVCFG = slotIndex(Slot.Menvcfg);

/** Everything a hart thread needs, all of it transferable to a worker. */
export interface HartThreadInit {
  hart: number;
  /** Every hart's area in the shared memory (index = hartid). */
  areas: number[];
  memory: SharedGuestMemory;
  clock: Float64Array;
  control: ControlMemory;
  mailbox: MailboxMemory;
  exec: 'interp' | 'jit';
  /** rvisor's SBI plays the M-mode firmware (else real firmware runs in M-mode). */
  sbi: boolean;
  /** The boot hart with rvisor's SBI: the kernel's entry and the device tree. */
  boot?: { entry: number; dtb: number };
}

/** What a hart thread tells the VM's thread (a worker message). */
export type HartThreadEvent =
  | { type: 'console'; bytes: Uint8Array }
  /** SBI system reset: 0 shutdown, 1 cold, 2 warm reboot. */
  | { type: 'reset'; resetType: number }
  | { type: 'exit'; instructions: number };

export function runHartThread(init: HartThreadInit, post: (e: HartThreadEvent) => void): void {
  const control = new SmpControl(init.control);
  const self = init.hart;
  const mem = GuestMemory.attach(init.memory);
  const clock = new HostClock(VIRT.timebaseHz, init.clock);
  const bus = new MailboxBus(init.mailbox, self, () => control.run === RunState.Stopping);
  const hart = new Hart(mem, { area: init.areas[self], bus, time: clock });
  const views = init.areas.map((area, i) => (i === self ? hart : new Hart(mem, { area, time: clock })));
  // A remote fence this thread asked for, or must do: the TLB, the fetch page, and the
  // translations of pages other threads wrote.
  const doFence = () => {
    const seq = control.pendingFence(self);
    if (seq === undefined) return;
    hart.flushTlb();
    if (init.exec === 'jit') jitOf(mem).syncForeignWrites();
    control.ackFence(self, seq);
  };
  let sbi: Sbi | undefined;
  if (init.sbi) {
    sbi = new Sbi(views, {
      consoleWrite: (bytes) => post({ type: 'console', bytes: bytes.slice() }),
      consoleRead: () => -1,
      systemReset: (resetType) => post({ type: 'reset', resetType }),
      mtime: () => clock.mtime(),
      threads: {
        startHart: (id, addr, opaque) => {
          control.setStart(id, addr, opaque);
          Atomics.store(control.hsm, id, HsmState.StartPending);
          views[id].ring();
        },
        fence: (ids) => {
          const waits = ids.map((id) => ({ id, seq: control.requestFence(id) }));
          for (const { id } of waits) views[id].poke();
          for (const { id, seq } of waits) {
            while (!control.fenceDone(id, seq)) {
              doFence();
              control.waitFence(id, seq, FENCE_NAP_MS);
            }
          }
        },
      },
    }, { thread: { self, hsm: control.hsm } });
    if (init.boot) {
      resetHartForSbi(hart, self);
      enterSMode(hart, BigInt(init.boot.entry), BigInt(self), BigInt(init.boot.dtb));
    }
  }
  if (init.exec === 'jit') jitOf(mem).peers = views.filter((v) => v !== hart);
  const step = init.exec === 'jit' ? runJit : execute;
  const throttle = new Throttle(control, self);
  let instructions = 0;
  for (;;) {
    // The doorbell first: a request made after this read rings it again, so a sleep
    // below cannot miss it; one made before is seen by the looks that follow.
    const seen = Atomics.load(hart.doorbell, 0);
    const run = control.run;
    if (run === RunState.Stopping) break;
    Atomics.store(hart.attention, 0, 0);
    doFence();
    if (run === RunState.Paused || (sbi && !startedOrStart(sbi, control, hart, self))) {
      control.setParked(self, true);
      Atomics.wait(hart.doorbell, 0, seen, MAX_SLEEP_MS);
      continue;
    }
    control.setParked(self, false);
    if (throttle.hold(hart, sbi, seen)) continue;
    const t0 = performance.now();
    instructions += step(hart, SLICE);
    const ran = performance.now() - t0;
    control.addBusy(self, ran);
    // A suspended hart that an interrupt woke is started again (its own thread's call).
    sbi?.status(self);
    if (hart.waiting) Atomics.wait(hart.doorbell, 0, seen, sleepMs(hart, clock));
    else throttle.charge();
  }
  control.setParked(self, true);
  post({ type: 'exit', instructions });
}

/** The VM's CPU limit, kept by each hart thread against the harts' total: the VM may use
 *  `limit` host cores in all, however its harts share them. Each thread follows the total
 *  busy time of all harts against limit x elapsed time; when the VM is over, it holds
 *  every hart back until the debt is paid (a gang: they sleep and run together, like the
 *  single-thread board does). Holding back one hart at a time instead slowed SMP guests
 *  badly: a hart asleep while it held a lock left the others spinning for it. The time a
 *  ready hart is held back is its steal time, told to the guest (STA). */
class Throttle {
  private debtMs = 0;
  private lastTotal = -1;
  private lastNow = 0;

  constructor(private readonly control: SmpControl, private readonly self: number) {}

  /** After a slice: adds it up, and holds the VM back when it is over its limit. */
  charge(): void {
    const limit = this.control.cpuLimit;
    const now = hostMs();
    let total = 0;
    for (let i = 0; i < this.control.harts; i++) total += this.control.busyMs(i);
    if (limit >= this.control.harts || this.lastTotal < 0) {
      this.debtMs = 0;
    } else {
      this.debtMs += (total - this.lastTotal) - limit * (now - this.lastNow);
      // Time the VM left unused is not saved up for a later burst.
      if (this.debtMs < -THROTTLE_MIN_MS) this.debtMs = -THROTTLE_MIN_MS;
    }
    this.lastTotal = total;
    this.lastNow = now;
    if (this.debtMs >= THROTTLE_MIN_MS) this.control.holdUntil(now + this.debtMs / Math.max(limit, 0.01));
  }

  /** Sleeps while the VM is held back (a poke ends the sleep early: the loop looks at
   *  its requests and comes back); returns whether it did. */
  hold(hart: Hart, sbi: Sbi | undefined, seen: number): boolean {
    const until = this.control.heldUntil;
    const t0 = hostMs();
    if (until <= t0) return false;
    Atomics.wait(hart.doorbell, 0, seen, until - t0);
    const slept = hostMs() - t0;
    this.control.addStolen(this.self, slept);
    sbi?.addSteal(this.self, slept * 1e6);
    return true;
  }
}

/** With rvisor's SBI: whether the hart may run now; a START_PENDING one is reset and
 *  started here, by its own thread (its PMP and caches live here). */
function startedOrStart(sbi: Sbi, control: SmpControl, hart: Hart, self: number): boolean {
  const s = control.hsm[self];
  if (s === HsmState.StartPending) {
    const { addr, opaque } = control.start(self);
    resetHartForSbi(hart, self);
    enterSMode(hart, BigInt(addr), BigInt(self), opaque);
    control.hsm[self] = HsmState.Started;
    return true;
  }
  return sbi.isRunning(self);
}

/** How long a hart in WFI may sleep: until its Sstc timer is due, or MAX_SLEEP_MS;
 *  anything else that can wake it (a device, an IPI, the CLINT) rings its doorbell. */
function sleepMs(h: Hart, clock: HostClock): number {
  const w = h.w;
  if (!(w[MENVCFG + 1] & 0x80000000)) return MAX_SLEEP_MS;
  const cmp = (w[STIMECMP + 1] >>> 0) * 4294967296 + (w[STIMECMP] >>> 0);
  const ms = (cmp - clock.mtime()) / (VIRT.timebaseHz / 1000);
  return Math.max(0, Math.min(MAX_SLEEP_MS, ms));
}
