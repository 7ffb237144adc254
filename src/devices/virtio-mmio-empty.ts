// An unpopulated virtio-mmio slot, as QEMU virt leaves one with no device plugged in: the
// magic, version and vendor are there but DeviceID 0 says "nothing here", so the guest
// driver skips the slot.

import type { MmioDevice } from './mmio.js';

/** The virtio-mmio spec allows only aligned 32-bit access to the control registers. */
export const VIRTIO_WIDTHS = 4;

const MAGIC = 0x74726976; // "virt", little-endian
const VERSION = 2; // modern (virtio 1.0+) register layout
const VENDOR_QEMU = 0x554d4551; // "QEMU", little-endian

export class VirtioMmioEmpty implements MmioDevice {
  read(offset: number, _size: number): number {
    switch (offset) {
      case 0x000:
        return MAGIC;
      case 0x004:
        return VERSION;
      case 0x00c:
        return VENDOR_QEMU;
      default:
        // DeviceID (0x008) is 0: no device. Every other register is inert.
        return 0;
    }
  }

  write(_offset: number, _size: number, _value: number): void {
    // Nothing to configure in an empty slot.
  }
}
