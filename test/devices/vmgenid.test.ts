// The VM generation ID device: the guest reads 16 bytes; a new generation raises the
// interrupt, which stays up until the guest reads the ID (level-triggered PLIC, no
// acknowledge register); its state survives a snapshot; the board's device tree names
// it only when the VM has one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VmGenId } from '../../src/devices/vmgenid.js';
import { findNode, getProp, parseFdt, readCells, readStrings } from '../../src/machine/fdt.js';
import { virtDeviceTree } from '../../src/machine/virt-dt.js';
import { VIRT } from '../../src/machine/virt-map.js';

const id = (seed: number) => Uint8Array.from({ length: 16 }, (_, i) => (seed + i * 17) & 0xff);

function device(first = id(1)) {
  const levels: boolean[] = [];
  return { levels, dev: new VmGenId({ set: (l) => levels.push(l) }, first) };
}

test('the guest reads the ID in any width, little-endian; writes change nothing; past 16 bytes reads zero', () => {
  const { dev } = device();
  const bytes = id(1);
  assert.equal(dev.read(0, 1), bytes[0]);
  assert.equal(dev.read(2, 2), bytes[2] | (bytes[3] << 8));
  assert.equal(dev.read(12, 4), (bytes[12] | (bytes[13] << 8) | (bytes[14] << 16) | (bytes[15] << 24)) >>> 0);
  dev.write();
  assert.equal(dev.read(0, 1), bytes[0]);
  assert.equal(dev.read(16, 4), 0);
  assert.throws(() => new VmGenId({ set: () => {} }, new Uint8Array(8)), /16 bytes/);
});

test('a new generation raises the line until the guest reads the ID; the next read sees the new ID', () => {
  const { dev, levels } = device();
  dev.change(id(9));
  assert.deepEqual(levels, [true]);
  assert.equal(dev.read(0, 1), id(9)[0]);
  assert.deepEqual(levels, [true, false], 'the read lowered it');
  dev.read(4, 4);
  assert.deepEqual(levels, [true, false], 'once');
});

test('save and restore carry the ID and a pending change; a bad state is refused', () => {
  const a = device();
  a.dev.change(id(5));
  const saved = a.dev.save();
  const b = device(id(0));
  b.dev.restore(saved);
  assert.deepEqual(b.levels, [true], 'the pending change is raised again');
  assert.equal(b.dev.read(0, 1), id(5)[0]);
  assert.throws(() => b.dev.restore({ id: new Uint8Array(3), raised: false }), /16 bytes/);
  assert.throws(() => b.dev.restore({ raised: false }), /id/);
});

test('the device tree names the device (microsoft,vmgenid, QEMU\'s platform-bus window) only when the board has one', () => {
  const cfg = { harts: 1, memBase: 0x8000_0000, memSize: 256 << 20, isa: 'rv64imac', mmuType: 'riscv,sv48', virtioSlots: 8 };
  const path = `/soc/vmgenid@${VIRT.vmgenid.base.toString(16)}`;
  assert.equal(findNode(parseFdt(virtDeviceTree(cfg)).root, path), undefined);
  const n = findNode(parseFdt(virtDeviceTree({ ...cfg, vmgenid: true })).root, path);
  assert.ok(n);
  assert.deepEqual(readStrings(getProp(n, 'compatible')!), ['microsoft,vmgenid']);
  assert.deepEqual(readCells(getProp(n, 'reg')!), [0, VIRT.vmgenid.base, 0, VIRT.vmgenid.size]);
  assert.deepEqual(readCells(getProp(n, 'interrupts')!), [VIRT.vmgenid.irq]);
});
