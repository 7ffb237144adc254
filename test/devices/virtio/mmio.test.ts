// virtio-mmio v2 through its registers: identification, the status machine, feature
// negotiation, queue setup, and interrupts (one per batch, EVENT_IDX and NO_INTERRUPT
// suppression), played by the miniature driver over a virtio-rng device.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioRng } from '../../../src/devices/virtio/rng.js';
import { Virtio9p } from '../../../src/devices/virtio/9p.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../src/devices/virtio/device.js';
import { VIRTIO_MMIO_WIDTHS } from '../../../src/devices/virtio/mmio.js';
import { ALL_TRANSPORT, INT_ACK, INT_STATUS, RAM_BASE, STATUS, TestDriver } from './driver.js';
import { EchoServer } from './fakes.js';

function rng() {
  let n = 0;
  return new TestDriver(new VirtioRng((b) => b.forEach((_, i) => (b[i] = ++n & 0xff))));
}

test('identification registers', () => {
  const d = rng();
  assert.equal(VIRTIO_MMIO_WIDTHS, 1 | 2 | 4);
  assert.equal(d.r(0x000), 0x74726976);
  assert.equal(d.r(0x004), 2);
  assert.equal(d.r(0x008), 4);
  assert.equal(d.r(0x00c), 0x554d4551);
  assert.equal(d.r(0x000, 1), 0, 'control registers answer 32-bit accesses only');
  assert.equal(d.r(0x002, 2), 0);
  assert.equal(d.r(0x0b0), 0xffffffff, 'no shared memory regions');
});

test('device features: VERSION_1, INDIRECT_DESC, EVENT_IDX; selectors past 1 read 0', () => {
  const d = rng();
  assert.equal(d.deviceFeatures(), ALL_TRANSPORT);
  d.w(0x014, 2);
  assert.equal(d.r(0x010), 0);
});

test('status machine: steps out of order are ignored, FEATURES_OK needs VERSION_1', () => {
  const d = rng();
  d.w(STATUS, 2);
  assert.equal(d.status, 0, 'DRIVER before ACKNOWLEDGE');
  d.w(STATUS, 1);
  d.w(STATUS, 1 | 4);
  assert.equal(d.status, 1, 'DRIVER_OK before FEATURES_OK');
  d.w(STATUS, 1 | 2);
  d.writeFeatures(VIRTIO_F_INDIRECT_DESC);
  d.w(STATUS, 1 | 2 | 8);
  assert.equal(d.status, 3, 'FEATURES_OK refused without VERSION_1');
  d.writeFeatures(VIRTIO_F_VERSION_1 | (1n << 40n));
  d.w(STATUS, 1 | 2 | 8);
  assert.equal(d.status, 3, 'FEATURES_OK refused for a feature not offered');
  d.writeFeatures(VIRTIO_F_VERSION_1);
  d.w(STATUS, 1 | 2 | 8);
  assert.equal(d.status, 0xb);
  d.writeFeatures(ALL_TRANSPORT);
  assert.equal(d.mmio.negotiated, VIRTIO_F_VERSION_1, 'features frozen after FEATURES_OK');
  d.w(STATUS, 1);
  assert.equal(d.status, 0xb, 'bits are only cleared by a reset');
  d.w(STATUS, 0xb | 0x40);
  assert.equal(d.status, 0xb, 'NEEDS_RESET belongs to the device');
  d.w(STATUS, 0xb | 0x80);
  assert.equal(d.status, 0x8b, 'FAILED');
});

test('writing 0 resets status, features, queues and interrupts', () => {
  const d = rng();
  d.init();
  const q = d.queues[0];
  q.post({ in: [8] });
  q.notify();
  assert.equal(d.line.level, true);
  d.w(STATUS, 0);
  assert.equal(d.status, 0);
  assert.equal(d.mmio.negotiated, 0n);
  assert.equal(d.r(INT_STATUS), 0);
  assert.equal(d.line.level, false);
  d.w(0x030, 0);
  assert.equal(d.r(0x044), 0, 'queue no longer ready');
  assert.equal(d.r(0x034), 64, 'QueueNumMax');
  assert.equal(d.r(0x080), 0, 'ring address cleared');
  d.w(0x030, 1);
  assert.equal(d.r(0x034), 0, 'no queue 1');
});

test('queue layout is frozen while ready; a bad size or ring address needs reset', () => {
  const d = rng();
  d.init();
  d.w(0x030, 0);
  d.w(0x038, 4);
  assert.equal(d.mmio.queues[0].size, 16, 'QueueNum ignored while ready');
  d.w(0x044, 0);
  assert.equal(d.r(0x044), 0);
  d.w(0x038, 12);
  d.w(0x044, 1);
  assert.equal(d.status & 0x40, 0x40, 'size not a power of 2');
  assert.equal(d.r(INT_STATUS) & 2, 2);

  const e = rng();
  e.init();
  e.w(0x030, 0);
  e.w(0x044, 0);
  e.w(0x0a0, RAM_BASE + (1 << 20) - 64);
  e.w(0x044, 1);
  assert.equal(e.status & 0x40, 0x40, 'used ring past the end of RAM');
});

