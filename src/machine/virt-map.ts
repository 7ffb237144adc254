// The `virt` board's memory map and interrupt numbers, as QEMU 7.2 lays them out. This one
// table drives both the bus wiring (virt.ts) and the generated device tree (virt-dt.ts).

export const VIRT = {
  test: { base: 0x0010_0000, size: 0x1000 },
  rtc: { base: 0x0010_1000, size: 0x1000, irq: 11 },
  clint: { base: 0x0200_0000, size: 0x1_0000 },
  plic: { base: 0x0c00_0000, size: 0x60_0000, sources: 96 },
  uart0: { base: 0x1000_0000, size: 0x100, irq: 10, clockHz: 3_686_400 },
  virtio: { base: 0x1000_1000, stride: 0x1000, size: 0x1000, count: 8, firstIrq: 1 },
  /** The VM generation ID of a VM started from boot snapshots (devices/vmgenid.ts), in
   *  the window where QEMU's virt board puts dynamic platform devices (its platform bus,
   *  0x4000000 with IRQs 64-95); absent from every other VM. */
  vmgenid: { base: 0x0400_0000, size: 0x1000, irq: 64 },
  dram: { base: 0x8000_0000 },
  timebaseHz: 10_000_000,
} as const;

/** mmio address of virtio slot i. */
export function virtioSlotBase(i: number): number {
  return VIRT.virtio.base + i * VIRT.virtio.stride;
}
