// The virt board's device tree: byte-for-byte against our committed golden, node for node
// against QEMU 7.2's own dump, and against the memory map in the guide's anchors.md independently
// of both. Regenerate the golden with RVISOR_UPDATE_GOLDEN=1 after an intended change,
// then run scripts/compare-virt-dt.sh to see it still matches QEMU.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { findNode, getProp, parseFdt, readCells, readStrings, type FdtNode } from '../../src/machine/fdt.js';
import { virtDeviceTree, type VirtDtConfig } from '../../src/machine/virt-dt.js';

const FIXTURES = new URL('../../../test/fixtures/dtb/', import.meta.url);
const MiB = 1024 * 1024;
const ISA = 'rv64imafdc_zicsr_zifencei_zihintpause_zba_zbb_zbs_sstc';

/** What the golden was made from; bootargs and initrd match the QEMU dump's command line. */
const GOLDEN: VirtDtConfig = {
  harts: 2,
  memBase: 0x8000_0000,
  memSize: 256 * MiB,
  isa: ISA,
  mmuType: 'riscv,sv48',
  bootargs: 'console=ttyS0 earlycon',
  initrd: { start: 0x8820_0000, end: 0x8821_0000 },
  rngSeed: Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1),
  virtioSlots: 8,
};

const tree = (cfg: Partial<VirtDtConfig> = {}) => parseFdt(virtDeviceTree({ ...GOLDEN, ...cfg })).root;
const cells = (n: FdtNode, name: string) => readCells(prop(n, name));
const string = (n: FdtNode, name: string) => readStrings(prop(n, name)).join('\0');
const at = (root: FdtNode, path: string) => {
  const n = findNode(root, path);
  assert.ok(n, `${path} missing`);
  return n;
};
function prop(n: FdtNode, name: string): Uint8Array {
  const v = getProp(n, name);
  assert.ok(v, `${n.name}: no ${name}`);
  return v;
}

function walk(n: FdtNode, visit: (n: FdtNode, path: string) => void, path = ''): void {
  visit(n, path || '/');
  for (const c of n.children) walk(c, visit, `${path}/${c.name}`);
}

test('golden: 2 harts, 256 MiB matches the committed blob byte for byte', () => {
  const ours = virtDeviceTree(GOLDEN);
  const file = new URL('virt-smp2-256M.dtb', FIXTURES);
  if (process.env.RVISOR_UPDATE_GOLDEN) writeFileSync(file, ours);
  assert.deepEqual(ours, new Uint8Array(readFileSync(file)));
});

test('the same tree as QEMU 7.2 dumps, less the devices rvisor lacks', () => {
  // qemu-system-riscv64 -M virt,dumpdtb=... -smp 2 -m 256M -kernel <4 KiB> -initrd <64 KiB>
  //   -append 'console=ttyS0 earlycon'. QEMU writes its whole 1 MiB buffer, so gzipped;
  // the reader must honour totalsize (4703) within the longer blob.
  const qemu = parseFdt(new Uint8Array(gunzipSync(readFileSync(new URL('qemu-7.2-virt-smp2-256M.dtb.gz', FIXTURES))))).root;
  const omitted = new Set(['/pmu', '/fw-cfg@10100000', '/flash@20000000', '/platform-bus@4000000', '/soc/pci@30000000']);
  // Per-boot or deliberately ours: entropy and the implemented ISA.
  const differ = new Set(['/chosen:rng-seed', '/cpus/cpu@0:riscv,isa', '/cpus/cpu@1:riscv,isa']);
  const compare = (q: FdtNode, o: FdtNode, path: string) => {
    assert.deepEqual(o.props.map((p) => p.name), q.props.map((p) => p.name), `${path} property order`);
    for (const [i, p] of q.props.entries()) {
      if (!differ.has(`${path}:${p.name}`)) assert.deepEqual(o.props[i].value, p.value, `${path}:${p.name}`);
    }
    const kept = q.children.filter((c) => !omitted.has(`${path === '/' ? '' : path}/${c.name}`));
    assert.deepEqual(o.children.map((c) => c.name), kept.map((c) => c.name), `${path} children`);
    kept.forEach((c, i) => compare(c, o.children[i], `${path === '/' ? '' : path}/${c.name}`));
  };
  const ours = tree();
  compare(qemu, ours, '/');
  assert.equal(cells(at(ours, '/soc/plic@c000000'), 'riscv,ndev')[0], 96);
});

