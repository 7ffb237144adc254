// SiFive test finisher ("sifive,test0" syscon): one register through which the guest
// powers the machine off or resets it. The device only reports; the machine decides what
// stopping means, so an embedding (a browser worker, a test) is never torn down by it.

import type { MmioDevice } from './mmio.js';

/** Linux's syscon-poweroff/reboot use 32-bit writes; 16-bit stores of the code also work. */
export const TEST_WIDTHS = 2 | 4;

export type TestEvent = { kind: 'poweroff'; code: number } | { kind: 'reset' };

const FINISHER_FAIL = 0x3333;
const FINISHER_PASS = 0x5555;
const FINISHER_RESET = 0x7777;

export class SifiveTest implements MmioDevice {
  constructor(private readonly onEvent: (event: TestEvent) => void) {}

  read(_offset: number, _size: number): number {
    return 0;
  }

  write(offset: number, _size: number, value: number): void {
    if (offset !== 0) return;
    switch (value & 0xffff) {
      case FINISHER_PASS:
        this.onEvent({ kind: 'poweroff', code: 0 });
        break;
      case FINISHER_FAIL:
        // The upper half carries the exit status.
        this.onEvent({ kind: 'poweroff', code: value >>> 16 });
        break;
      case FINISHER_RESET:
        this.onEvent({ kind: 'reset' });
        break;
      // Anything else is not a command and is ignored.
    }
  }
}
