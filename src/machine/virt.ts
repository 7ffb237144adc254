// The `virt` board: harts, RAM at 0x80000000, and QEMU virt's devices at QEMU virt's
// addresses (virt-map.ts). Linux boots either on rvisor's own SBI (the kernel starts in
// S-mode) or on real M-mode firmware such as Debian's OpenSBI (--bios).

import { Hart } from '../cpu/hart.js';
import { execute } from '../cpu/interp.js';
import { type Jit, jitOf, runJit } from '../jit/index.js';
import { GuestMemory } from '../cpu/memory.js';
import { Slot, slotIndex } from '../cpu/state.js';
import { Clint, CLINT_WIDTHS } from '../devices/clint.js';
import { GoldfishRtc, RTC_WIDTHS } from '../devices/goldfish-rtc.js';
import { VmGenId, VMGENID_WIDTHS } from '../devices/vmgenid.js';
import type { ByteSink, IrqLine, MmioDevice } from '../devices/mmio.js';
import { type Persistent, StateReader } from '../devices/snapshot.js';
import { Plic, PLIC_WIDTHS } from '../devices/plic.js';
import { SifiveTest, TEST_WIDTHS, type TestEvent } from '../devices/sifive-test.js';
import { Uart16550, UART_WIDTHS } from '../devices/uart16550.js';
import { VIRTIO_MMIO_WIDTHS } from '../devices/virtio/mmio.js';
import { VIRTIO_WIDTHS } from '../devices/virtio-mmio-empty.js';
import { Sbi, bootHartInSMode } from '../firmware/sbi.js';
import { type BootPlan, planBoot, writeBoot } from './boot.js';
import { Bus } from './bus.js';
import { HostClock } from './clock.js';
import { restoreHart, restoreSbi, saveHart, saveSbi } from './hart-snapshot.js';
import { FirmwareBoot } from './firmware-boot.js';
import { GuestDma } from './guest-dma.js';
import { virtDeviceTree } from './virt-dt.js';
import { VIRT, virtioSlotBase } from './virt-map.js';
import { type HartSample, interruptible, possibleInterrupts, type Stall, STALL_LIMITS, StallWatch, type StallLimits, stimecmpArmed } from './stall.js';
import { plugVirtio, type PluggedVirtio, type VirtioConfig } from './virtio-slots.js';
import { type HartThreadSpawner, ThreadedHarts } from './smp/threaded-harts.js';

/** Exactly what the hart implements, for the device tree's riscv,isa. */
export const VIRT_ISA = 'rv64imafdc_zicsr_zifencei_zihintpause_zba_zbb_zbs_sstc';
/** QEMU 7.2 advertises Sv48; the hart also does Sv57, but guests see what QEMU shows. */
export const VIRT_MMU = 'riscv,sv48';

/** Instructions a hart runs before the others get their turn and devices are polled. */
const SLICE = 20_000;
/** Longest stretch of emulation between returns to the event loop. */
const YIELD_MS = 15;
/** ... while translations are being compiled: V8 finishes an asynchronous compilation in
 *  a few steps on this thread's event loop, and until then hot code is interpreted. */
const YIELD_MS_COMPILING = 1;
/** A CPU cap sleeps in pieces of at least this many ms (timers are not finer). */
const THROTTLE_MIN_MS = 10;
/** The longest idle sleep (see idle()). */
const IDLE_MAX_MS = 1000;
const STIMECMP = slotIndex(Slot.Stimecmp);
const MENVCFG = slotIndex(Slot.Menvcfg);
/** Private-area bytes per hart thread: its hart area and its translator's lookup table. */
const PRIVATE_PER_THREAD = 640 << 10;

/** Lets the host's event loop run (console input, signals). setImmediate where the host
 *  has it: a browser's setTimeout(0) is clamped, and Node's costs a millisecond. */
const yieldToHost: () => Promise<void> = (() => {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate;
  return immediate ? () => new Promise<void>((r) => immediate(r)) : () => new Promise<void>((r) => setTimeout(r, 0));
})();

