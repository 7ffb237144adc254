// virtio-mmio, version 2 (virtio 1.x §4.2.2), modern devices only: VIRTIO_F_VERSION_1 is
// always offered and FEATURES_OK is refused without it. Control registers take aligned
// 32-bit accesses only; the config space at 0x100 takes 1, 2 and 4 bytes. Map the region
// with VIRTIO_MMIO_WIDTHS so byte accesses reach the config space; narrower accesses to
// control registers read 0 and are ignored here.

import type { DmaMemory } from '../dma.js';
import type { IrqLine, MmioDevice } from '../mmio.js';
import { VirtioError } from './chain.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, type VirtioDevice, type VirtioTransport } from './device.js';
import { restoreTransport, saveTransport, type VirtioMmioState } from './mmio-snapshot.js';
import { VirtQueue } from './queue.js';

export const VIRTIO_MMIO_WIDTHS = 1 | 2 | 4;

export const STATUS_ACKNOWLEDGE = 0x01;
export const STATUS_DRIVER = 0x02;
export const STATUS_DRIVER_OK = 0x04;
export const STATUS_FEATURES_OK = 0x08;
export const STATUS_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

export const INT_USED_BUFFER = 0x1;
export const INT_CONFIG_CHANGE = 0x2;

const MAGIC = 0x74726976; // "virt"
const VERSION = 2;
const VENDOR_QEMU = 0x554d4551; // "QEMU": what Linux and firmware expect on virt boards
const CONFIG = 0x100;

/** Driver-settable status bits in the order a driver sets them, each with the bits that
 *  must already be set. Anything else written is ignored; only a write of 0 clears bits. */
const STATUS_STEPS: readonly (readonly [bit: number, requires: number])[] = [
  [STATUS_ACKNOWLEDGE, 0],
  [STATUS_DRIVER, STATUS_ACKNOWLEDGE],
  [STATUS_FEATURES_OK, STATUS_ACKNOWLEDGE | STATUS_DRIVER],
  [STATUS_DRIVER_OK, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK],
  [STATUS_FAILED, 0],
];

export class VirtioMmio implements MmioDevice, VirtioTransport {
  readonly queues: VirtQueue[] = [];
  readonly offered: bigint;
  status = 0;
  negotiated = 0n;
  deviceFeaturesSel = 0;
  driverFeaturesSel = 0;
  queueSel = 0;
  interruptStatus = 0;
  configGeneration = 0;
  /** Why the device last entered NEEDS_RESET (diagnostics only). */
  lastError = '';
  private irqLevel = false;

  constructor(
    readonly device: VirtioDevice,
    private readonly dma: DmaMemory,
    private readonly irq: IrqLine,
  ) {
    this.offered = device.features | VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX;
    for (let i = 0; i < device.queueCount; i++) this.queues.push(new VirtQueue(dma, device.queueMaxSize));
    device.attach(this);
  }

