// Fakes for the monitor tests: a VmControl that records calls and emits QEMU's events,
// and a DebugTarget with flat memory and a pc that walks 4 bytes per instruction.

import type { BlockInfo, CpuInfo, NamedValue, RunState, VcpuStats, VmControl, VmEvent } from '../../src/vmm/control.js';
import type { RegRef } from '../../src/vmm/gdb/registers.js';
import type { Breakpoint, DebugTarget, StopReason } from '../../src/vmm/gdb/target.js';

export class FakeVm implements VmControl {
  state: RunState = 'running';
  calls: string[] = [];
  snapshots = new Set<string>();
  private listeners = new Set<(e: VmEvent) => void>();

  emit(e: VmEvent): void {
    for (const l of this.listeners) l(e);
  }
  status(): RunState { return this.state; }
  pause(): void {
    this.calls.push('pause');
    if (this.state === 'running') { this.state = 'paused'; this.emit({ event: 'STOP' }); }
  }
  resume(): void {
    this.calls.push('resume');
    if (this.state === 'paused') { this.state = 'running'; this.emit({ event: 'RESUME' }); }
  }
  powerdown(): void { this.calls.push('powerdown'); this.emit({ event: 'POWERDOWN' }); }
  reset(): void { this.calls.push('reset'); this.emit({ event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' } }); }
  quit(): void { this.calls.push('quit'); this.emit({ event: 'SHUTDOWN', data: { guest: false, reason: 'host-qmp-quit' } }); }
  cpus(): CpuInfo[] {
    return [0, 1].map((i) => ({ index: i, hartId: i, pc: 0x80000000n + BigInt(i * 4), priv: 1, halted: i === 1 }));
  }
  jit: Record<string, number> | undefined = { 'blocks translated': 12, 'compile ms (main thread)': 3.25 };
  translatorStats(): Record<string, number> | undefined { return this.jit; }
  vcpuStats(): VcpuStats[] { return [{ instructions: 1000, stealNs: 0 }, { instructions: 25, stealNs: 7_000_000 }]; }
  blocks(): BlockInfo[] { return [{ device: 'virtio0', file: '/tmp/disk.qcow2', format: 'qcow2', readOnly: false }]; }
  registers(cpu: number): NamedValue[] {
    return [{ name: 'pc', value: 0x80000000n + BigInt(cpu) }, { name: 'x1/ra', value: 0xdeadbeefn }, { name: 'x2/sp', value: -16n }];
  }
  async saveSnapshot(tag: string): Promise<void> {
    this.calls.push(`save ${tag}`);
    this.snapshots.add(tag);
  }
  /** Refuse an unknown tag by throwing before any promise exists, as the CLI's
   *  loadSnapshot does (it checks the snapshot's directory first). */
  syncLoadErrors = false;
  loadSnapshot(tag: string): Promise<void> {
    this.calls.push(`load ${tag}`);
    if (this.snapshots.has(tag)) return Promise.resolve();
    const e = new Error(`snapshot '${tag}' does not exist`);
    if (this.syncLoadErrors) throw e;
    return Promise.reject(e);
  }
  onEvent(listener: (e: VmEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export const FAKE_BASE = 0x80000000n;

/** Memory at 0x80000000 (64 KiB), registers x[i] = i * 0x100 + hart, pc = 0x80000000.
 *  continue runs to the next breakpoint above pc (reported as the breakpoint's kind);
 *  with none, it runs until halted. A step moves pc by 4. */
export class FakeTarget implements DebugTarget {
  readonly harts = 2;
  mem = new Uint8Array(0x10000);
  regs: bigint[][] = [0, 1].map((h) => Array.from({ length: 32 }, (_, i) => BigInt(i * 0x100 + h)));
  pcs = [FAKE_BASE, FAKE_BASE + 0x100n];
  fregs = new Map<number, bigint>();
  csrs = new Map<number, bigint>([[0x300, 0xa00000000n], [0x180, 0x8000000000080000n]]);
  priv = 3n;
  bps: Breakpoint[] = [];
  running = false;
  log: string[] = [];
  private listeners = new Set<(r: StopReason) => void>();

  constructor() {
    // nop (addi x0, x0, 0) everywhere, so GDB's disassembly is boring and valid.
    const dv = new DataView(this.mem.buffer);
    for (let i = 0; i < this.mem.length; i += 4) dv.setUint32(i, 0x00000013, true);
    dv.setUint32(0, 0x12345678, true);
  }

  readRegister(hart: number, r: RegRef): bigint | undefined {
    switch (r.kind) {
      case 'x': return this.regs[hart][r.index];
      case 'pc': return this.pcs[hart];
      case 'f': return this.fregs.get(r.index) ?? 0n;
      case 'csr': return this.csrs.get(r.csr);
      case 'priv': return this.priv;
    }
  }
  writeRegister(hart: number, r: RegRef, v: bigint): boolean {
    this.log.push(`write ${r.kind} ${JSON.stringify(r)} ${v.toString(16)}`);
    switch (r.kind) {
      case 'x': if (r.index) this.regs[hart][r.index] = v; return true;
      case 'pc': this.pcs[hart] = v; return true;
      case 'f': this.fregs.set(r.index, v); return true;
      case 'csr': if (!this.csrs.has(r.csr)) return false; this.csrs.set(r.csr, v); return true;
      case 'priv': this.priv = v; return true;
    }
  }
  private offset(addr: bigint, len: number): number {
    const off = Number(addr - FAKE_BASE);
    return off >= 0 && off + len <= this.mem.length ? off : -1;
  }
  readMemory(_hart: number, addr: bigint, len: number): Uint8Array {
    const off = this.offset(addr, 0);
    if (off < 0) return new Uint8Array(0);
    return this.mem.slice(off, Math.min(off + len, this.mem.length));
  }
  writeMemory(_hart: number, addr: bigint, data: Uint8Array): boolean {
    const off = this.offset(addr, data.length);
    if (off < 0) return false;
    this.mem.set(data, off);
    return true;
  }
  addBreakpoint(bp: Breakpoint): boolean {
    this.log.push(`add ${bp.kind} ${bp.addr.toString(16)} ${bp.len}`);
    this.bps.push(bp);
    return true;
  }
  removeBreakpoint(bp: Breakpoint): boolean {
    this.log.push(`remove ${bp.kind} ${bp.addr.toString(16)}`);
    const i = this.bps.findIndex((b) => b.kind === bp.kind && b.addr === bp.addr);
    if (i >= 0) this.bps.splice(i, 1);
    return i >= 0;
  }
  clearBreakpoints(): void { this.log.push('clear'); this.bps = []; }
  resume(step?: number): void {
    this.log.push(step === undefined ? 'resume' : `step ${step}`);
    this.running = true;
    setImmediate(() => {
      if (!this.running) return;
      if (step !== undefined) {
        this.pcs[step] += 4n;
        return this.stop({ kind: 'step', hart: step });
      }
      const next = this.bps.filter((b) => (b.kind === 'sw' || b.kind === 'hw') && b.addr > this.pcs[0]).sort((a, b) => Number(a.addr - b.addr))[0];
      if (next && (next.kind === 'sw' || next.kind === 'hw')) {
        this.pcs[0] = next.addr;
        return this.stop({ kind: 'break', hart: 0, type: next.kind });
      }
      const watch = this.bps.find((b) => b.kind === 'write');
      if (watch) return this.stop({ kind: 'watch', hart: 1, type: 'write', addr: watch.addr });
    });
  }
  stop(r: StopReason): void {
    this.running = false;
    for (const l of this.listeners) l(r);
  }
  halt(): void { this.log.push('halt'); this.running = false; }
  isRunning(): boolean { return this.running; }
  kill(): void { this.log.push('kill'); }
  onStop(listener: (r: StopReason) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
