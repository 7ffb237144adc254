// Stand-ins for what devices are wired to: interrupt wires, harts' mip inputs, clocks.

import type { HartInterrupts, IrqLine } from '../../src/devices/mmio.js';

export class FakeLine implements IrqLine {
  level = false;
  /** Every set() call, in order, to check that only changes are reported. */
  readonly history: boolean[] = [];

  set(level: boolean): void {
    this.level = level;
    this.history.push(level);
  }
}

export class FakeHart implements HartInterrupts {
  mip = 0;

  setInterrupt(mipBit: number, level: boolean): void {
    this.mip = level ? this.mip | mipBit : this.mip & ~mipBit;
  }

  has(mipBit: number): boolean {
    return (this.mip & mipBit) !== 0;
  }
}

export class FakeTime {
  constructor(public ticks = 0) {}

  mtime(): number {
    return this.ticks;
  }
}

export const MSIP = 1 << 3;
export const MTIP = 1 << 7;
export const SEIP = 1 << 9;
export const MEIP = 1 << 11;
