// The Berkeley host-target interface as Spike and QEMU's `spike` board provide it: a
// `tohost`/`fromhost` pair of 64-bit words in guest RAM, found by ELF symbol and polled
// by the run loop. Bare-metal test programs report their result through it.
//
// tohost = device << 56 | command << 48 | payload
//   device 0, command 0, payload odd:  exit with code payload >> 1
//   device 0, command 0, payload even: syscall proxy; payload points at 8 words
//                                      [number, a0, a1, ...]; write (64) is supported
//   device 1, command 1:               console putchar (payload & 0xff)

import type { GuestMemory } from '../cpu/memory.js';

const SYS_WRITE = 64;
const ENOSYS = 38;

export type HtifEvent = { kind: 'exit'; code: number } | undefined;

export class Htif {
  constructor(
    private readonly mem: GuestMemory,
    readonly tohost: number,
    readonly fromhost: number | undefined,
    private readonly output: (bytes: Uint8Array) => void,
  ) {}

  /** Handles a pending request, if any. */
  poll(): HtifEvent {
    const dv = this.mem.dv;
    const host = this.mem.hostOffset(this.tohost);
    const lo = dv.getUint32(host, true);
    const hi = dv.getUint32(host + 4, true);
    if (lo === 0 && hi === 0) return undefined;
    dv.setUint32(host, 0, true);
    dv.setUint32(host + 4, 0, true);
    const device = hi >>> 24;
    const command = (hi >>> 16) & 0xff;
    const payload = (hi & 0xffff) * 4294967296 + lo;
    if (device === 0 && command === 0) {
      if (payload % 2 === 1) return { kind: 'exit', code: Math.floor(payload / 2) };
      this.syscall(payload);
      this.ack(1);
    } else if (device === 1 && command === 1) {
      this.output(Uint8Array.of(lo & 0xff));
      this.ack(((1 << 24) | (1 << 16)) * 4294967296);
    }
    return undefined;
  }

  private ack(value: number): void {
    if (this.fromhost === undefined) return;
    const host = this.mem.hostOffset(this.fromhost);
    this.mem.dv.setUint32(host, value % 4294967296, true);
    this.mem.dv.setUint32(host + 4, Math.floor(value / 4294967296), true);
  }

  private syscall(addr: number): void {
    if (!this.mem.isRam(addr, 64)) return;
    const args = this.mem.read(addr, 64);
    const dv = new DataView(args.buffer);
    const word = (i: number) => dv.getUint32(i * 8 + 4, true) * 4294967296 + dv.getUint32(i * 8, true);
    let result = -ENOSYS;
    if (word(0) === SYS_WRITE) {
      const buf = word(2), len = word(3);
      if ((word(1) === 1 || word(1) === 2) && len < 1 << 24 && this.mem.isRam(buf, len)) {
        this.output(this.mem.read(buf, len));
        result = len;
      } else {
        result = -9; // EBADF / EFAULT: either way the guest sees a failure
      }
    }
    const out = new DataView(new ArrayBuffer(8));
    out.setBigInt64(0, BigInt(result), true);
    this.mem.write(addr, new Uint8Array(out.buffer));
  }
}