test('memory, and every device at its anchors.md address and PLIC irq', () => {
  const root = tree();
  assert.deepEqual(cells(root, '#address-cells'), [2]);
  assert.deepEqual(cells(root, '#size-cells'), [2]);
  assert.equal(string(root, 'compatible'), 'riscv-virtio');
  assert.equal(string(root, 'model'), 'riscv-virtio,qemu');
  const mem = at(root, '/memory@80000000');
  assert.equal(string(mem, 'device_type'), 'memory');
  assert.deepEqual(cells(mem, 'reg'), [0, 0x8000_0000, 0, 0x1000_0000]);

  // [path, base, size, irq]: the table in /work/shared/guide/anchors.md, typed in by hand.
  const devices: [string, number, number, number?][] = [
    ['/soc/test@100000', 0x10_0000, 0x1000],
    ['/soc/rtc@101000', 0x10_1000, 0x1000, 11],
    ['/soc/clint@2000000', 0x200_0000, 0x1_0000],
    ['/soc/plic@c000000', 0xc00_0000, 0x60_0000],
    ['/soc/serial@10000000', 0x1000_0000, 0x100, 10],
  ];
  for (let i = 0; i < 8; i++) devices.push([`/soc/virtio_mmio@${(0x1000_1000 + i * 0x1000).toString(16)}`, 0x1000_1000 + i * 0x1000, 0x1000, 1 + i]);
  const plic = cells(at(root, '/soc/plic@c000000'), 'phandle')[0];
  for (const [path, base, size, irq] of devices) {
    const n = at(root, path);
    assert.deepEqual(cells(n, 'reg'), [0, base, 0, size], path);
    if (irq !== undefined) {
      assert.deepEqual(cells(n, 'interrupts'), [irq], path);
      assert.deepEqual(cells(n, 'interrupt-parent'), [plic], path);
    }
  }
  assert.equal(at(root, '/soc').children.length, devices.length);
  assert.deepEqual(cells(at(root, '/soc/serial@10000000'), 'clock-frequency'), [0x38_4000]);
  assert.equal(string(at(root, '/soc/rtc@101000'), 'compatible'), 'google,goldfish-rtc');
  assert.equal(string(at(root, '/soc/serial@10000000'), 'compatible'), 'ns16550a');
  assert.equal(string(at(root, '/soc/virtio_mmio@10001000'), 'compatible'), 'virtio,mmio');
  assert.deepEqual(cells(at(root, '/cpus'), 'timebase-frequency'), [10_000_000]);

  const test = cells(at(root, '/soc/test@100000'), 'phandle')[0];
  for (const [name, value] of [['poweroff', 0x5555], ['reboot', 0x7777]] as const) {
    const n = at(root, `/${name}`);
    assert.equal(string(n, 'compatible'), `syscon-${name}`);
    assert.deepEqual(cells(n, 'regmap'), [test]);
    assert.deepEqual(cells(n, 'offset'), [0]);
    assert.deepEqual(cells(n, 'value'), [value]);
  }
});

test('every phandle is unique and every reference resolves to the right kind of node', () => {
  for (const harts of [1, 2, 5]) {
    const root = tree({ harts });
    const byPhandle = new Map<number, string>();
    walk(root, (n, path) => {
      const ph = getProp(n, 'phandle');
      if (!ph) return;
      const [v] = readCells(ph);
      assert.ok(v !== 0 && v !== 0xffff_ffff, `${path}: reserved phandle ${v}`);
      assert.ok(!byPhandle.has(v), `phandle ${v} on both ${byPhandle.get(v)} and ${path}`);
      byPhandle.set(v, path);
    });
    const target = (ph: number, where: string) => {
      const p = byPhandle.get(ph);
      assert.ok(p, `${where}: phandle ${ph} resolves to nothing`);
      return at(root, p);
    };
    walk(root, (n, path) => {
      const parent = getProp(n, 'interrupt-parent');
      if (parent) assert.ok(getProp(target(readCells(parent)[0], path), 'interrupt-controller'), path);
      const regmap = getProp(n, 'regmap');
      if (regmap) assert.match(string(target(readCells(regmap)[0], path), 'compatible'), /\bsyscon$/);
      const cpu = getProp(n, 'cpu');
      if (cpu) assert.equal(string(target(readCells(cpu)[0], path), 'device_type'), 'cpu');
      const ext = getProp(n, 'interrupts-extended');
      if (ext) {
        const v = readCells(ext);
        assert.equal(v.length, harts * 4, path);
        for (let i = 0; i < v.length; i += 2) {
          assert.equal(string(target(v[i], path), 'compatible'), 'riscv,cpu-intc');
        }
      }
    });
    // Hart h's contexts: M then S external on the PLIC; M software then M timer on the CLINT.
    const intc = (h: number) => cells(at(root, `/cpus/cpu@${h}/interrupt-controller`), 'phandle')[0];
    const expect = (a: number, b: number) => [...Array(harts).keys()].flatMap((h) => [intc(h), a, intc(h), b]);
    assert.deepEqual(cells(at(root, '/soc/plic@c000000'), 'interrupts-extended'), expect(0x0b, 0x09));
    assert.deepEqual(cells(at(root, '/soc/clint@2000000'), 'interrupts-extended'), expect(0x03, 0x07));
  }
});

