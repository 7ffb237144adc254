// An empty slot must look like virtio-mmio with no device, which Linux's virtio_mmio
// probe reads as "skip": magic and version pass, DeviceID 0 ends the probe.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioMmioEmpty, VIRTIO_WIDTHS } from '../../src/devices/virtio-mmio-empty.js';

test('widths: 32-bit only', () => {
  assert.equal(VIRTIO_WIDTHS, 4);
});

test('identification registers', () => {
  const dev = new VirtioMmioEmpty();
  assert.equal(dev.read(0x000, 4), 0x74726976);
  assert.equal(new TextDecoder().decode(Uint32Array.of(dev.read(0x000, 4))), 'virt');
  assert.equal(dev.read(0x004, 4), 2);
  assert.equal(dev.read(0x008, 4), 0, 'DeviceID 0: no device');
  assert.equal(dev.read(0x00c, 4), 0x554d4551);
  assert.equal(new TextDecoder().decode(Uint32Array.of(dev.read(0x00c, 4))), 'QEMU');
});

test('everything else reads 0 and writes are ignored', () => {
  const dev = new VirtioMmioEmpty();
  for (const off of [0x010, 0x014, 0x034, 0x044, 0x070, 0x0fc, 0x100]) {
    dev.write(off, 4, 0xffffffff);
    assert.equal(dev.read(off, 4), 0, `offset 0x${off.toString(16)}`);
  }
  dev.write(0x008, 4, 5);
  assert.equal(dev.read(0x008, 4), 0);
  dev.write(0x070, 4, 0x0f); // Status: a driver acknowledging would get nothing back
  assert.equal(dev.read(0x070, 4), 0);
});
