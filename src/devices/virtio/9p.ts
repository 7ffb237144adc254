// virtio-9p (the transport Linux's 9p "trans=virtio" uses): one request queue, each chain
// one 9P request in its readable part and room for the reply in its writable part. The
// device is only a pipe; the NinePServer gives every message its meaning.

import type { NinePServer } from '../ninep.js';
import { StateReader } from '../snapshot.js';
import { readConfigBytes, VIRTIO_ID_9P, type VirtioDevice, type VirtioTransport } from './device.js';
import type { VirtQueue } from './queue.js';

export const VIRTIO_9P_MOUNT_TAG = 1n << 0n;
/** Larger than any msize Linux negotiates over virtio; a bigger message is refused
 *  (answered with nothing) rather than buffered. */
export const NINEP_MAX_MESSAGE = 8 * 1024 * 1024;

export class Virtio9p implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_9P;
  readonly features = VIRTIO_9P_MOUNT_TAG;
  readonly queueCount = 1;
  readonly queueMaxSize = 128;
  private readonly config: Uint8Array;

  constructor(private readonly server: NinePServer) {
    const tag = new TextEncoder().encode(server.tag);
    if (tag.length === 0 || tag.length > 0xffff) throw new RangeError('a 9p mount tag is 1 to 65535 bytes');
    // struct virtio_9p_config { le16 tag_len; u8 tag[tag_len]; }
    this.config = new Uint8Array(2 + tag.length);
    this.config[0] = tag.length & 0xff;
    this.config[1] = tag.length >> 8;
    this.config.set(tag, 2);
  }

  /** The tag, and the server's session if it can save one: the guest's fids live in the
   *  server as open host files, which cannot cross into another process, so a server
   *  saves them as paths and reopens them (src/share/snapshot.ts). A server that cannot
   *  answers the restored guest's fids with Rlerror(EBADF) and its mounts fail. */
  save(): { tag: string; server: unknown } {
    return { tag: this.server.tag, server: this.server.save?.() ?? null };
  }

  restore(state: unknown): void {
    const r = StateReader.of(state, 'virtio-9p');
    if (r.str('tag', 0x10000) !== this.server.tag) r.fail('tag', `this share's tag is ${JSON.stringify(this.server.tag)}`);
    const server = r.raw('server');
    if (server !== null && server !== undefined) this.server.restore?.(server);
  }

  readConfig(offset: number, size: number): number {
    return readConfigBytes(this.config, offset, size);
  }

  writeConfig(): void {
    // The tag is read-only.
  }

  attach(_transport: VirtioTransport): void {
    // Replies are produced during the notify.
  }

  reset(): void {
    // Fids live in the server; a new attach starts them over.
  }

  process(_index: number, queue: VirtQueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (chain.readableLength > NINEP_MAX_MESSAGE) {
        queue.push(chain.head, 0);
        continue;
      }
      const room = Math.min(chain.writableLength, NINEP_MAX_MESSAGE);
      const reply = this.server.handle(chain.gather(), room);
      // A reply larger than the room given is cut to it; the driver sees a short message
      // (the size field says more) and fails that request only.
      const n = chain.write(0, reply.subarray(0, room));
      queue.push(chain.head, n);
    }
  }
}