test('one cpu node per hart, each with the configured isa and mmu, in the cpu-map', () => {
  for (const harts of [1, 2, 3, 8, 12]) {
    const root = tree({ harts, isa: 'rv64imac', mmuType: 'riscv,sv57' });
    const cpus = at(root, '/cpus');
    const nodes = cpus.children.filter((c) => c.name.startsWith('cpu@'));
    assert.equal(nodes.length, harts);
    nodes.forEach((cpu, h) => {
      assert.equal(cpu.name, `cpu@${h}`);
      assert.deepEqual(cells(cpu, 'reg'), [h]);
      assert.equal(string(cpu, 'device_type'), 'cpu');
      assert.equal(string(cpu, 'status'), 'okay');
      assert.equal(string(cpu, 'compatible'), 'riscv');
      assert.equal(string(cpu, 'riscv,isa'), 'rv64imac');
      assert.equal(string(cpu, 'mmu-type'), 'riscv,sv57');
      const intc = at(cpu, '/interrupt-controller');
      assert.ok(getProp(intc, 'interrupt-controller'));
      assert.deepEqual(cells(intc, '#interrupt-cells'), [1]);
      assert.deepEqual(cells(at(cpus, `/cpu-map/cluster0/core${h}`), 'cpu'), cells(cpu, 'phandle'));
    });
    assert.equal(at(cpus, '/cpu-map/cluster0').children.length, harts);
  }
  assert.equal(string(at(tree(), '/cpus/cpu@1'), 'riscv,isa'), ISA);
});

test('chosen carries what the boot passes, and leaves out what it does not', () => {
  const full = at(tree(), '/chosen');
  assert.equal(string(full, 'bootargs'), 'console=ttyS0 earlycon');
  assert.equal(string(full, 'stdout-path'), '/soc/serial@10000000');
  assert.ok(findNode(tree(), '/soc/serial@10000000'), 'stdout-path names a real node');
  assert.deepEqual(cells(full, 'linux,initrd-start'), [0x8820_0000]);
  assert.deepEqual(cells(full, 'linux,initrd-end'), [0x8821_0000]);
  assert.deepEqual(prop(full, 'rng-seed'), GOLDEN.rngSeed);

  const bare = at(tree({ bootargs: '', initrd: undefined, rngSeed: undefined }), '/chosen');
  assert.deepEqual(bare.props.map((p) => p.name), ['stdout-path']);

  // Above 4 GiB one cell would be truncated (as QEMU 7.2 does); two cells are exact.
  const high = at(tree({ memSize: 8192 * MiB, initrd: { start: 0x1_2000_0000, end: 0x1_2001_0000 } }), '/chosen');
  assert.deepEqual(cells(high, 'linux,initrd-start'), [1, 0x2000_0000]);
  assert.deepEqual(cells(high, 'linux,initrd-end'), [1, 0x2001_0000]);
  assert.deepEqual(cells(at(tree({ memSize: 8192 * MiB }), '/memory@80000000'), 'reg'), [0, 0x8000_0000, 2, 0]);
});

test('fewer virtio slots drop the highest ones; bad configurations are refused', () => {
  const soc = at(tree({ virtioSlots: 3 }), '/soc');
  assert.deepEqual(soc.children.filter((c) => c.name.startsWith('virtio')).map((c) => c.name),
    ['virtio_mmio@10003000', 'virtio_mmio@10002000', 'virtio_mmio@10001000']);
  assert.throws(() => virtDeviceTree({ ...GOLDEN, harts: 0 }), /harts/);
  assert.throws(() => virtDeviceTree({ ...GOLDEN, harts: 1.5 }), /harts/);
  assert.throws(() => virtDeviceTree({ ...GOLDEN, memSize: 0 }), /memSize/);
  assert.throws(() => virtDeviceTree({ ...GOLDEN, virtioSlots: 9 }), /virtioSlots/);
  assert.throws(() => virtDeviceTree({ ...GOLDEN, initrd: { start: 2, end: 1 } }), /initrd/);
  assert.throws(() => virtDeviceTree({ ...GOLDEN, rngSeed: new Uint8Array(0) }), /rngSeed/);
});