export interface VirtConfig {
  memSize: number;
  harts: number;
  kernel: Uint8Array;
  initrd?: Uint8Array;
  append: string;
  /** M-mode firmware to run first (OpenSBI fw_dynamic/fw_jump); absent: rvisor's SBI. */
  bios?: Uint8Array;
  console: ByteSink;
  /** 32 bytes for the device tree's rng-seed. */
  rngSeed: Uint8Array;
  /** Wall clock for the RTC, in milliseconds since the Unix epoch. */
  wallClockMs?: () => number;
  /** Paravirtual devices in the virtio-mmio slots. */
  virtio?: VirtioConfig;
  /** The interpreter (default) or the WebAssembly translator (issue 5). */
  exec?: 'interp' | 'jit';
  /** When a guest that cannot make progress any more ends the run (stall.ts); false:
   *  never (default STALL_LIMITS). */
  stall?: StallLimits | false;
  /** Run each hart on its own thread (QEMU's MTTCG), started with this host spawner;
   *  absent: every hart on this thread, in turn. */
  threads?: HartThreadSpawner;
  /** A VM generation ID device with this first ID (16 bytes): for VMs started from boot
   *  snapshots, which change it on every start (devices/vmgenid.ts). Absent: no device,
   *  as on QEMU's virt board. */
  vmgenid?: Uint8Array;
}

/** A debugger's hold on the run loop (the GDB stub): while `armed`, harts run through
 *  runHart() so breakpoints, watchpoints and single steps are checked. */
export interface HartGate {
  readonly armed: boolean;
  mayRun(hart: number): boolean;
  runHart(hart: number, budget: number): void;
}

export type VirtExit =
  | { kind: 'poweroff'; code: number }
  | { kind: 'reset' }
  | { kind: 'stopped' }
  /** The guest cannot go on (stall.ts): no hart could be interrupted and nothing reached
   *  a device for STALL_LIMITS ('hung'), or, after endOnKernelSpin(), a hart spun in
   *  the kernel that long ('spinning'). */
  | { kind: 'stalled'; how: Stall };

/** Where the kernel, initrd and device tree go in this board's RAM, or a LoadError that
 *  says why they cannot (VirtMachine writes them there; callers can check first). */
export function planVirtBoot(cfg: Pick<VirtConfig, 'memSize' | 'harts' | 'kernel' | 'initrd' | 'append' | 'bios' | 'rngSeed' | 'vmgenid'>): BootPlan {
  const images = { kernel: cfg.kernel, initrd: cfg.initrd, firmware: cfg.bios };
  return planBoot({ base: VIRT.dram.base, size: cfg.memSize }, images, (initrd) => virtDeviceTree({
    harts: cfg.harts,
    memBase: VIRT.dram.base,
    memSize: cfg.memSize,
    isa: VIRT_ISA,
    mmuType: VIRT_MMU,
    bootargs: cfg.append,
    initrd,
    rngSeed: cfg.rngSeed,
    virtioSlots: VIRT.virtio.count,
    vmgenid: cfg.vmgenid !== undefined,
  }));
}

/** The clock's section: guest time (mtime) continues from the saved value. */
function clockPart(time: { mtime(): number; set(mtime: number): void }): Persistent {
  return {
    id: 'clock',
    save: () => ({ mtime: time.mtime(), timebaseHz: VIRT.timebaseHz }),
    restore: (s) => {
      const r = StateReader.of(s, 'clock');
      if (r.int('timebaseHz', 1, 2 ** 40) !== VIRT.timebaseHz) r.fail('timebaseHz', `this board counts at ${VIRT.timebaseHz} Hz`);
      time.set(r.int('mtime', 0, Number.MAX_SAFE_INTEGER));
    },
  };
}

