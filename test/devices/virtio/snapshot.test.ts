// virtio-mmio transport and device snapshots: a restored transport (with guest RAM
// copied alongside, as the machine does) continues the rings exactly where the saved one
// was, and corrupt states are refused without changing anything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SnapshotError } from '../../../src/devices/snapshot.js';
import { VirtioBlk } from '../../../src/devices/virtio/blk.js';
import { VirtioConsole } from '../../../src/devices/virtio/console.js';
import type { VirtioMmioState } from '../../../src/devices/virtio/mmio-snapshot.js';
import { NET_HDR, VirtioNet } from '../../../src/devices/virtio/net.js';
import { RAM_BASE, TestDriver, TestQueue } from './driver.js';
import { FakePort, MemDisk } from './fakes.js';

const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const RX = 0, TX = 1;

function frame(n: number, fill: number): Uint8Array {
  const f = new Uint8Array(n).fill(fill);
  f.set(MAC, 0);
  return f;
}

function nic() {
  const net = new VirtioNet(MAC);
  const peer = new FakePort();
  net.connect(peer);
  return { net, peer, d: new TestDriver(net) };
}

/** A second driver over a copy of `from`'s RAM and driver-side ring bookkeeping, as a
 *  restored guest would have it. */
function cloneDriver(from: TestDriver, to: TestDriver): void {
  to.mem.write(RAM_BASE, from.snapshot());
  for (const q of from.queues) to.queues.push(Object.assign(Object.create(TestQueue.prototype) as TestQueue, q, { drv: to }));
  Object.assign(to as unknown as Record<string, unknown>, { heap: (from as unknown as Record<string, unknown>).heap });
}

test('virtio-net: restored transport continues the rings and the held-back frames', () => {
  const a = nic();
  a.d.init();
  a.d.queues[RX].post({ in: [NET_HDR + 1514] });
  a.d.queues[RX].notify();
  for (let i = 0; i < 3; i++) a.net.deliver(frame(100 + i, i)); // one lands, two wait
  a.d.queues[TX].post({ out: [new Uint8Array(NET_HDR), frame(60, 0xaa)] });
  a.d.queues[TX].notify();
  assert.equal(a.net.rxFifo.length, 2);
  const saved = a.d.mmio.save();

  const b = nic();
  cloneDriver(a.d, b.d);
  b.d.mmio.restore(saved);
  assert.deepEqual(b.d.mmio.save(), saved);
  assert.equal(b.d.line.level, a.d.line.level);
  assert.equal(b.d.line.level, true);

  for (const x of [a, b]) {
    x.d.ack();
    x.d.queues[RX].takeUsed();
    for (let i = 0; i < 3; i++) x.d.queues[RX].post({ in: [NET_HDR + 1514] });
    x.d.queues[RX].notify();
    x.net.deliver(frame(200, 0x77));
  }
  assert.deepEqual(b.d.queues[RX].takeUsed(), a.d.queues[RX].takeUsed());
  assert.deepEqual(b.d.snapshot(), a.d.snapshot(), 'both guests hold the same bytes');
  assert.deepEqual(b.d.mmio.save(), a.d.mmio.save());
});

test('virtio: corrupt transport states are refused without a change', () => {
  const a = nic();
  a.d.init();
  a.net.deliver(frame(100, 1));
  const s = a.d.mmio.save();
  const b = nic();
  const before = b.d.mmio.save();
  const bad = (change: (c: VirtioMmioState) => void) => {
    const c = structuredClone(s);
    change(c);
    return c;
  };
  const dev = (c: VirtioMmioState) => c.device as { mac: Uint8Array; rxFifo: Uint8Array[] };
  for (const c of [
    bad((c) => { c.queues[RX].size = 12; }), bad((c) => { c.queues[RX].size = 512; }),
    bad((c) => { c.queues[TX].lastAvail = 70000; }), bad((c) => { c.queues[TX].descAddr = 0x1000; }),
    bad((c) => { c.queues[TX].usedAddr = RAM_BASE + 2; }), bad((c) => { c.queues.pop(); }),
    bad((c) => { c.deviceId = 2; }), bad((c) => { c.status = 256; }), bad((c) => { c.negotiated = String(1n << 40n); }),
    bad((c) => { c.negotiated = '-1'; }), bad((c) => { c.interruptStatus = 4; }),
    bad((c) => { dev(c).mac = new Uint8Array(6); }), bad((c) => { dev(c).rxFifo.push(new Uint8Array(3)); }),
    bad((c) => { c.device = null; }),
  ]) {
    assert.throws(() => b.d.mmio.restore(c), SnapshotError);
    assert.deepEqual(b.d.mmio.save(), before);
  }
  b.d.mmio.restore(s);
  assert.deepEqual(b.d.mmio.save(), s);
});

test('virtio-console: held input survives; blk refuses another disk', () => {
  const con = new VirtioConsole(() => {});
  con.input(new TextEncoder().encode('typed ahead'));
  const saved = con.save();
  const copy = new VirtioConsole(() => {});
  copy.restore(saved);
  assert.deepEqual(copy.save(), saved);
  assert.throws(() => copy.restore({ pending: [1, 2] }), SnapshotError);

  const blk = new VirtioBlk(new MemDisk(64));
  new VirtioBlk(new MemDisk(64)).restore(blk.save());
  assert.throws(() => new VirtioBlk(new MemDisk(128)).restore(blk.save()), SnapshotError);
  assert.throws(() => new VirtioBlk(new MemDisk(64, true)).restore(blk.save()), SnapshotError);
});