test('notifies before DRIVER_OK are ignored; DRIVER_OK picks up what is available', () => {
  const d = rng();
  d.init();
  d.w(STATUS, 0);
  d.w(STATUS, 1);
  d.w(STATUS, 3);
  d.writeFeatures(ALL_TRANSPORT);
  d.w(STATUS, 0xb);
  const q = d.queues[0];
  d.queues.length = 0;
  q.availIdx = q.usedSeen = 0;
  d.w(0x030, 0);
  d.w(0x038, 16);
  d.w(0x080, q.desc);
  d.w(0x090, q.avail);
  d.w(0x0a0, q.used);
  d.w(0x044, 1);
  q.post({ in: [4] });
  q.notify();
  assert.deepEqual(q.takeUsed(), []);
  d.w(STATUS, 0xf);
  assert.equal(q.takeUsed().length, 1);
});

test('one interrupt per batch, lowered by InterruptACK', () => {
  const d = rng();
  d.init({ drop: VIRTIO_F_EVENT_IDX });
  const q = d.queues[0];
  const posted = [q.post({ in: [4] }), q.post({ in: [8] }), q.post({ in: [2, 2] })];
  q.notify();
  assert.deepEqual(q.takeUsed(), posted.map((p, i) => ({ id: p.head, len: [4, 8, 4][i] })));
  assert.deepEqual(d.line.history, [true]);
  assert.equal(d.r(INT_STATUS), 1);
  d.w(INT_ACK, 1);
  assert.equal(d.line.level, false);
  assert.deepEqual([...d.read(posted[2].inAddrs[1], 2)], [15, 16], 'filled across segments');
});

test('VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt without EVENT_IDX', () => {
  const d = rng();
  d.init({ drop: VIRTIO_F_EVENT_IDX });
  const q = d.queues[0];
  q.setAvailFlags(1);
  q.post({ in: [4] });
  q.notify();
  assert.equal(q.takeUsed().length, 1);
  assert.equal(d.line.level, false);
  q.setAvailFlags(0);
  q.post({ in: [4] });
  q.notify();
  assert.equal(d.line.level, true);
});

test('EVENT_IDX: interrupt only when used.idx passes used_event; avail_event published', () => {
  const d = rng();
  d.init();
  const q = d.queues[0];
  q.autoUsedEvent = false;
  q.setUsedEvent(2); // interrupt me once entry 2 (the third) is used
  q.post({ in: [1] });
  q.post({ in: [1] });
  q.notify();
  assert.equal(q.takeUsed().length, 2);
  assert.equal(d.line.level, false, 'used.idx 2 has not passed used_event 2');
  assert.equal(q.availEvent(), 2, 'device asks to be notified of entry 2');
  q.post({ in: [1] });
  q.notify();
  assert.equal(d.line.level, true, 'used.idx 3 passed used_event 2');
  d.ack();
  q.post({ in: [1] });
  q.notify();
  assert.equal(d.line.level, false, 'used_event still 2: no new interrupt');
  q.setUsedEvent(0xffff);
  for (let i = 0; i < 20; i++) {
    q.post({ in: [1] });
    q.notify();
    q.takeUsed();
  }
  assert.equal(d.line.level, false, 'a used_event left behind is not hit again before wrapping');
});

test('indirect descriptors', () => {
  const d = rng();
  d.init();
  const q = d.queues[0];
  const p = q.post({ in: [3, 5], indirect: true });
  q.notify();
  assert.deepEqual(q.takeUsed(), [{ id: p.head, len: 8 }]);
  assert.deepEqual([...d.read(p.inAddrs[1], 5)], [4, 5, 6, 7, 8]);
  assert.equal(d.status & 0x40, 0);
});

test('config space: byte, half and word access', () => {
  const d = new TestDriver(new Virtio9p(new EchoServer()));
  assert.equal(d.r(0x100, 2), 9, 'tag_len');
  assert.equal(d.r(0x100, 1), 9);
  assert.equal(String.fromCharCode(d.r(0x102, 1), d.r(0x103, 1)), 'ho');
  assert.equal(d.r(0x102, 4), 0x74736f68, '"host"');
  assert.equal(d.r(0x100 + 11, 1), 0, 'past the tag');
  assert.equal(d.deviceFeatures() & 1n, 1n, 'VIRTIO_9P_MOUNT_TAG');
});