/** Console input the UART's FIFO has not taken yet. */
function inputPart(input: number[]): Persistent {
  return {
    id: 'machine',
    save: () => ({ consoleInput: Uint8Array.from(input) }),
    restore: (s) => {
      const bytes = StateReader.of(s, 'machine').bytes('consoleInput', { max: 16 << 20 });
      input.length = 0;
      for (const b of bytes) input.push(b);
    },
  };
}

export class VirtMachine {
  readonly mem: GuestMemory;
  readonly bus = new Bus();
  readonly harts: Hart[] = [];
  readonly uart: Uart16550;
  readonly plic: Plic;
  readonly clint: Clint;
  readonly rtc: GoldfishRtc;
  readonly vmgenid: VmGenId | undefined;
  readonly sbi: Sbi | undefined;
  readonly virtio: PluggedVirtio;
  private exit: VirtExit | undefined;
  private wake: (() => void) | undefined;
  private held = false;
  /** Set by the GDB stub. */
  debugGate: HartGate | undefined;
  readonly time: HostClock;
  private readonly jit: Jit | undefined;
  /** With cfg.threads: the hart threads (harts[] are then this thread's views of them). */
  private readonly threaded: ThreadedHarts | undefined;
  private threadFailure: unknown;
  private readonly stall: StallWatch | undefined;
  /** Bytes the guest wrote to a console (UART or SBI): progress, for the stall watch. */
  private consoleBytes = 0;
  /** Times the set of running harts changed (HSM start, stop): progress too. */
  private hartChanges = 0;
  private runningMask = -1;
  private endOnSpin = false;
  /** The pass's samples, one per hart, reused. */
  private readonly samples: HartSample[] = [];
  /** The share of one host core this machine may use (1: all it wants). Above the cap the
   *  run loop sleeps, and the time a busy hart spends withheld is its steal time. */
  private cpuLimit = 1;
  /** Sleep the cap still owes, in ms (paid in pieces of at least THROTTLE_MIN_MS). */
  private owedMs = 0;
  /** Host time spent running harts, and time busy harts were withheld by the cap, in ms. */
  busyMs = 0;
  stolenMs = 0;
  /** Each stateful component's snapshot section, registered as the board is built, in
   *  restore order: the clock before the devices that compare against it, the harts before
   *  the devices that drive their mip bits (virt-snapshot.ts adds config and RAM). */
  readonly persistent: Persistent[] = [];

