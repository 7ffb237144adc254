// The second stage of `debian-system`: boots the default image's kernel and initramfs on
// the new root disk, with the packages shared over 9p, and runs system-script.ts's
// script there (chrooted by /init's root= contract). The console goes to a log file in
// the pull's work directory; the script's step lines are the pull's progress, and a
// failure is reported with the log's last lines.

import { randomFillSync } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EXIT_MARKER, guestCommandLine } from './init-script.js';
import { ImageError } from './errors.js';
import { DEBS_TAG, secondStageCommand, STEP_MARKER } from './system-script.js';
import { DEFAULT_APPEND } from '../vm/boot-files.js';
import { nodeDevices } from '../vm/devices.js';
import { FileSnapshotStore } from '../vm/snapshot-store.js';
import { parseVmSpec } from '../../vmm/spec.js';
import { Vm } from '../../vmm/vm.js';

export interface ConfigureOptions {
  kernel: Uint8Array;
  initrd: Uint8Array;
  /** The qcow2 root disk, written in place. */
  disk: string;
  /** The directory shared as DEBS_TAG: the packages and the script. */
  share: string;
  /** The console log. */
  log: string;
  progress: (line: string) => void;
  /** Give up after this long (the guest hung). */
  timeoutMs?: number;
}

/** Guest RAM for the build: dpkg and the maintainer scripts, with room for tmpfs. */
const BUILD_MEMORY = 1024 * 2 ** 20;
const DEFAULT_TIMEOUT_MS = 90 * 60_000;

export async function configureSystem(o: ConfigureOptions): Promise<void> {
  const spec = parseVmSpec({
    memory: BUILD_MEMORY,
    harts: 1,
    boot: { image: 'debian', command: [] },
    disks: [{ file: o.disk, format: 'qcow2' }],
    nics: [],
    shares: [{ dir: o.share, tag: DEBS_TAG, readOnly: true }],
    exec: 'jit',
  });
  const append = `${DEFAULT_APPEND} root=/dev/vda ${guestCommandLine(secondStageCommand())}`;
  let status: number | undefined;
  let pending = '';
  const tail: string[] = [];
  const decoder = new TextDecoder();
  const vm: Vm = new Vm({
    spec,
    boot: { kernel: o.kernel, initrd: o.initrd, append },
    services: {
      openDevices: nodeDevices({ warn: (m) => o.progress(`warning: ${m}`) }),
      snapshots: new FileSnapshotStore(),
      entropy: (buf) => randomFillSync(buf),
      console: (bytes) => {
        appendFileSync(o.log, bytes);
        pending += decoder.decode(bytes, { stream: true });
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) {
          tail.push(line);
          if (tail.length > 30) tail.shift();
          if (line.startsWith(STEP_MARKER)) o.progress(line.slice(STEP_MARKER.length).trim());
          const at = line.indexOf(EXIT_MARKER);
          if (at >= 0 && status === undefined) {
            status = Number(line.slice(at + EXIT_MARKER.length).trim());
            setImmediate(() => vm.quit());
          }
        }
      },
    },
  });
  const timer = setTimeout(() => vm.quit(), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const exit = await vm.run();
    if (status === 0) return;
    const why = status !== undefined ? `exit status ${status}` : exit.kind === 'quit' ? 'it did not finish in time' : `the guest ended (${exit.kind})`;
    throw new ImageError(`installing the packages inside rvisor failed (${why}); the console's last lines:\n${tail.slice(-12).join('\n')}\n(whole log: ${o.log})`);
  } finally {
    clearTimeout(timer);
  }
}
