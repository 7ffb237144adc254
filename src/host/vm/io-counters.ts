// Counts a VM's disk and network traffic on its way between the virtio devices and their
// backends, for the daemon's metrics and its "last activity" (VM sprawl). Wrappers, so
// neither the devices nor the backends know about them.

import type { BlockBackend } from '../../devices/block.js';
import type { EthernetEndpoint, EthernetPort } from '../../devices/ethernet.js';

export class IoCounters {
  diskReadBytes = 0;
  diskWriteBytes = 0;
  diskRequests = 0;
  netRxBytes = 0;
  netTxBytes = 0;
  netRxFrames = 0;
  netTxFrames = 0;

  disk(inner: BlockBackend): BlockBackend {
    const count = (bytes = 0, field?: 'diskReadBytes' | 'diskWriteBytes') => {
      this.diskRequests++;
      if (field) this[field] += bytes;
    };
    return {
      get size() { return inner.size; },
      get readOnly() { return inner.readOnly; },
      get serial() { return inner.serial; },
      read: (offset, dest) => { count(dest.length, 'diskReadBytes'); inner.read(offset, dest); },
      write: (offset, src) => { count(src.length, 'diskWriteBytes'); inner.write(offset, src); },
      flush: () => { count(); inner.flush(); },
      discard: (offset, length) => { count(); inner.discard(offset, length); },
      writeZeroes: (offset, length, unmap) => { count(); inner.writeZeroes(offset, length, unmap); },
      close: () => inner.close(),
    };
  }

  /** `link` as the NIC sees it: frames to the guest are rx, frames from it tx. */
  link(inner: EthernetEndpoint): EthernetEndpoint {
    return {
      connect: (peer: EthernetPort) => inner.connect({
        deliver: (frame) => {
          this.netRxFrames++;
          this.netRxBytes += frame.length;
          peer.deliver(frame);
        },
      }),
      deliver: (frame) => {
        this.netTxFrames++;
        this.netTxBytes += frame.length;
        inner.deliver(frame);
      },
    };
  }
}
