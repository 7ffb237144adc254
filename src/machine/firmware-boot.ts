// Booting through real M-mode firmware (--bios), as QEMU's virt board does: the firmware
// at the start of RAM, every hart entering it in M-mode with a0 = hartid, a1 = the device
// tree, a2 = OpenSBI's fw_dynamic_info, which lives in a small read-only memory at 0x1000
// (QEMU's "mrom") so the firmware cannot overwrite it before reading it.

import type { Hart } from '../cpu/hart.js';
import type { GuestMemory } from '../cpu/memory.js';
import type { MmioDevice } from '../devices/mmio.js';
import type { Bus } from './bus.js';

export const MROM_BASE = 0x1000;
const MROM_SIZE = 0xf000;
const FW_DYNAMIC_INFO_MAGIC = 0x4942534f; // "OSBI"
const FW_DYNAMIC_INFO_VERSION = 2;
const NEXT_MODE_S = 1;

/** Read-only bytes on the bus. */
class Rom implements MmioDevice {
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  read(offset: number, size: number): number {
    if (offset + size > this.bytes.length) return 0;
    return size === 1 ? this.dv.getUint8(offset) : size === 2 ? this.dv.getUint16(offset, true) : this.dv.getUint32(offset, true);
  }
  write(): void {}
}

export class FirmwareBoot {
  constructor(private readonly mem: GuestMemory, private readonly bus: Bus) {}

  start(harts: Hart[], firmware: Uint8Array, kernelEntry: number, dtb: number): void {
    // planBoot (boot.ts) has checked that the firmware is not empty and ends below the kernel.
    this.mem.write(this.mem.base, firmware);
    // struct fw_dynamic_info { magic, version, next_addr, next_mode, options, boot_hart } (unsigned longs)
    const rom = new Uint8Array(MROM_SIZE);
    const dv = new DataView(rom.buffer);
    const fields = [FW_DYNAMIC_INFO_MAGIC, FW_DYNAMIC_INFO_VERSION, kernelEntry, NEXT_MODE_S, 0];
    fields.forEach((v, i) => dv.setBigUint64(i * 8, BigInt(v), true));
    dv.setBigInt64(40, -1n, true); // boot_hart: any (the first to arrive wins)
    this.bus.add({ name: 'mrom', base: MROM_BASE, size: MROM_SIZE, device: new Rom(rom), widths: 1 | 2 | 4 | 8 });
    for (let i = 0; i < harts.length; i++) {
      const h = harts[i];
      h.pc = BigInt(this.mem.base);
      h.s.setX(10, BigInt(i));
      h.s.setX(11, BigInt(dtb));
      h.s.setX(12, BigInt(MROM_BASE));
    }
  }
}
