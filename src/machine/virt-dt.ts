// The device tree of QEMU 7.2's `virt` board, for the devices rvisor has. Nodes, properties
// and phandles come out in the order QEMU's generated tree has them (QEMU's libfdt inserts
// each new node and property first, so its order is its creation order reversed), so that
// `dtc -I dtb -O dts` of ours and of QEMU's diff line for line (scripts/compare-virt-dt.sh).
//
// Left out because rvisor has no such device: pmu, fw-cfg@10100000, flash@20000000,
// platform-bus@4000000 and soc/pci@30000000.

import { Phandles, empty, node, str, strList, toBytes, u32, u64, type FdtNode } from './fdt.js';
import { VIRT, virtioSlotBase } from './virt-map.js';

export interface VirtDtConfig {
  harts: number;
  memBase: number;
  memSize: number;
  /** riscv,isa for every hart: exactly what the hart implements. */
  isa: string;
  /** 'riscv,sv48' or 'riscv,sv57'. */
  mmuType: string;
  /** Kernel command line; absent or empty leaves bootargs out, as QEMU does. */
  bootargs?: string;
  initrd?: { start: number; end: number };
  /** Entropy for the guest's RNG (QEMU passes 32 bytes); absent leaves rng-seed out. */
  rngSeed?: Uint8Array;
  virtioSlots: number;
  /** A VM generation ID device (devices/vmgenid.ts). */
  vmgenid?: boolean;
}

/** QEMU 7.2 addresses at most 512 harts (VIRT_CPUS_MAX); the PLIC window has contexts for as many. */
const MAX_HARTS = 512;
const IRQ_M_EXT = 0x0b;
const IRQ_S_EXT = 0x09;
const IRQ_M_SOFT = 0x03;
const IRQ_M_TIMER = 0x07;
const POWEROFF_VALUE = 0x5555;
const REBOOT_VALUE = 0x7777;

const hex = (v: number) => v.toString(16);
/** `reg` under a parent with #address-cells = #size-cells = 2. */
const reg = (base: number, size: number) => u64(base, size);

export function virtDeviceTree(cfg: VirtDtConfig): Uint8Array {
  check(cfg);
  // QEMU numbers phandles as it creates nodes: harts last to first (hart, then its
  // interrupt controller), then the PLIC, then the test device.
  const ph = new Phandles();
  const cpuPh: number[] = [], intcPh: number[] = [];
  for (let i = cfg.harts - 1; i >= 0; i--) {
    cpuPh[i] = ph.next();
    intcPh[i] = ph.next();
  }
  const plic = ph.next();
  const test = ph.next();

  return toBytes(
    node('', {
      '#address-cells': u32(2),
      '#size-cells': u32(2),
      compatible: str('riscv-virtio'),
      model: str('riscv-virtio,qemu'),
    }, [
      chosen(cfg),
      syscon('poweroff', POWEROFF_VALUE, test),
      syscon('reboot', REBOOT_VALUE, test),
      node(`memory@${hex(cfg.memBase)}`, {
        device_type: str('memory'),
        reg: reg(cfg.memBase, cfg.memSize),
      }),
      cpus(cfg, cpuPh, intcPh),
      soc(cfg, plic, test, intcPh),
    ]),
  );
}

function check(cfg: VirtDtConfig): void {
  if (!Number.isInteger(cfg.harts) || cfg.harts < 1 || cfg.harts > MAX_HARTS) throw new RangeError(`harts must be 1..${MAX_HARTS}, not ${cfg.harts}`);
  if (!Number.isSafeInteger(cfg.memBase) || cfg.memBase < 0) throw new RangeError(`memBase ${cfg.memBase} is not a non-negative integer`);
  if (!Number.isSafeInteger(cfg.memSize) || cfg.memSize <= 0) throw new RangeError(`memSize ${cfg.memSize} is not a positive integer`);
  if (!Number.isInteger(cfg.virtioSlots) || cfg.virtioSlots < 0 || cfg.virtioSlots > VIRT.virtio.count) throw new RangeError(`virtioSlots must be 0..${VIRT.virtio.count}, not ${cfg.virtioSlots}`);
  if (cfg.initrd && !(cfg.initrd.start <= cfg.initrd.end)) throw new RangeError(`initrd ends (0x${hex(cfg.initrd.end)}) before it starts (0x${hex(cfg.initrd.start)})`);
  if (cfg.rngSeed && cfg.rngSeed.length === 0) throw new RangeError('rngSeed is empty');
}

function chosen(cfg: VirtDtConfig): FdtNode {
  const props: Record<string, Uint8Array> = {};
  if (cfg.initrd) {
    // QEMU 7.2 writes these as one cell each and truncates above 4 GiB; Linux reads
    // either width, so use two cells only where one would be wrong.
    const cells = cfg.initrd.end > 0xffff_ffff ? u64 : u32;
    props['linux,initrd-end'] = cells(cfg.initrd.end);
    props['linux,initrd-start'] = cells(cfg.initrd.start);
  }
  if (cfg.rngSeed) props['rng-seed'] = Uint8Array.from(cfg.rngSeed);
  if (cfg.bootargs) props.bootargs = str(cfg.bootargs);
  props['stdout-path'] = str(`/soc/serial@${hex(VIRT.uart0.base)}`);
  return node('chosen', props);
}

