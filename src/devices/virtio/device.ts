// The contract between a virtio device model (blk, net, ...) and its transport
// (virtio-mmio). The transport owns registers, status, feature negotiation, queues and
// interrupts; a device owns its config space and what its requests mean.

import type { VirtQueue } from './queue.js';

export const VIRTIO_F_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;

export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;
export const VIRTIO_ID_9P = 9;

/** What a device sees of its transport. */
export interface VirtioTransport {
  /** Feature bits the driver accepted (meaningful once FEATURES_OK is set). */
  readonly negotiated: bigint;
  /** Runs `work` against queue `index` when the driver has set DRIVER_OK, the queue is
   *  ready and the device is not waiting for a reset; then raises the used-buffer
   *  interrupt at most once, as the queue's suppression rules allow. A VirtioError (or
   *  any exception) from `work` sets DEVICE_NEEDS_RESET instead of propagating. Devices
   *  call it for work that completes outside a notify (a frame arriving from the host).
   *  Returns whether `work` ran. */
  run(index: number, work: (queue: VirtQueue) => void): boolean;
  /** The config space changed: bumps ConfigGeneration and raises the config interrupt. */
  configChanged(): void;
}

export interface VirtioDevice {
  readonly deviceId: number;
  /** Device-specific feature bits offered; the transport adds VERSION_1, INDIRECT_DESC
   *  and EVENT_IDX. */
  readonly features: bigint;
  readonly queueCount: number;
  /** QueueNumMax of every queue. */
  readonly queueMaxSize: number;
  /** Config space access at `offset` (relative to 0x100), 1, 2 or 4 bytes, little-endian;
   *  bytes past the device's config read 0. */
  readConfig(offset: number, size: number): number;
  writeConfig(offset: number, size: number, value: number): void;
  /** Called once by the transport's constructor. */
  attach(transport: VirtioTransport): void;
  /** The driver notified queue `index` (or set DRIVER_OK): consume what is available. */
  process(index: number, queue: VirtQueue): void;
  /** The driver reset the device: drop in-flight state (the transport resets queues). */
  reset(): void;
  /** Plain state beyond the transport's (snapshot.ts conventions); absent: none. */
  save?(): unknown;
  /** Checks `state` (throwing SnapshotError and changing nothing) and applies it. */
  restore?(state: unknown): void;
}

/** Little-endian read of `size` bytes of a config image; 0 outside it. */
export function readConfigBytes(config: Uint8Array, offset: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (offset + i < config.length ? config[offset + i] : 0);
  return v;
}
