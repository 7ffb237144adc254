// One hart of an SMP bare-metal run, in its own thread (a worker; no platform API here):
// it attaches the shared guest memory, adopts the hart area its board prepared, and runs
// slices of the interpreter or the translator until the run's control block says stop
// or something in this thread ends the run: the program's HTIF exit, a fault the program
// cannot handle, the instruction limit.

import { Hart, type MachineModeFirmware } from '../cpu/hart.js';
import { execute } from '../cpu/interp.js';
import { GuestMemory } from '../cpu/memory.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { runJit } from '../jit/index.js';
import { hostClock } from './clock.js';
import { Htif } from './htif.js';
import { Outcome, SmpControl } from './smp-control.js';
import type { SmpJob } from './smp-board.js';

/** Instructions per slice between looks at the control block and tohost. */
const SLICE = 50_000;
/** How long a hart waiting in WFI sleeps before it looks again (no timer device here:
 *  only the stop request wakes it early). */
const WFI_NAP_MS = 1;

const MTVEC = slotIndex(Slot.Mtvec);

export interface HartThreadHooks {
  /** Console bytes from HTIF (putchar, write to fd 1/2). */
  output(bytes: Uint8Array): void;
}

/** Runs hart `index` of `job` in this thread until the run ends; returns its instruction count. */
export function runHart(job: SmpJob, index: number, hooks: HartThreadHooks): number {
  const control = new SmpControl(job.control, job.harts);
  const mem = GuestMemory.attach(job.mem);
  const clock = hostClock();
  clock.set(Math.max(0, Math.floor((performance.timeOrigin + performance.now() - job.epochMs) * 10_000)));
  const hart = new Hart(mem, { area: job.areas[index], time: clock });
  hart.firmware = faultCatcher(control, index);
  const htif = new Htif(mem, job.tohost, job.fromhost, (b) => hooks.output(b));
  const step = job.exec === 'jit' ? runJit : execute;
  const limit = job.maxInstructions ?? Infinity;
  const counts = control.instructions;
  let total = 0;
  while (!control.stopping && !hart.stopRequested) {
    total += step(hart, Math.min(SLICE, limit - total));
    counts[index] = total;
    // tohost can be written by any hart: whichever thread sees it first handles it, once.
    // (The interpreter stores a doubleword as two words, low first, so another thread
    // may see a request's low word alone: harmless for an exit, whose high word is 0,
    // but a console request could be misread until 64-bit stores are single-copy atomic.)
    if (tohostPending(mem, job.tohost)) {
      control.exclusive(() => {
        const ev = htif.poll();
        if (ev) control.claim(Outcome.Exit, index, ev.code);
      });
    }
    if (total >= limit) control.claim(Outcome.Limit, index);
    if (control.outcome !== Outcome.Running) break;
    if (hart.waiting) control.nap(WFI_NAP_MS);
  }
  return total;
}

function tohostPending(mem: GuestMemory, tohost: number): boolean {
  const i = mem.hostOffset(tohost) >>> 2;
  return (Atomics.load(mem.i32, i) | Atomics.load(mem.i32, i + 1)) !== 0;
}

/**
 * Bare metal has no firmware, but a hart whose exception enters M-mode at a trap vector
 * that is not in RAM (mtvec never set, or set wrong) can only fault again, forever, and
 * the other harts would wait for it: such a trap ends the run with the fault's cause, pc
 * and tval. Traps to a handler in RAM are the program's business.
 */
function faultCatcher(control: SmpControl, index: number): MachineModeFirmware {
  return {
    onTrap(h: Hart, cause, interrupt, pcLo, pcHi, tvalLo, tvalHi): boolean {
      if (interrupt) return false;
      const vecLo = h.w[MTVEC] & ~3, vecHi = h.w[MTVEC + 1];
      if (vecHi === 0 && h.mem.isRam(vecLo >>> 0, 4)) return false;
      control.claim(Outcome.Fault, index, cause, [pcLo, pcHi], [tvalLo, tvalHi]);
      h.stopRequested = true;
      return true;
    },
  };
}
