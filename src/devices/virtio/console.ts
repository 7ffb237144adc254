// virtio-console (virtio 1.x §5.3) with a single port and no MULTIPORT: receiveq 0 carries
// host input to the guest (hvc0), transmitq 1 carries guest output to the sink. Input
// waits in a bounded buffer until the guest posts receive buffers.

import type { ByteSink } from '../mmio.js';
import { StateReader } from '../snapshot.js';
import { VIRTIO_ID_CONSOLE, type VirtioDevice, type VirtioTransport } from './device.js';
import type { VirtQueue } from './queue.js';

export const CONSOLE_RX = 0;
export const CONSOLE_TX = 1;
/** Host input held while the guest has no buffer posted (a paste, early boot). */
export const CONSOLE_INPUT_CAPACITY = 64 * 1024;
/** Guest output reaches the sink in pieces of at most this size. */
const OUT_CHUNK = 64 * 1024;

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = 0n;
  readonly queueCount = 2;
  readonly queueMaxSize = 64;
  private transport: VirtioTransport | undefined;
  /** Input not yet given to the guest, oldest first. */
  pending: number[] = [];

  constructor(private readonly sink: ByteSink) {}

  /** Host input for the guest. Returns how many bytes were taken; the rest did not fit
   *  and may be offered again later. */
  input(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, CONSOLE_INPUT_CAPACITY - this.pending.length);
    for (let i = 0; i < n; i++) this.pending.push(bytes[i]);
    if (n > 0) this.transport?.run(CONSOLE_RX, (q) => this.receive(q));
    return n;
  }

  save(): { pending: Uint8Array } {
    return { pending: Uint8Array.from(this.pending) };
  }

  restore(state: unknown): void {
    const pending = StateReader.of(state, 'virtio-console').bytes('pending', { max: CONSOLE_INPUT_CAPACITY });
    this.pending = Array.from(pending);
  }

  readConfig(): number {
    // cols, rows, max_nr_ports, emerg_wr: meaningful only with features not offered.
    return 0;
  }

  writeConfig(): void {
    // Nothing writable without VIRTIO_CONSOLE_F_EMERG_WRITE.
  }

  attach(transport: VirtioTransport): void {
    this.transport = transport;
  }

  reset(): void {
    // Input typed before the driver comes back stays: it was meant for the console.
  }

  process(index: number, queue: VirtQueue): void {
    if (index === CONSOLE_RX) this.receive(queue);
    else if (index === CONSOLE_TX) this.transmit(queue);
  }

  private receive(queue: VirtQueue): void {
    while (this.pending.length > 0) {
      const chain = queue.pop();
      if (!chain) return;
      const n = Math.min(chain.writableLength, this.pending.length);
      chain.write(0, Uint8Array.from(this.pending.slice(0, n)));
      this.pending.splice(0, n);
      queue.push(chain.head, n);
    }
  }

  private transmit(queue: VirtQueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      for (let done = 0; done < chain.readableLength; done += OUT_CHUNK) {
        const part = new Uint8Array(Math.min(OUT_CHUNK, chain.readableLength - done));
        chain.read(done, part);
        this.sink(part);
      }
      queue.push(chain.head, 0);
    }
  }
}
