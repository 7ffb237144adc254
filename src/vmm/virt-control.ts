// VmControl over a machine's harts plus a few run-loop hooks: the run state machine and
// QEMU's life-cycle events live here, so the board only has to gate its run loop and
// report guest power events. MachineHooks is what VirtMachine has to provide (pause and
// resume between slices, reset, snapshots).

import type { Hart } from '../cpu/hart.js';
import type { BlockInfo, CpuInfo, NamedValue, RunState, TranslatorStats, VmControl, VmEvent } from './control.js';
import { DEBUG_CSRS } from './gdb/registers.js';
import { readHartRegister } from './hart-regs.js';

export interface MachineHooks {
  readonly harts: readonly Hart[];
  /** Stop executing harts at the next slice boundary, until resume(). */
  pause(): void;
  resume(): void;
  /** Ask the guest to power off (no ACPI on virt: the board decides, e.g. an SBI or
   *  GPIO-button event; absent: only the POWERDOWN event is sent, as QEMU's riscv virt). */
  powerdown?(): void;
  reset(): void;
  quit(): void;
  blocks?(): BlockInfo[];
  saveSnapshot?(tag: string): Promise<void>;
  loadSnapshot?(tag: string): Promise<void>;
  translatorStats?(): TranslatorStats | undefined;
  /** Hart stopped by SBI HSM or waiting in WFI. */
  halted?(index: number): boolean;
}

const X_NAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7',
  's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];

export class MachineControl implements VmControl {
  private state: RunState = 'running';
  private readonly listeners = new Set<(e: VmEvent) => void>();

  constructor(private readonly m: MachineHooks) {}

  private emit(e: VmEvent): void {
    for (const l of [...this.listeners]) l(e);
  }

  status(): RunState {
    return this.state;
  }

  /** `debug` when the GDB stub stops the machine (QEMU's query-status then says so). */
  pause(reason: 'paused' | 'debug' = 'paused'): void {
    if (this.state !== 'running') return;
    this.state = reason;
    this.m.pause();
    this.emit({ event: 'STOP' });
  }

  resume(): void {
    if (this.state !== 'paused' && this.state !== 'debug') return;
    this.state = 'running';
    this.m.resume();
    this.emit({ event: 'RESUME' });
  }

  powerdown(): void {
    this.emit({ event: 'POWERDOWN' });
    this.m.powerdown?.();
  }

  reset(): void {
    this.m.reset();
    // QEMU resumes a machine that was shut down (or paused by the guest) on reset.
    if (this.state === 'shutdown') this.state = 'running';
    this.emit({ event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' } });
  }

  quit(): void {
    this.emit({ event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } });
    this.m.quit();
  }

  /** The board reports a guest poweroff (sifive_test, SBI SRST). */
  guestShutdown(): void {
    this.state = 'shutdown';
    this.emit({ event: 'SHUTDOWN', data: { guest: true, reason: 'guest-shutdown' } });
  }

  /** The board reports a guest-requested reset. */
  guestReset(): void {
    this.emit({ event: 'RESET', data: { guest: true, reason: 'guest-reset' } });
  }

  cpus(): CpuInfo[] {
    return this.m.harts.map((h, index) => ({
      index,
      hartId: Number(readHartRegister(h, { kind: 'csr', csr: 0xf14 }) ?? BigInt(index)),
      pc: h.pc,
      priv: h.priv,
      halted: this.m.halted?.(index) ?? h.waiting,
    }));
  }

  blocks(): BlockInfo[] {
    return this.m.blocks?.() ?? [];
  }

  translatorStats(): TranslatorStats | undefined {
    return this.m.translatorStats?.();
  }

  registers(cpu: number): NamedValue[] {
    const h = this.m.harts[cpu];
    if (!h) throw new Error(`no CPU ${cpu}`);
    const out: NamedValue[] = [{ name: 'pc', value: h.pc }, { name: 'priv', value: BigInt(h.priv) }];
    for (const [name, csr] of DEBUG_CSRS) {
      const v = readHartRegister(h, { kind: 'csr', csr });
      if (v !== undefined) out.push({ name, value: v });
    }
    for (let i = 0; i < 32; i++) out.push({ name: `x${i}/${X_NAMES[i]}`, value: h.s.getX(i) });
    return out;
  }

  saveSnapshot(tag: string): Promise<void> {
    return this.m.saveSnapshot ? this.m.saveSnapshot(tag) : Promise.reject(new Error('snapshots are not supported by this machine yet'));
  }

  loadSnapshot(tag: string): Promise<void> {
    return this.m.loadSnapshot ? this.m.loadSnapshot(tag) : Promise.reject(new Error('snapshots are not supported by this machine yet'));
  }

  onEvent(listener: (e: VmEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

