// virtio-net as Linux's virtio_net drives it without offloads: transmit strips the
// 12-byte header, receive fills posted buffers, and frames wait in a bounded FIFO while
// the guest has none posted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NET_HDR, NET_RX_FIFO, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VirtioNet } from '../../../src/devices/virtio/net.js';
import { INT_STATUS, TestDriver } from './driver.js';
import { FakePort } from './fakes.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const RX = 0, TX = 1;

function setup(init = true) {
  const net = new VirtioNet(MAC);
  const peer = new FakePort();
  net.connect(peer);
  const d = new TestDriver(net);
  if (init) d.init();
  return { d, net, peer };
}

function frame(n: number, fill: number): Uint8Array {
  const f = new Uint8Array(n).fill(fill);
  f.set(MAC, 0);
  return f;
}

function postRx(d: TestDriver, count: number, size = NET_HDR + 1514) {
  const q = d.queues[RX];
  const posted = Array.from({ length: count }, () => q.post({ in: [size] }));
  q.notify();
  return posted;
}

test('config: MAC and link up; features', () => {
  const { d } = setup(false);
  const f = d.deviceFeatures();
  assert.equal(f & (VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS), VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS);
  assert.equal(d.r(0x008), 1);
  assert.deepEqual(Array.from({ length: 6 }, (_, i) => d.r(0x100 + i, 1)), [...MAC]);
  assert.equal(d.r(0x106, 2), 1, 'VIRTIO_NET_S_LINK_UP');
});

test('transmit: header stripped, one delivery per packet, used length 0', () => {
  const { d, peer } = setup();
  const q = d.queues[TX];
  const a = frame(60, 0xaa);
  const b = frame(1514, 0xbb);
  const p1 = q.post({ out: [new Uint8Array(NET_HDR), a] });
  // The header and the frame's first 100 bytes share one buffer (any layout).
  const first = new Uint8Array(NET_HDR + 100);
  first.set(b.subarray(0, 100), NET_HDR);
  const p2 = q.post({ out: [first, b.subarray(100)] });
  q.notify();
  assert.deepEqual(q.takeUsed(), [{ id: p1.head, len: 0 }, { id: p2.head, len: 0 }]);
  assert.equal(peer.frames.length, 2);
  assert.deepEqual(peer.frames[0], a);
  assert.deepEqual(peer.frames[1], b);
  assert.equal(d.line.level, true);
});

test('transmit: runt and oversized packets are dropped but completed', () => {
  const { d, net, peer } = setup();
  const q = d.queues[TX];
  q.post({ out: [new Uint8Array(NET_HDR + 10)] });
  q.post({ out: [new Uint8Array(NET_HDR)] });
  q.notify();
  assert.equal(q.takeUsed().length, 2);
  assert.equal(peer.frames.length, 0);
  assert.equal(net.txDropped, 2);
});

