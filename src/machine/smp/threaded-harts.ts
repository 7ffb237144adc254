// The VM thread's side of a machine whose harts run on their own threads (QEMU's
// MTTCG): it starts one thread per hart through the host's spawner, serves their MMIO
// mailboxes, tells them to pause, resume and stop, and hears their console bytes and
// reset requests. No Node API here: the spawner is the host's (worker_threads, or a
// browser's Worker).

import type { Hart } from '../../cpu/hart.js';
import type { GuestMemory, PhysBus } from '../../cpu/memory.js';
import { HsmState } from '../../firmware/context.js';
import type { HostClock } from '../clock.js';
import { controlMemory, RunState, SmpControl } from './control.js';
import type { HartThreadEvent, HartThreadInit } from './hart-thread.js';
import { deviceDoorbell, MailboxServer, mailboxMemory, type MailboxMemory } from './mailbox.js';

/** A running hart thread, as the host's spawner gives it. */
export interface HartThreadHandle {
  terminate(): void;
}

/** Starts a thread that runs runHartThread(init) and passes its events on; `failed` when
 *  the thread dies of an error (a bug in rvisor: the VM cannot go on). */
export type HartThreadSpawner = (init: HartThreadInit, events: (e: HartThreadEvent) => void, failed: (e: Error) => void) => HartThreadHandle;

export interface ThreadedHartsOptions {
  mem: GuestMemory;
  /** The board's harts: their areas, already set up for boot (views from this thread). */
  harts: readonly Hart[];
  bus: PhysBus;
  clock: HostClock;
  exec: 'interp' | 'jit';
  /** rvisor's SBI, with the kernel's entry and the device tree for the boot hart. */
  sbiBoot?: { entry: number; dtb: number };
  spawn: HartThreadSpawner;
  console(bytes: Uint8Array): void;
  /** SBI system reset from a hart: 0 shutdown, 1 cold, 2 warm reboot. */
  reset(type: number): void;
  /** A device threw serving an access, or a hart thread died. */
  failed(e: unknown): void;
}

export class ThreadedHarts {
  readonly control: SmpControl;
  private readonly mailbox: MailboxMemory;
  private readonly server: MailboxServer;
  private readonly doorbell: Int32Array;
  private threads: HartThreadHandle[] = [];
  private exited = 0;
  private allExited: (() => void) | undefined;
  /** Instructions each hart thread reported when it ended. */
  readonly finalInstructions: number[] = [];

  constructor(private readonly o: ThreadedHartsOptions) {
    const n = o.harts.length;
    this.control = new SmpControl(controlMemory(n));
    this.mailbox = mailboxMemory(n);
    this.server = new MailboxServer(this.mailbox, o.bus, o.failed);
    this.doorbell = deviceDoorbell(this.mailbox);
    // With rvisor's SBI the boot hart starts and the others wait for hart_start; real
    // firmware starts them all (it parks the secondaries itself).
    for (let i = 0; i < n; i++) this.control.hsm[i] = !o.sbiBoot || i === 0 ? HsmState.Started : HsmState.Stopped;
  }

  start(): void {
    const o = this.o;
    const areas = o.harts.map((h) => h.area);
    const memory = o.mem.share();
    this.threads = o.harts.map((_, i) => o.spawn({
      hart: i,
      areas,
      memory,
      clock: o.clock.state,
      control: this.control.memory,
      mailbox: this.mailbox,
      exec: o.exec,
      sbi: o.sbiBoot !== undefined,
      boot: i === 0 ? o.sbiBoot : undefined,
    }, (e) => this.event(i, e), (e) => o.failed(e)));
  }

  private event(hart: number, e: HartThreadEvent): void {
    switch (e.type) {
      case 'console': return this.o.console(e.bytes);
      case 'reset': return this.o.reset(e.resetType);
      case 'exit':
        this.finalInstructions[hart] = e.instructions;
        if (++this.exited === this.threads.length) this.allExited?.();
    }
  }

  /** The doorbell's value now: pass it to waitForRing after serving, so no ring between
   *  the two is missed. */
  get rings(): number {
    return Atomics.load(this.doorbell, 0);
  }

  get served(): number {
    return this.server.served;
  }

  /** Answers the harts' pending MMIO. */
  serve(): void {
    this.server.serve();
  }

  /** Resolves when a hart or ring() rings (after `seen`), or after `ms`. */
  async waitForRing(seen: number, ms: number): Promise<void> {
    const w = Atomics.waitAsync(this.doorbell, 0, seen, ms);
    if (w.async) await w.value;
  }

  /** Wakes waitForRing (console input, a device's line, stop). */
  ring(): void {
    Atomics.add(this.doorbell, 0, 1);
    Atomics.notify(this.doorbell, 0);
  }

  /** Harts run, or park at their next slice boundary (guest time is the caller's). */
  setRunning(running: boolean): void {
    const want = running ? RunState.Running : RunState.Paused;
    if (this.control.run === want || this.control.run === RunState.Stopping) return;
    this.control.run = want;
    for (const h of this.o.harts) h.poke();
  }

  /** Every hart thread is parked (paused, or stopped in HSM). */
  get quiescent(): boolean {
    for (let i = 0; i < this.o.harts.length; i++) if (!this.control.parked(i)) return false;
    return true;
  }

  /** Host ms the hart threads have spent running guest code. */
  busyMs(): number {
    let ms = 0;
    for (let i = 0; i < this.o.harts.length; i++) ms += this.control.busyMs(i);
    return ms;
  }

  /** Host ms the CPU limit withheld from ready harts. */
  stolenMs(): number {
    let ms = 0;
    for (let i = 0; i < this.o.harts.length; i++) ms += this.control.stolenMs(i);
    return ms;
  }

  /** The most host CPU the harts may use together, in cores. */
  setCpuLimit(cores: number): void {
    this.control.cpuLimit = cores;
  }

  /** Ends every hart thread: they leave at their next look (MMIO in flight is answered
   *  meanwhile); after `graceMs` they are terminated regardless. */
  async stop(graceMs = 2000): Promise<void> {
    this.control.run = RunState.Stopping;
    for (const h of this.o.harts) h.poke();
    if (this.exited < this.threads.length) {
      const done = new Promise<void>((resolve) => (this.allExited = resolve));
      const deadline = performance.now() + graceMs;
      while (this.exited < this.threads.length && performance.now() < deadline) {
        this.serve();
        await Promise.race([done, this.waitForRing(this.rings, 10)]);
      }
    }
    for (const t of this.threads) t.terminate();
  }
}
