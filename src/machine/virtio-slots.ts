// Which virtio devices fill the `virt` board's eight virtio-mmio slots. As on QEMU's
// board, the first device takes the highest slot: the device tree lists that slot first,
// so Linux probes it first and the first disk becomes /dev/vda.

import type { BlockBackend } from '../devices/block.js';
import type { DmaMemory } from '../devices/dma.js';
import type { EthernetEndpoint } from '../devices/ethernet.js';
import type { ByteSink, IrqLine, MmioDevice } from '../devices/mmio.js';
import type { NinePServer } from '../devices/ninep.js';
import { Virtio9p } from '../devices/virtio/9p.js';
import { VirtioBlk } from '../devices/virtio/blk.js';
import { VirtioConsole } from '../devices/virtio/console.js';
import type { VirtioDevice } from '../devices/virtio/device.js';
import { VirtioMmio } from '../devices/virtio/mmio.js';
import { VirtioNet } from '../devices/virtio/net.js';
import { VirtioRng } from '../devices/virtio/rng.js';
import { VirtioMmioEmpty } from '../devices/virtio-mmio-empty.js';

export interface VirtioConfig {
  /** Block devices in order: the first is /dev/vda. */
  disks?: readonly BlockBackend[];
  /** Network cards, each wired to a port of whatever carries its frames (a NAT, a switch). */
  nics?: readonly { mac: Uint8Array; link: EthernetEndpoint }[];
  shares?: readonly NinePServer[];
  /** Entropy for virtio-rng (the host's CSPRNG); absent: no rng device. */
  rng?: (buf: Uint8Array) => void;
  /** Output of a virtio console (hvc0); absent: no virtio console. */
  console?: ByteSink;
}

export interface PluggedVirtio {
  /** What each slot answers with, slot 0 first. */
  slots: MmioDevice[];
  transports: { name: string; transport: VirtioMmio }[];
  console?: VirtioConsole;
  nics: VirtioNet[];
  disks: VirtioBlk[];
}

export function plugVirtio(cfg: VirtioConfig, slotCount: number, dma: DmaMemory, irq: (slot: number) => IrqLine): PluggedVirtio {
  const devices: { name: string; device: VirtioDevice }[] = [];
  const disks = (cfg.disks ?? []).map((d) => new VirtioBlk(d));
  disks.forEach((device, i) => devices.push({ name: `virtio-blk${i}`, device }));
  const nics: VirtioNet[] = [];
  (cfg.nics ?? []).forEach((n, i) => {
    const nic = new VirtioNet(n.mac);
    nics.push(nic);
    nic.connect(n.link);
    n.link.connect(nic);
    devices.push({ name: `virtio-net${i}`, device: nic });
  });
  (cfg.shares ?? []).forEach((s) => devices.push({ name: `virtio-9p:${s.tag}`, device: new Virtio9p(s) }));
  if (cfg.rng) devices.push({ name: 'virtio-rng', device: new VirtioRng(cfg.rng) });
  let console: VirtioConsole | undefined;
  if (cfg.console) devices.push({ name: 'virtio-console', device: (console = new VirtioConsole(cfg.console)) });
  if (devices.length > slotCount) throw new RangeError(`${devices.length} virtio devices, but the board has ${slotCount} slots`);

  const slots: MmioDevice[] = [];
  for (let i = 0; i < slotCount; i++) slots.push(new VirtioMmioEmpty());
  const transports = devices.map(({ name, device }, k) => {
    const slot = slotCount - 1 - k;
    const transport = new VirtioMmio(device, dma, irq(slot));
    slots[slot] = transport;
    return { name, transport };
  });
  return { slots, transports, console, nics, disks };
}
