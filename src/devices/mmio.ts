// What a device model exposes to the machine: MMIO registers addressed by offset, and
// interrupt lines it drives. Devices know nothing of the bus, the CPU or the host.

export interface MmioDevice {
  /** Reads 1, 2 or 4 bytes at `offset` (relative to the device's base); zero-extended. */
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

/** One interrupt wire, level-triggered. */
export interface IrqLine {
  set(level: boolean): void;
}

/** A hart's local interrupt inputs (the mip bits a platform device drives). */
export interface HartInterrupts {
  /** Sets or clears `mipBit` (e.g. 1 << 7 for MTIP) in the hart's mip. */
  setInterrupt(mipBit: number, level: boolean): void;
}

/** Bytes from a device to the outside (a console, a log). */
export type ByteSink = (bytes: Uint8Array) => void;
