// The control surface of a running `rvisor run`: QMP (--qmp), the GDB stub (--gdb, -S)
// and the human monitor on the console (Ctrl-A C), over whichever VirtMachine is current
// (a guest reset builds the machine anew; sockets and the run state carry over).

import type { Hart } from '../cpu/hart.js';
import type { VirtMachine } from '../machine/virt.js';
import {
  AddressError, GdbServer, HartDebugTarget, Hmp, MachineControl, MonitorConsole, QmpServer,
  parseGdbAddress, parseListenAddress, type BlockInfo, type DebugTarget,
} from '../vmm/index.js';
import { UsageError } from './errors.js';

export interface ControlOptions {
  qmp?: string;
  gdb?: string;
  /** -S: wait for `cont` (QMP, monitor) or a debugger before running the guest. */
  startPaused: boolean;
  blocks: BlockInfo[];
  /** What the board does for system_powerdown (it has no ACPI power button). */
  powerdown?: () => void;
  saveSnapshot?: (tag: string) => Promise<void>;
  loadSnapshot?: (tag: string) => Promise<void>;
  write: (text: string) => void;
}

export class VmControlSurface {
  readonly control: MachineControl;
  readonly hmp: Hmp;
  readonly monitor: MonitorConsole;
  private machine: VirtMachine | undefined;
  private debug: HartDebugTarget | undefined;
  private qmp: QmpServer | undefined;
  private gdb: GdbServer | undefined;
  /** quit (QMP, monitor, GDB kill) was asked for. */
  quitRequested = false;
  private hostReset = false;
  /** Resolved by the first attach(): until then the GDB stub has no harts to debug. */
  private readonly attached: Promise<void>;
  private markAttached!: () => void;

  constructor(private readonly o: ControlOptions) {
    this.attached = new Promise((resolve) => (this.markAttached = resolve));
    const current = () => this.machine;
    this.control = new MachineControl({
      get harts(): readonly Hart[] {
        return current()?.harts ?? [];
      },
      pause: () => this.machine?.pause(),
      resume: () => this.machine?.resume(),
      reset: () => {
        this.hostReset = true;
        this.machine?.reset();
      },
      quit: () => {
        this.quitRequested = true;
        this.machine?.stop();
      },
      powerdown: o.powerdown,
      blocks: () => o.blocks,
      saveSnapshot: o.saveSnapshot,
      loadSnapshot: o.loadSnapshot,
      translatorStats: () => this.machine?.translatorStats(),
    });
    this.control.onEvent((e) => {
      if (e.event === 'STOP') this.debug?.notifyPaused();
      if (e.event === 'RESUME') this.debug?.notifyResumed();
    });
    this.hmp = new Hmp(this.control);
    this.monitor = new MonitorConsole(this.hmp, o.write);
  }

  async listen(): Promise<void> {
    try {
      if (this.o.qmp) {
        this.qmp = new QmpServer({ control: this.control, hmp: this.hmp });
        await this.qmp.listen(parseListenAddress(this.o.qmp, '--qmp'));
      }
      if (this.o.gdb) {
        // The stub keeps one target for its life; a reset swaps the harts behind it.
        const target = new Proxy({} as DebugTarget, {
          get: (_, key) => {
            const d = this.debug as unknown as Record<string | symbol, unknown>;
            const v = d[key];
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(this.debug) : v;
          },
        });
        this.gdb = new GdbServer({
          target,
          monitor: (line) => this.hmp.execute(line),
          // The proxy has no target before the first machine exists.
          ready: this.attached,
          onError: (e) => process.stderr.write(`rvisor: internal error in the GDB stub: ${e instanceof Error ? e.stack : String(e)}\n`),
        });
        await this.gdb.listen(parseGdbAddress(this.o.gdb));
      }
    } catch (e) {
      await this.close();
      if (e instanceof AddressError) throw new UsageError(e.message);
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') throw new UsageError(`cannot listen: ${err.message}`);
      throw e;
    }
  }

  /** A new machine (first boot or after a reset) takes over. */
  attach(m: VirtMachine, first: boolean): void {
    this.machine = m;
    if (this.o.gdb) {
      this.debug = new HartDebugTarget(m.harts, {
        pause: () => this.control.pause('debug'),
        resume: () => this.control.resume(),
        kill: () => this.control.quit(),
      });
      m.debugGate = this.debug;
    }
    this.markAttached();
    const status = this.control.status();
    if ((first && this.o.startPaused) || status === 'paused' || status === 'debug') {
      m.pause();
      if (first && this.o.startPaused) {
        this.control.pause('paused');
      }
      this.debug?.notifyPaused();
    }
  }

  /** The machine ended with a reset: the guest's doing unless the host asked for it
   *  (MachineControl has then already sent the RESET event). Says whether it was the guest's. */
  resetEnded(): boolean {
    const byGuest = !this.hostReset;
    if (byGuest) this.control.guestReset();
    this.hostReset = false;
    return byGuest;
  }

  guestShutdown(code: number): void {
    this.control.guestShutdown();
    this.debug?.notifyExit(code);
  }

  async close(): Promise<void> {
    await Promise.all([this.qmp?.close(), this.gdb?.close()]);
  }
}
