// A malicious guest driver against the virtio-mmio transport and every virtio device
// (blk read-write and read-only over an in-memory disk, net, rng, console, 9p), all on
// one guest RAM whose every DMA write is audited (virtqueue/audited-dma.ts). Each input
// takes one device from reset:
//  - clean (two thirds): Linux's bring-up, then rounds of valid requests (blk reads,
//    writes, flushes, get-id, discard and write-zeroes at the disk's edges; net frames;
//    9P messages), some chains broken one way (virtqueue/damage.ts), host events (frames,
//    console input), notifies; the model (virtqueue/devices.ts) predicts each step's
//    used entries, NEEDS_RESET and effects, down to the disk's contents;
//  - hostile: register accesses at random offsets, widths and values mixed with chains,
//    some pointing writable buffers at the rings; checked for safety only.
// Every step: no exception out of the device, DMA only where allowed, the interrupt line
// right, nothing written by a stopped device. Every input ends with a reset after which
// a valid request must be served (the device works again).

import assert from 'node:assert/strict';
import { GuestMemory } from '../../../src/cpu/memory.js';
import { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC } from '../../../src/devices/virtio/device.js';
import { type FuzzTarget, Rng } from '../harness.js';
import { AuditedDma } from '../virtqueue/audited-dma.js';
import { alias, damage, jumpAvail } from '../virtqueue/damage.js';
import { type DeviceModel, deviceModels } from '../virtqueue/devices.js';
import { RAM_BASE, RAM_SIZE } from '../virtqueue/guest.js';
import { Session } from '../virtqueue/session.js';

/** Posts a few requests to one queue, some broken (or aliased when hostile); publishes. */
function post(rng: Rng, s: Session, hostile: boolean): number {
  const m = s.model;
  const q = rng.pick(m.queues);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const built = s.guest.build(q, m.request(rng, q), rng.chance(0.3));
    if (!built) break;
    let head = built.head;
    if (rng.chance(0.15)) head = damage(rng, s.guest, q, built);
    if (hostile && rng.chance(0.3)) alias(rng, s.guest, q, built);
    s.guest.publish(q, head);
  }
  if (rng.chance(0.03)) jumpAvail(rng, s.guest, q);
  return q;
}

function clean(rng: Rng, s: Session): void {
  // A driver that accepts fewer transport features; now and then queue sizes a device
  // must refuse (not a power of 2, zero, above the maximum).
  const drop = rng.chance(0.3) ? rng.pick([VIRTIO_F_INDIRECT_DESC | VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_EVENT_IDX]) : 0n;
  s.init(rng.chance(0.03) ? (max) => rng.pick([0, 3, max + 1, max * 2, 0xffff]) : undefined, drop);
  for (let round = 1 + rng.int(4); round > 0; round--) {
    const q = post(rng, s, false);
    if (rng.chance(0.3)) s.host();
    s.notify(rng.chance(0.95) ? q : rng.int(4));
    if (rng.chance(0.2)) s.host();
  }
}

function hostile(rng: Rng, s: Session): void {
  if (rng.chance(0.7)) s.init();
  for (let n = 4 + rng.int(24); n > 0; n--) {
    const r = rng.int(10);
    if (r < 5) s.poke();
    else if (r < 8) s.guest.notify(post(rng, s, true)); // each register write is a step
    else if (s.model.host) {
      const ev = s.model.host(rng);
      s.step('host event', ev.act);
    }
  }
}

/** After a reset the device must come up and serve a valid request. */
function worksAgain(rng: Rng, s: Session): void {
  assert.ok(s.init((max) => Math.min(max, 16)), `the device does not come up after a reset (status 0x${s.status.toString(16)})`);
  const m = s.model;
  const q = m.queues[m.queues.length - 1];
  const built = s.guest.build(q, m.request(rng, q, true), rng.chance(0.3));
  assert.ok(built, 'room for one request');
  s.guest.publish(q, built.head);
  const r = s.notify(q);
  assert.deepEqual(r, { served: 1, reset: false }, 'a valid request after reset');
}

function runInput(rng: Rng, m: DeviceModel, mem: GuestMemory, dma: AuditedDma): void {
  mem.u8.fill(0, 0, RAM_SIZE);
  m.start(rng);
  const s = new Session(m, mem, dma, rng);
  if (rng.chance(2 / 3)) clean(rng, s);
  else hostile(rng, s);
  worksAgain(rng, s);
}

export const target: FuzzTarget = {
  name: 'virtqueue',
  surface: 'virtio-mmio and the virtio devices (blk, net, rng, console, 9p) on audited guest RAM',
  open() {
    const mem = new GuestMemory(RAM_BASE, RAM_SIZE);
    const dma = new AuditedDma(mem);
    const models = deviceModels(mem, dma);
    return {
      one(rng) {
        runInput(rng, rng.pick(models), mem, dma);
      },
      alive() {
        // Every device, not only the one the last input used, still comes up and serves.
        const rng = new Rng(1);
        for (const m of models) {
          mem.u8.fill(0, 0, RAM_SIZE);
          m.start(rng);
          worksAgain(rng, new Session(m, mem, dma, rng));
        }
      },
      close() {},
    };
  },
};