  constructor(readonly cfg: VirtConfig) {
    if (cfg.harts < 1 || cfg.harts > 8) throw new RangeError('--smp must be between 1 and 8');
    // Before RAM is allocated: a layout that cannot work costs nothing.
    const plan = planVirtBoot(cfg);
    // Hart threads share RAM, the clock and each hart's area; each has its own
    // translator, whose lookup table lives in the private area too.
    this.mem = new GuestMemory(VIRT.dram.base, cfg.memSize, cfg.threads ? { shared: true, privateBytes: cfg.harts * PRIVATE_PER_THREAD } : {});
    this.time = cfg.threads ? HostClock.shared(VIRT.timebaseHz) : new HostClock(VIRT.timebaseHz);
    // run() yields to the event loop, so translations can compile in the background.
    if (cfg.exec === 'jit' && !cfg.threads) {
      this.jit = jitOf(this.mem);
      this.jit.asyncCompile = true;
    }
    this.persistent.push(clockPart(this.time));
    for (let i = 0; i < cfg.harts; i++) {
      const h = new Hart(this.mem, { hartId: i, bus: this.bus, time: this.time });
      this.harts.push(h);
      this.persistent.push({ id: `hart${i}`, save: () => saveHart(h), restore: (s) => restoreHart(h, s, `hart${i}`) });
    }
    // The stall watch samples harts between slices on this thread: not with hart threads.
    if (cfg.stall !== false && !cfg.threads) this.stall = new StallWatch(cfg.stall ?? STALL_LIMITS);
    for (let i = 0; i < cfg.harts; i++) this.samples.push({ interruptible: false, inKernel: false, retired: 0 });
    const toConsole = (bytes: Uint8Array) => {
      this.consoleBytes += bytes.length;
      cfg.console(bytes);
    };

    this.plic = new Plic(this.harts, VIRT.plic.sources);
    this.clint = new Clint(this.harts, this.time);
    this.uart = new Uart16550(this.plic.line(VIRT.uart0.irq), toConsole);
    const wall = cfg.wallClockMs ?? (() => Date.now());
    this.rtc = new GoldfishRtc(this.plic.line(VIRT.rtc.irq), () => BigInt(Math.floor(wall() * 1e6)));
    for (const [id, part] of [['plic', this.plic], ['clint', this.clint], ['uart0', this.uart], ['rtc', this.rtc]] as const) {
      this.persistent.push({ id, save: () => part.save(), restore: (s) => part.restore(s) });
    }
    const test = new SifiveTest((e: TestEvent) => this.finish(e.kind === 'poweroff' ? { kind: 'poweroff', code: e.code } : { kind: 'reset' }));

    const map = (name: string, base: number, size: number, device: MmioDevice, widths: number) =>
      this.bus.add({ name, base, size, device, widths });
    map('sifive_test', VIRT.test.base, VIRT.test.size, test, TEST_WIDTHS);
    map('goldfish_rtc', VIRT.rtc.base, VIRT.rtc.size, this.rtc, RTC_WIDTHS);
    map('clint', VIRT.clint.base, VIRT.clint.size, this.clint, CLINT_WIDTHS);
    map('plic', VIRT.plic.base, VIRT.plic.size, this.plic, PLIC_WIDTHS);
    map('uart0', VIRT.uart0.base, VIRT.uart0.size, this.uart, UART_WIDTHS);
    if (cfg.vmgenid) {
      const genid = this.vmgenid = new VmGenId(this.wakingLine(VIRT.vmgenid.irq), cfg.vmgenid);
      map('vmgenid', VIRT.vmgenid.base, VIRT.vmgenid.size, genid, VMGENID_WIDTHS);
      this.persistent.push({ id: 'vmgenid', save: () => genid.save(), restore: (s) => genid.restore(s) });
    }
    this.virtio = plugVirtio(cfg.virtio ?? {}, VIRT.virtio.count, new GuestDma(this.mem), (slot) => this.wakingLine(VIRT.virtio.firstIrq + slot));
    this.virtio.slots.forEach((device, i) => {
      const plugged = this.virtio.transports.find((t) => t.transport === device);
      map(plugged?.name ?? `virtio${i}`, virtioSlotBase(i), VIRT.virtio.size, device, plugged ? VIRTIO_MMIO_WIDTHS : VIRTIO_WIDTHS);
      const id = `virtio@${virtioSlotBase(i).toString(16)}`;
      if (plugged) this.persistent.push({ id, save: () => plugged.transport.save(), restore: (s) => plugged.transport.restore(s, id) });
    });
    this.persistent.push(inputPart(this.input));

    writeBoot(this.mem, { kernel: cfg.kernel, initrd: cfg.initrd }, plan);
    const kernel = plan.kernel, dtbAddr = plan.dtbAddr;

    if (cfg.bios) new FirmwareBoot(this.mem, this.bus).start(this.harts, cfg.bios, kernel.entry, dtbAddr);
    // SBI SRST: 0 is a shutdown, the others reboot.
    const systemReset = (type: number) => this.finish(type === 0 ? { kind: 'poweroff', code: 0 } : { kind: 'reset' });
    if (cfg.threads) {
      // The SBI runs on each hart's thread; so does the boot hart's setup (its PMP and
      // caches are that thread's).
      this.threaded = new ThreadedHarts({
        mem: this.mem,
        harts: this.harts,
        bus: this.bus,
        clock: this.time,
        exec: cfg.exec ?? 'interp',
        sbiBoot: cfg.bios ? undefined : { entry: kernel.entry, dtb: dtbAddr },
        spawn: cfg.threads,
        console: toConsole,
        reset: systemReset,
        failed: (e) => {
          this.threadFailure ??= e;
          this.stop();
        },
      });
    } else if (!cfg.bios) {
      const sbi = this.sbi = new Sbi(this.harts, {
        consoleWrite: toConsole,
        consoleRead: () => -1,
        systemReset,
        mtime: () => this.time.mtime(),
      });
      bootHartInSMode(this.harts[0], BigInt(kernel.entry), 0, BigInt(dtbAddr));
      this.persistent.push({ id: 'sbi', save: () => saveSbi(sbi), restore: (s) => restoreSbi(sbi, s) });
    }
  }

