// Turns `rvisor run`'s device options into the backends the board's virtio devices use:
// disk images, the user-mode NAT, shared directories, the host's CSPRNG. Everything opened
// here is closed by close(), whatever way the run ends.

import { randomFillSync } from 'node:crypto';
import type { BlockBackend } from '../devices/block.js';
import type { VirtioConfig } from '../machine/virtio-slots.js';
import { UserNet } from '../net/index.js';
import { DirectoryShare } from '../share/index.js';
import { DiskError, explainErrno, openDisk } from '../storage/index.js';
import { ShareError } from '../share/index.js';
import type { DiskSpec, PublishSpec, ShareSpec } from './device-args.js';
import { UsageError } from './errors.js';

export interface DeviceOptions {
  disks: readonly DiskSpec[];
  /** 'user': one NIC on the user-mode NAT (QEMU's default); 'none': no network. */
  net: 'user' | 'none';
  publish: readonly PublishSpec[];
  shares: readonly ShareSpec[];
  /** Where the virtio console's output goes; absent: no virtio console. */
  console?: (bytes: Uint8Array) => void;
}

export interface VmDevices {
  virtio: VirtioConfig;
  close(): void;
}

/** QEMU's default NIC address for the first card (52:54:00:12:34:56). */
const DEFAULT_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

export async function openDevices(o: DeviceOptions): Promise<VmDevices> {
  const closers: (() => void)[] = [];
  const close = () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        c();
      } catch {
        // Closing is best effort: a disk that failed to flush already said so.
      }
    }
  };
  try {
    const disks: BlockBackend[] = [];
    for (const d of o.disks) {
      const warn = (m: string) => process.stderr.write(`rvisor: warning: --disk ${m}\n`);
      const disk = userError(`--disk ${d.file}`, () => openDisk({ file: d.file, format: d.format, readOnly: d.readOnly, serial: d.serial, warn }));
      closers.push(() => disk.close());
      disks.push(disk);
    }
    const shares = o.shares.map((s) => {
      const share = userError(`--share ${s.dir}`, () => new DirectoryShare({ root: s.dir, tag: s.tag, readOnly: s.readOnly }));
      closers.push(() => share.close());
      return share;
    });
    const nics = [];
    if (o.net === 'user') {
      const nat = new UserNet({ publish: o.publish.map((p) => ({ ...p })) });
      closers.push(() => nat.close());
      await nat.start().catch((e: Error) => {
        throw new UsageError(`--publish: ${e.message}`);
      });
      nics.push({ mac: DEFAULT_MAC, link: nat });
    }
    const virtio: VirtioConfig = { disks, nics, shares, rng: (buf) => randomFillSync(buf), console: o.console };
    return { virtio, close };
  } catch (e) {
    close();
    throw e;
  }
}

/** A bad image or directory is the user's to fix: one clear line, exit status 2. */
function userError<T>(what: string, open: () => T): T {
  try {
    return open();
  } catch (e) {
    if (e instanceof DiskError || e instanceof ShareError) throw new UsageError(`${what}: ${e.message}`);
    // runVirt checked the paths, but a file can change before a reset reopens it.
    const why = explainErrno(e);
    if (why) throw new UsageError(`${what}: ${why}`);
    throw e;
  }
}