test('receive into a posted buffer: header with num_buffers 1, then the frame', () => {
  const { d, net } = setup();
  const [p] = postRx(d, 1);
  d.ack();
  const f = frame(98, 0x42);
  net.deliver(f);
  const used = d.queues[RX].takeUsed();
  assert.deepEqual(used, [{ id: p.head, len: NET_HDR + 98 }]);
  const got = d.read(p.inAddrs[0], NET_HDR + 98);
  assert.deepEqual([...got.subarray(0, NET_HDR)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual(got.subarray(NET_HDR), f);
  assert.equal(d.r(INT_STATUS), 1);
  assert.equal(d.line.level, true);
});

test('receive FIFO: frames wait for buffers and come out in order', () => {
  const { d, net } = setup();
  for (let i = 1; i <= 3; i++) net.deliver(frame(60, i));
  assert.equal(net.rxFifo.length, 3);
  assert.equal(d.line.level, false);
  const posted = postRx(d, 2);
  const used = d.queues[RX].takeUsed();
  assert.deepEqual(used.map((u) => u.id), posted.map((p) => p.head));
  assert.equal(d.read(posted[1].inAddrs[0] + NET_HDR + 6, 1)[0], 2);
  assert.equal(net.rxFifo.length, 1);
  assert.deepEqual(d.line.history, [true], 'one interrupt for the batch');
  const [p3] = postRx(d, 1);
  assert.equal(d.read(p3.inAddrs[0] + NET_HDR + 6, 1)[0], 3);
  assert.equal(net.rxFifo.length, 0);
});

test('receive FIFO is bounded; frames beyond it are dropped', () => {
  const { d, net } = setup();
  for (let i = 0; i < NET_RX_FIFO + 44; i++) net.deliver(frame(60, i & 0xff));
  assert.equal(net.rxFifo.length, NET_RX_FIFO);
  assert.equal(net.rxDropped, 44);
  postRx(d, 16);
  assert.equal(d.queues[RX].takeUsed().length, 16);
  assert.equal(net.rxFifo.length, NET_RX_FIFO - 16);
});

test('frames held before DRIVER_OK are received once the driver is up', () => {
  const { d, net } = setup(false);
  d.init({
    beforeDriverOk: () => {
      net.deliver(frame(60, 7));
      assert.equal(net.rxFifo.length, 1);
      const q = d.queues[RX];
      q.post({ in: [NET_HDR + 1514] });
      q.notify(); // ignored: not DRIVER_OK yet
      assert.deepEqual(q.takeUsed(), []);
    },
  });
  assert.equal(d.queues[RX].takeUsed().length, 1, 'DRIVER_OK delivered it');
  assert.equal(net.rxFifo.length, 0);
});

test('a frame too large for the buffer is dropped and the buffer kept for the next', () => {
  const { d, net } = setup();
  const [p] = postRx(d, 1, NET_HDR + 100);
  net.deliver(frame(200, 1));
  assert.deepEqual(d.queues[RX].takeUsed(), []);
  net.deliver(frame(80, 2));
  assert.deepEqual(d.queues[RX].takeUsed(), [{ id: p.head, len: NET_HDR + 80 }]);
  assert.equal(net.rxDropped, 1);
});

test('a peer answering synchronously during transmit is received', () => {
  const { d, net, peer } = setup();
  peer.onFrame = (f) => net.deliver(frame(f.length, 0x99));
  const [p] = postRx(d, 1);
  const q = d.queues[TX];
  q.post({ out: [new Uint8Array(NET_HDR), frame(42, 1)] });
  q.notify();
  assert.equal(q.takeUsed().length, 1);
  assert.deepEqual(d.queues[RX].takeUsed(), [{ id: p.head, len: NET_HDR + 42 }]);
  assert.equal(d.status & 0x40, 0);
});

test('reset drops queued frames', () => {
  const { d, net } = setup();
  net.deliver(frame(60, 1));
  d.w(0x070, 0);
  assert.equal(net.rxFifo.length, 0);
});

test('announce: one broadcast RARP request from the card\'s MAC about itself, 60 bytes, as QEMU sends after a migration', () => {
  const { net, peer } = setup(false);
  net.announce();
  assert.equal(peer.frames.length, 1);
  const f = peer.frames[0];
  assert.equal(f.length, 60);
  assert.deepEqual([...f.subarray(0, 6)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual([...f.subarray(6, 12)], [...MAC], 'from the card: switches learn its port from this');
  const v = new DataView(f.buffer, f.byteOffset);
  assert.deepEqual([v.getUint16(12), v.getUint16(14), v.getUint16(16), f[18], f[19], v.getUint16(20)], [0x8035, 1, 0x0800, 6, 4, 3]);
  assert.deepEqual([...f.subarray(22, 28)], [...MAC], 'sender hardware address');
  assert.deepEqual([...f.subarray(32, 38)], [...MAC], 'target hardware address');
  assert.ok(f.subarray(28, 32).every((b) => b === 0) && f.subarray(38).every((b) => b === 0), 'no protocol addresses; padding zero');
});