  /** A device interrupt may come from the host's event loop (a frame from the network, a
   *  new VM generation) while every hart sleeps in WFI: raising it must also end the
   *  machine's idle wait. */
  private wakingLine(irq: number): IrqLine {
    const line = this.plic.line(irq);
    return { set: (level: boolean) => { line.set(level); if (level) this.wake?.(); } };
  }

  /** Bytes typed on the console; what the UART's FIFO cannot take yet waits here (read
   *  and replaced by snapshots, virt-snapshot.ts). */
  readonly input: number[] = [];

  consoleInput(bytes: Uint8Array): void {
    for (const b of bytes) this.input.push(b);
    this.feedUart();
    this.wake?.();
  }

  private feedUart(): void {
    if (this.input.length === 0) return;
    const taken = this.uart.receive(Uint8Array.from(this.input));
    this.input.splice(0, taken);
  }

  /** Every network card announces its MAC (after a migration: see VirtioNet.announce). */
  announceNics(): void {
    for (const nic of this.virtio.nics) nic.announce();
  }

  /** Bytes typed for the virtio console (when the guest's console is hvc0). */
  virtioConsoleInput(bytes: Uint8Array): void {
    this.virtio.console?.input(bytes);
  }

  /** Ends run(), paused or not. */
  stop(): void {
    this.finish({ kind: 'stopped' });
  }

  /** system_powerdown. The board has no power button (QEMU's riscv virt has none either:
   *  no ACPI), so it does what an operator at a serial console can: a break followed by
   *  magic SysRq 'o', which Linux's serial console turns into an orderly kernel power-off
   *  (the guest then ends the run through SBI or sifive_test, as any poweroff). */
  powerButton(): void {
    if (this.uart.receiveBreak()) this.consoleInput(Uint8Array.of(0x6f));
    this.wake?.();
  }

  /** Ends run() as a guest reset would; the caller builds the machine anew. */
  reset(): void {
    this.finish({ kind: 'reset' });
  }

  /** The guest kernel has panicked (its console said so): a hart that now stays in the
   *  kernel with nothing reaching a device is its panic loop, which ends the run like a
   *  hung guest. Without panic= set, Linux loops there forever with interrupts on. */
  endOnKernelSpin(): void {
    if (!this.endOnSpin) this.spinSince = this.time.mtime();
    this.endOnSpin = true;
  }

  /** When endOnKernelSpin() was called (hart threads: no stall watch samples them, so
   *  a panicked guest ends the stall window after its panic). */
  private spinSince = 0;

  /** The translator's counters (undefined with --exec interp). */
  translatorStats(): Record<string, number> | undefined {
    return this.jit?.stats();
  }

  /** Executions of a block before its page is translated (the translator's default:
   *  Jit.threshold), for this thread's translator; no effect on the interpreter. */
  setTranslationThreshold(executions: number): void {
    if (this.jit) this.jit.threshold = executions;
  }

  get translationThreshold(): number | undefined {
    return this.jit?.threshold;
  }

  /** No hart runs, and guest time stands still, until resume(). Takes effect at the next
   *  slice boundary: everything here runs on one thread, so that is before any host
   *  callback sees the machine again. The VM's run state is not kept here: the Vm's
   *  Lifecycle holds it and tells the board to hold or release its harts. */
  pause(): void {
    if (this.held) return;
    this.held = true;
    this.time.pause();
    // Hart threads park when the device thread's loop tells them.
    if (this.threaded) this.wake?.();
  }

