// Save and restore of a virtio-mmio transport: its registers, every queue's layout and
// ring positions, and (nested) the device's own state. Restore checks everything first,
// the device's state included, so a refused snapshot changes nothing.

import type { DmaMemory } from '../dma.js';
import { SnapshotError, StateReader } from '../snapshot.js';
import { VirtioError } from './chain.js';
import { VIRTIO_F_VERSION_1, type VirtioDevice } from './device.js';
import { VirtQueue } from './queue.js';

export interface VirtQueueState {
  size: number;
  ready: boolean;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  lastAvail: number;
  usedIdx: number;
  signalledUsed: number;
  eventIdx: boolean;
  indirect: boolean;
  halted: boolean;
}

export interface VirtioMmioState {
  deviceId: number;
  status: number;
  /** Feature bits the driver wrote, as a decimal string. */
  negotiated: string;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  lastError: string;
  queues: VirtQueueState[];
  /** The device's own state (null for devices that keep none). */
  device: unknown;
}

/** The transport fields this file reads and writes (VirtioMmio implements them). */
export interface TransportFields {
  readonly device: VirtioDevice;
  readonly offered: bigint;
  readonly queues: VirtQueue[];
  status: number;
  negotiated: bigint;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  lastError: string;
}

const U32 = 0xffff_ffff;
const FEATURES_OK = 0x08;
/** Guest-written ring addresses are 64-bit; as doubles they are integers below 2^64. */
const MAX_ADDR = 2 ** 64;

export function saveTransport(t: TransportFields): VirtioMmioState {
  return {
    deviceId: t.device.deviceId, status: t.status, negotiated: String(t.negotiated),
    deviceFeaturesSel: t.deviceFeaturesSel, driverFeaturesSel: t.driverFeaturesSel, queueSel: t.queueSel,
    interruptStatus: t.interruptStatus, configGeneration: t.configGeneration, lastError: t.lastError,
    queues: t.queues.map((q) => ({
      size: q.size, ready: q.ready, descAddr: q.descAddr, availAddr: q.availAddr, usedAddr: q.usedAddr,
      lastAvail: q.lastAvail, usedIdx: q.usedIdx, signalledUsed: q.signalledUsed,
      eventIdx: q.eventIdx, indirect: q.indirect, halted: q.halted,
    })),
    device: t.device.save?.() ?? null,
  };
}

function readQueue(r: StateReader, dma: DmaMemory, maxSize: number): VirtQueueState {
  const addr = (name: string) => {
    const v = r.raw(name);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= MAX_ADDR) r.fail(name, 'expected a 64-bit address');
    return v;
  };
  const q: VirtQueueState = {
    // QueueNum is whatever the driver wrote until the queue is enabled.
    size: r.int('size', 0, U32), ready: r.bool('ready'),
    descAddr: addr('descAddr'), availAddr: addr('availAddr'), usedAddr: addr('usedAddr'),
    lastAvail: r.int('lastAvail', 0, 0xffff), usedIdx: r.int('usedIdx', 0, 0xffff), signalledUsed: r.int('signalledUsed', 0, 0xffff),
    eventIdx: r.bool('eventIdx'), indirect: r.bool('indirect'), halted: r.bool('halted'),
  };
  if (q.ready) {
    // A ready queue passed enable()'s checks once; run them again on a scratch queue.
    const scratch = Object.assign(new VirtQueue(dma, maxSize), q, { ready: false });
    try {
      scratch.enable();
    } catch (e) {
      if (e instanceof VirtioError) throw new SnapshotError(`${r.where}: ready queue with an invalid layout: ${e.message}`);
      throw e;
    }
  }
  return q;
}

/** Checks `state` against the transport (device type, queue count and sizes) and the
 *  device's own state, then applies it. The caller drives the interrupt line. */
export function restoreTransport(t: TransportFields, dma: DmaMemory, state: unknown, where: string): void {
  const r = StateReader.of(state, where);
  const deviceId = r.int('deviceId', 0, U32);
  if (deviceId !== t.device.deviceId) r.fail('deviceId', `the snapshot has device type ${deviceId}, this slot holds type ${t.device.deviceId}`);
  const negotiated = r.big('negotiated');
  const s = {
    status: r.int('status', 0, 0xff), deviceFeaturesSel: r.int('deviceFeaturesSel', 0, U32),
    driverFeaturesSel: r.int('driverFeaturesSel', 0, U32), queueSel: r.int('queueSel', 0, U32),
    interruptStatus: r.int('interruptStatus', 0, 3), configGeneration: r.int('configGeneration', 0, U32),
    lastError: r.str('lastError'),
  };
  if (s.status & FEATURES_OK && ((negotiated & ~t.offered) !== 0n || (negotiated & VIRTIO_F_VERSION_1) === 0n)) {
    r.fail('negotiated', 'FEATURES_OK with features the device does not offer or without VERSION_1');
  }
  const queues = r.objects('queues', t.queues.length).map((q, i) => readQueue(q, dma, t.queues[i].maxSize));
  const device = r.raw('device');
  // The device checks (and applies) its part last among the checks: past it nothing fails.
  if (t.device.restore) t.device.restore(device);
  else if (device !== null && device !== undefined) r.fail('device', 'state for a device that keeps none');
  Object.assign(t, s, { negotiated });
  queues.forEach((q, i) => Object.assign(t.queues[i], q));
}
