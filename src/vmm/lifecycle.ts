// The one holder of a VM's run state. Every front end (the CLI, QMP, the GDB stub, the
// host daemon) asks it to move, and it alone decides whether the move is legal in the
// current state; it then tells every listener, with QMP's event names, in order.
//
//   created --start--> running <--pause/resume--> paused
//      |                  |  \____debug (a GDB stop)___/ |
//      +---start paused---+----------------+-------------+
//                         v                v
//                      shutdown  (guest poweroff, quit) --start--> running
//
// A reset keeps the state (QEMU: a paused VM that is reset stays paused).

export type VmState = 'created' | 'running' | 'paused' | 'debug' | 'shutdown';

/** Why a VM stopped running, as QEMU's SHUTDOWN event says it. */
export type ShutdownReason = 'guest-shutdown' | 'guest-reset' | 'guest-panic' | 'host-qmp-quit' | 'host-signal' | 'host-error';

export type VmLifecycleEvent =
  | { event: 'STOP' }
  | { event: 'RESUME' }
  | { event: 'RESET'; data: { guest: boolean; reason: 'guest-reset' | 'host-qmp-system-reset' } }
  | { event: 'SHUTDOWN'; data: { guest: boolean; reason: ShutdownReason } }
  | { event: 'POWERDOWN' };

export type Transition = 'start' | 'start-paused' | 'pause' | 'debug-stop' | 'resume' | 'shutdown';

const LEGAL: Record<Transition, readonly VmState[]> = {
  'start': ['created', 'shutdown'],
  'start-paused': ['created', 'shutdown'],
  'pause': ['running'],
  'debug-stop': ['running', 'paused'],
  'resume': ['paused', 'debug'],
  'shutdown': ['running', 'paused', 'debug'],
};

const TARGET: Record<Transition, VmState> = {
  'start': 'running', 'start-paused': 'paused', 'pause': 'paused', 'debug-stop': 'debug', 'resume': 'running', 'shutdown': 'shutdown',
};

/** An action that the VM's state does not allow (start a running VM, pause a stopped one). */
export class IllegalTransition extends Error {
  override name = 'IllegalTransition';

  constructor(readonly state: VmState, readonly transition: Transition) {
    super(`cannot ${transition.replace('-', ' ')} a VM that is ${state}`);
  }
}

export class Lifecycle {
  private current: VmState = 'created';
  private readonly listeners = new Set<(e: VmLifecycleEvent) => void>();

  get state(): VmState {
    return this.current;
  }

  /** Whether the guest's harts may run now. */
  get running(): boolean {
    return this.current === 'running';
  }

  can(t: Transition): boolean {
    return LEGAL[t].includes(this.current);
  }

  /** Moves the state, or throws IllegalTransition and changes nothing. */
  move(t: Transition, shutdown?: { guest: boolean; reason: ShutdownReason }): void {
    if (!this.can(t)) throw new IllegalTransition(this.current, t);
    const was = this.current;
    this.current = TARGET[t];
    // A shutdown sends SHUTDOWN alone: QEMU (without -no-shutdown) ends there, and a
    // debugger told "stopped" first would wait for a stop that never resumes.
    if (was === 'running' && this.current !== 'running' && t !== 'shutdown') this.emit({ event: 'STOP' });
    if (t === 'resume' || (t === 'start' && was !== 'running')) this.emit({ event: 'RESUME' });
    if (t === 'shutdown') this.emit({ event: 'SHUTDOWN', data: shutdown ?? { guest: false, reason: 'host-qmp-quit' } });
  }

  /** A reset happened (the state is kept). */
  reset(guest: boolean): void {
    this.emit({ event: 'RESET', data: { guest, reason: guest ? 'guest-reset' : 'host-qmp-system-reset' } });
  }

  /** The power button was pressed (the guest decides what to do with it). */
  powerdown(): void {
    this.emit({ event: 'POWERDOWN' });
  }

  on(listener: (e: VmLifecycleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: VmLifecycleEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
}
