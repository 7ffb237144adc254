// virtio-rng / entropy device (virtio 1.x §5.4): every writable buffer the guest posts
// comes back full of random bytes from the host's generator.

import { VIRTIO_ID_RNG, type VirtioDevice, type VirtioTransport } from './device.js';
import type { VirtQueue } from './queue.js';

/** crypto.getRandomValues refuses more than 65536 bytes per call. */
const FILL_CHUNK = 65536;
/** Bytes given per request at most: the spec lets the device return fewer than asked,
 *  and Linux asks for a page or less, so a huge buffer costs no more than this. */
export const RNG_MAX_REQUEST = 4 * FILL_CHUNK;

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = 0n;
  readonly queueCount = 1;
  readonly queueMaxSize = 64;
  private readonly buf = new Uint8Array(FILL_CHUNK);

  constructor(private readonly fill: (buf: Uint8Array) => void) {}

  readConfig(): number {
    return 0;
  }

  writeConfig(): void {
    // No config space.
  }

  attach(_transport: VirtioTransport): void {
    // Requests are served during the notify.
  }

  reset(): void {
    // Stateless.
  }

  process(_index: number, queue: VirtQueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const total = Math.min(chain.writableLength, RNG_MAX_REQUEST);
      for (let done = 0; done < total; done += FILL_CHUNK) {
        const part = this.buf.subarray(0, Math.min(FILL_CHUNK, total - done));
        this.fill(part);
        chain.write(done, part);
      }
      queue.push(chain.head, total);
    }
  }
}