  read(offset: number, size: number): number {
    if (offset >= CONFIG) return this.device.readConfig(offset - CONFIG, size);
    if (size !== 4 || offset % 4) return 0;
    const q = this.queues[this.queueSel] as VirtQueue | undefined;
    switch (offset) {
      case 0x000: return MAGIC;
      case 0x004: return VERSION;
      case 0x008: return this.device.deviceId;
      case 0x00c: return VENDOR_QEMU;
      case 0x010: return this.deviceFeaturesSel < 2 ? Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffff_ffffn) : 0;
      case 0x034: return q ? q.maxSize : 0;
      case 0x044: return q?.ready ? 1 : 0;
      case 0x060: return this.interruptStatus;
      case 0x070: return this.status;
      case 0x080: return q ? q.descAddr % 0x1_0000_0000 : 0;
      case 0x084: return q ? Math.floor(q.descAddr / 0x1_0000_0000) : 0;
      case 0x090: return q ? q.availAddr % 0x1_0000_0000 : 0;
      case 0x094: return q ? Math.floor(q.availAddr / 0x1_0000_0000) : 0;
      case 0x0a0: return q ? q.usedAddr % 0x1_0000_0000 : 0;
      case 0x0a4: return q ? Math.floor(q.usedAddr / 0x1_0000_0000) : 0;
      // SHMLen / SHMBase: no shared memory regions, which the spec spells as all ones.
      case 0x0b0: case 0x0b4: case 0x0b8: case 0x0bc: return 0xffff_ffff;
      case 0x0fc: return this.configGeneration;
      default: return 0;
    }
  }

  write(offset: number, size: number, value: number): void {
    if (offset >= CONFIG) {
      this.device.writeConfig(offset - CONFIG, size, value);
      return;
    }
    if (size !== 4 || offset % 4) return;
    const v = value >>> 0;
    switch (offset) {
      case 0x014: this.deviceFeaturesSel = v; break;
      case 0x020: this.writeDriverFeatures(v); break;
      case 0x024: this.driverFeaturesSel = v; break;
      case 0x030: this.queueSel = v; break;
      case 0x038: this.configureQueue((q) => (q.size = v)); break;
      case 0x044: this.writeQueueReady(v); break;
      case 0x050: this.notify(v); break;
      case 0x064: this.interruptStatus &= ~v; this.updateIrq(); break;
      case 0x070: this.writeStatus(v); break;
      case 0x080: this.configureQueue((q) => (q.descAddr = setLow(q.descAddr, v))); break;
      case 0x084: this.configureQueue((q) => (q.descAddr = setHigh(q.descAddr, v))); break;
      case 0x090: this.configureQueue((q) => (q.availAddr = setLow(q.availAddr, v))); break;
      case 0x094: this.configureQueue((q) => (q.availAddr = setHigh(q.availAddr, v))); break;
      case 0x0a0: this.configureQueue((q) => (q.usedAddr = setLow(q.usedAddr, v))); break;
      case 0x0a4: this.configureQueue((q) => (q.usedAddr = setHigh(q.usedAddr, v))); break;
      // Identification, feature and interrupt-status registers are read-only.
    }
  }

  save(): VirtioMmioState {
    return saveTransport(this);
  }

  /** Validates and applies (see mmio-snapshot.ts), then drives the line to the restored
   *  interrupt status. */
  restore(state: unknown, where = 'virtio'): void {
    restoreTransport(this, this.dma, state, where);
    this.irqLevel = this.interruptStatus !== 0;
    this.irq.set(this.irqLevel);
  }

  run(index: number, work: (queue: VirtQueue) => void): boolean {
    const q = this.queues[index] as VirtQueue | undefined;
    if (!q || !q.ready || q.halted || !this.live) return false;
    try {
      work(q);
    } catch (e) {
      this.deviceError(e);
      return true;
    }
    if (q.needsInterrupt()) this.raise(INT_USED_BUFFER);
    return true;
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    if (this.status & STATUS_DRIVER_OK) this.raise(INT_CONFIG_CHANGE);
  }

  private get live(): boolean {
    return (this.status & (STATUS_DRIVER_OK | STATUS_NEEDS_RESET | STATUS_FAILED)) === STATUS_DRIVER_OK;
  }

  /** The driver broke the protocol (or the device model failed): stop every queue until
   *  the driver resets us, and tell it through NEEDS_RESET and a config interrupt. */
  private deviceError(e: unknown): void {
    this.lastError = e instanceof VirtioError ? e.message : `device failure: ${e instanceof Error ? e.message : String(e)}`;
    for (const q of this.queues) q.halted = true;
    this.status |= STATUS_NEEDS_RESET;
    this.raise(INT_CONFIG_CHANGE);
  }

  private notify(index: number): void {
    this.run(index, (q) => this.device.process(index, q));
  }

  private writeDriverFeatures(v: number): void {
    // Features are frozen once FEATURES_OK is set, and are only written after DRIVER.
    if ((this.status & (STATUS_DRIVER | STATUS_FEATURES_OK)) !== STATUS_DRIVER || this.driverFeaturesSel > 1) return;
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.negotiated = (this.negotiated & ~(0xffff_ffffn << shift)) | (BigInt(v) << shift);
  }

  private configureQueue(set: (q: VirtQueue) => void): void {
    const q = this.queues[this.queueSel] as VirtQueue | undefined;
    // A live queue's layout must not change under the device.
    if (q && !q.ready) set(q);
  }

  private writeQueueReady(v: number): void {
    const q = this.queues[this.queueSel] as VirtQueue | undefined;
    if (!q) return;
    if (!(v & 1)) {
      q.ready = false;
      return;
    }
    if (q.ready) return;
    q.eventIdx = (this.negotiated & VIRTIO_F_EVENT_IDX) !== 0n;
    q.indirect = (this.negotiated & VIRTIO_F_INDIRECT_DESC) !== 0n;
    try {
      q.enable();
    } catch (e) {
      this.deviceError(e);
    }
  }

  private writeStatus(v: number): void {
    if ((v & 0xff) === 0) {
      this.reset();
      return;
    }
    let next = this.status;
    for (const [bit, requires] of STATUS_STEPS) {
      if (!(v & bit) || next & bit || (next & requires) !== requires) continue;
      if (bit === STATUS_FEATURES_OK && !this.featuresAcceptable()) continue;
      next |= bit;
    }
    const starting = (next & STATUS_DRIVER_OK) !== 0 && !(this.status & STATUS_DRIVER_OK);
    this.status = next;
    // Buffers a driver made available before DRIVER_OK (receive buffers, typically) are
    // only looked at now; each device also drains what it held back for the guest.
    if (starting) for (let i = 0; i < this.queues.length; i++) this.notify(i);
  }

  /** §3.1.1: the driver may accept only offered bits, and a modern device needs VERSION_1. */
  private featuresAcceptable(): boolean {
    return (this.negotiated & ~this.offered) === 0n && (this.negotiated & VIRTIO_F_VERSION_1) !== 0n;
  }

  private reset(): void {
    this.status = 0;
    this.negotiated = 0n;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    this.interruptStatus = 0;
    this.lastError = '';
    for (const q of this.queues) q.reset();
    this.device.reset();
    this.updateIrq();
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.interruptStatus !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}

function setLow(addr: number, v: number): number {
  return Math.floor(addr / 0x1_0000_0000) * 0x1_0000_0000 + v;
}

function setHigh(addr: number, v: number): number {
  // Above 2^53 the address is no longer exact, but it is far outside RAM and enable()
  // rejects it either way.
  return v * 0x1_0000_0000 + (addr % 0x1_0000_0000);
}