function syscon(name: string, value: number, regmap: number): FdtNode {
  return node(name, {
    value: u32(value),
    offset: u32(0),
    regmap: u32(regmap),
    compatible: str(`syscon-${name}`),
  });
}

function cpus(cfg: VirtDtConfig, cpuPh: number[], intcPh: number[]): FdtNode {
  const harts = [...Array(cfg.harts).keys()];
  // Unit addresses in decimal (cpu@10, not cpu@a), as QEMU 7.2 names them.
  const cpu = (i: number) => node(`cpu@${i}`, {
    phandle: u32(cpuPh[i]),
    device_type: str('cpu'),
    reg: u32(i),
    status: str('okay'),
    compatible: str('riscv'),
    'riscv,isa': str(cfg.isa),
    'mmu-type': str(cfg.mmuType),
  }, [
    node('interrupt-controller', {
      '#interrupt-cells': u32(1),
      'interrupt-controller': empty(),
      compatible: str('riscv,cpu-intc'),
      phandle: u32(intcPh[i]),
    }),
  ]);
  // One socket, so one cluster holding every hart.
  const cpuMap = node('cpu-map', {}, [
    node('cluster0', {}, harts.map((i) => node(`core${i}`, { cpu: u32(cpuPh[i]) }))),
  ]);
  return node('cpus', {
    '#address-cells': u32(1),
    '#size-cells': u32(0),
    'timebase-frequency': u32(VIRT.timebaseHz),
  }, [...harts.map(cpu), cpuMap]);
}

function soc(cfg: VirtDtConfig, plic: number, test: number, intcPh: number[]): FdtNode {
  const plicIrq = (irq: number) => ({ interrupts: u32(irq), 'interrupt-parent': u32(plic) });
  // QEMU lists the slots from the highest address down.
  const virtio: FdtNode[] = [];
  for (let i = cfg.virtioSlots - 1; i >= 0; i--) {
    virtio.push(node(`virtio_mmio@${hex(virtioSlotBase(i))}`, {
      ...plicIrq(VIRT.virtio.firstIrq + i),
      reg: reg(virtioSlotBase(i), VIRT.virtio.size),
      compatible: str('virtio,mmio'),
    }));
  }
  const perHart = (irqs: number[]) => u32(...intcPh.flatMap((ph) => irqs.flatMap((irq) => [ph, irq])));

  return node('soc', {
    '#address-cells': u32(2),
    '#size-cells': u32(2),
    compatible: str('simple-bus'),
    ranges: empty(),
  }, [
    node(`rtc@${hex(VIRT.rtc.base)}`, {
      ...plicIrq(VIRT.rtc.irq),
      reg: reg(VIRT.rtc.base, VIRT.rtc.size),
      compatible: str('google,goldfish-rtc'),
    }),
    ...(cfg.vmgenid ? [node(`vmgenid@${hex(VIRT.vmgenid.base)}`, {
      ...plicIrq(VIRT.vmgenid.irq),
      reg: reg(VIRT.vmgenid.base, VIRT.vmgenid.size),
      compatible: str('microsoft,vmgenid'),
    })] : []),
    node(`serial@${hex(VIRT.uart0.base)}`, {
      ...plicIrq(VIRT.uart0.irq),
      'clock-frequency': u32(VIRT.uart0.clockHz),
      reg: reg(VIRT.uart0.base, VIRT.uart0.size),
      compatible: str('ns16550a'),
    }),
    node(`test@${hex(VIRT.test.base)}`, {
      phandle: u32(test),
      reg: reg(VIRT.test.base, VIRT.test.size),
      compatible: strList('sifive,test1', 'sifive,test0', 'syscon'),
    }),
    ...virtio,
    node(`plic@${hex(VIRT.plic.base)}`, {
      phandle: u32(plic),
      'riscv,ndev': u32(VIRT.plic.sources),
      reg: reg(VIRT.plic.base, VIRT.plic.size),
      // Context 2h is hart h's M-mode external interrupt, 2h+1 its S-mode one.
      'interrupts-extended': perHart([IRQ_M_EXT, IRQ_S_EXT]),
      'interrupt-controller': empty(),
      compatible: strList('sifive,plic-1.0.0', 'riscv,plic0'),
      '#address-cells': u32(0),
      '#interrupt-cells': u32(1),
    }),
    node(`clint@${hex(VIRT.clint.base)}`, {
      'interrupts-extended': perHart([IRQ_M_SOFT, IRQ_M_TIMER]),
      reg: reg(VIRT.clint.base, VIRT.clint.size),
      compatible: strList('sifive,clint0', 'riscv,clint0'),
    }),
  ]);
}
