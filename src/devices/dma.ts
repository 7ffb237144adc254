// Guest RAM as a DMA-capable device sees it. Every range a guest hands a device is
// checked here, so a device can never reach memory outside guest RAM, and every write is
// recorded in the dirty log (snapshots, migration and the translator rely on it).

export interface DmaMemory {
  /** True when [addr, addr + length) lies wholly inside guest RAM. */
  valid(addr: number, length: number): boolean;
  /** Copies guest bytes into `dest`; false (nothing copied) when the range is not RAM. */
  read(addr: number, dest: Uint8Array): boolean;
  /** Copies `src` into guest RAM and marks the pages dirty; false when not RAM. */
  write(addr: number, src: Uint8Array): boolean;
  /** Little-endian accessors for ring fields; the range must have been checked valid. */
  read16(addr: number): number;
  read32(addr: number): number;
  /** 64-bit guest addresses; above 2^53 they are out of RAM anyway, so a number is exact
   *  enough to be rejected by valid(). */
  read64(addr: number): number;
  write16(addr: number, value: number): void;
  write32(addr: number, value: number): void;
}