  resume(): void {
    if (!this.held) return;
    this.held = false;
    this.time.resume();
    this.wake?.();
  }

  /** Limits the machine to `fraction` of one host core (the daemon's scheduler, a cap). */
  setCpuLimit(fraction: number): void {
    this.cpuLimit = Math.min(1, Math.max(0.01, fraction));
    if (this.cpuLimit === 1) this.owedMs = 0;
    // Hart threads: up to a core each when unlimited, else the fraction of one core
    // shared between them (what the host's scheduler counts a VM as).
    this.threaded?.setCpuLimit(this.cpuLimit === 1 ? this.harts.length : this.cpuLimit);
  }

  private finish(e: VirtExit): void {
    this.exit ??= e;
    for (const h of this.harts) h.stopRequested = true;
    this.wake?.();
  }

  private runnable(i: number): boolean {
    return this.sbi ? this.sbi.isRunning(i) : true;
  }

  /** Runs until the guest powers off or resets, or stop() is called. */
  async run(): Promise<VirtExit> {
    if (this.threaded) return this.runThreaded(this.threaded);
    let lastYield = performance.now();
    while (!this.exit) {
      if (this.held) {
        await new Promise<void>((resolve) => (this.wake = () => { this.wake = undefined; resolve(); }));
        lastYield = performance.now();
        continue;
      }
      let busy = false;
      const passStart = performance.now();
      for (const s of this.samples) s.retired = 0;
      for (let i = 0; i < this.harts.length && !this.exit && !this.held; i++) {
        if (!this.runnable(i)) continue;
        const h = this.harts[i];
        const gate = this.debugGate;
        if (gate && !gate.mayRun(i)) continue;
        if (gate?.armed) {
          gate.runHart(i, SLICE);
          busy = true;
          continue;
        }
        this.samples[i].retired = (this.cfg.exec === 'jit' ? runJit : execute)(h, SLICE);
        if (!h.waiting) busy = true;
      }
      const deadline = this.pollDevices();
      const stall = this.stalled();
      if (stall === 'hung' || (stall === 'spinning' && this.endOnSpin)) this.finish({ kind: 'stalled', how: stall });
      if (this.exit) break;
      const now = performance.now();
      if (busy) {
        this.busyMs += now - passStart;
        if (this.cpuLimit < 1) this.owedMs += (now - passStart) * (1 - this.cpuLimit) / this.cpuLimit;
      }
      if (this.owedMs >= THROTTLE_MIN_MS) {
        await this.throttle();
        lastYield = performance.now();
        continue;
      }
      if (!busy) {
        await this.idle(deadline);
        lastYield = performance.now();
      } else if (now - lastYield >= (this.jit !== undefined && this.jit.pendingCompiles > 0 ? YIELD_MS_COMPILING : YIELD_MS)) {
        await yieldToHost();
        lastYield = performance.now();
      }
    }
    return this.exit;
  }

  /** With hart threads, this thread runs the devices: it answers the harts' MMIO, keeps
   *  time-driven devices up to date, and sleeps until a hart or the host rings (console
   *  input, a frame, a timer due). */
  private async runThreaded(t: ThreadedHarts): Promise<VirtExit> {
    this.wake = () => t.ring();
    t.start();
    try {
      while (!this.exit) {
        t.setRunning(!this.held);
        const seen = t.rings;
        t.serve();
        // The harts' own timers (Sstc) are their threads' business: only the devices'.
        const deadline = this.pollPlatformDevices();
        this.busyMs = t.busyMs();
        this.stolenMs = t.stolenMs();
        if (this.endOnSpin && this.time.mtime() - this.spinSince > (this.cfg.stall || STALL_LIMITS).ticks) this.finish({ kind: 'stalled', how: 'spinning' });
        if (this.exit) break;
        const ms = this.held ? 1000 : Math.max(0, Math.min(1000, (deadline - this.time.mtime()) / (VIRT.timebaseHz / 1000)));
        await t.waitForRing(seen, ms);
      }
    } finally {
      await t.stop();
      this.busyMs = t.busyMs();
      this.stolenMs = t.stolenMs();
    }
    if (this.threadFailure !== undefined) throw this.threadFailure;
    return this.exit;
  }

  /** One pass's look at the stall watch. Off while a debugger is attached: whoever
   *  holds it may want to look at a guest that hangs. */
  private stalled(): Stall | undefined {
    if (!this.stall || this.debugGate) return undefined;
    let running = 0;
    for (let i = 0; i < this.harts.length; i++) {
      const h = this.harts[i], s = this.samples[i];
      const on = this.runnable(i);
      if (on) running |= 1 << i;
      const timerArmed = stimecmpArmed(h) || this.clint.armed(i);
      s.interruptible = on && interruptible(h, possibleInterrupts(h, { otherHarts: this.harts.length > 1, timerArmed }));
      s.inKernel = on && !h.waiting && h.priv !== 0;
    }
    if (running !== this.runningMask) {
      this.runningMask = running;
      this.hartChanges++;
    }
    return this.stall.observe(this.time.mtime(), this.samples, this.bus.writes + this.consoleBytes + this.hartChanges);
  }

  /** Updates time-driven device state; returns the next mtime at which something fires. */
  private pollDevices(): number {
    let next = this.pollPlatformDevices();
    for (const h of this.harts) {
      if (h.w[MENVCFG + 1] & 0x80000000) {
        const cmp = (h.w[STIMECMP + 1] >>> 0) * 4294967296 + (h.w[STIMECMP] >>> 0);
        if (cmp < next) next = cmp;
      }
    }
    return next;
  }

  /** The devices' part of pollDevices: the CLINT's next future deadline. */
  private pollPlatformDevices(): number {
    const next = this.clint.update();
    this.rtc.update();
    this.feedUart();
    return next;
  }

  /** The cap's sleep: guest time runs on (its clock is the host's), and every hart that
   *  was ready to run is charged the time as stolen (SBI STA tells the guest). */
  private async throttle(): Promise<void> {
    const ms = this.owedMs;
    this.owedMs = 0;
    const t0 = performance.now();
    await this.sleep(ms);
    const slept = performance.now() - t0;
    // Woken early (input, a device): the rest is still owed.
    this.owedMs += Math.max(0, ms - slept);
    this.stolenMs += slept;
    for (let i = 0; i < this.harts.length; i++) {
      if (this.runnable(i) && !this.harts[i].waiting) this.sbi?.addSteal(i, slept * 1e6);
    }
  }

  /** Every hart waits for an interrupt: sleep until the next timer or RTC alarm, or
   *  until something wakes the board (console input, a device, stop). Typed input the
   *  UART had no room for is offered again at once, as the guest may have drained its
   *  FIFO. The longest sleep is a second, so the stall watch still sees a guest that
   *  waits for an interrupt nothing can raise; every other wake-up is the guest's.
   *  Host timers count whole milliseconds from a loop time that may be behind: rounded
   *  up, with one more, the sleep ends after the deadline rather than just before it,
   *  which would cost a wake-up that finds nothing due and sleeps again (a third of all
   *  wake-ups of an idle Debian guest were those). */
  private idle(deadline: number): Promise<void> {
    const toTimer = (deadline - this.time.mtime()) / (VIRT.timebaseHz / 1000);
    const ms = Math.min(IDLE_MAX_MS, toTimer, this.rtc.msToAlarm());
    return this.sleep(this.input.length > 0 || ms <= 0 ? 0 : Math.ceil(ms) + 1);
  }

  /** Sleeps `ms`, or until wake() (input, an interrupt, stop). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}
