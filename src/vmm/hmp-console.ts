// The monitor on the terminal (Ctrl-A C, as in QEMU's -serial mon:stdio): a line editor
// over raw-mode input with QEMU's banner and "(qemu) " prompt. The console switches
// between the guest and this; it only feeds bytes and prints what comes back.

import { Hmp, QEMU_VERSION } from './hmp.js';

const PROMPT = '(qemu) ';

export class MonitorConsole {
  private line = '';
  private lastWasCr = false;
  /** Commands run one at a time; typing during a slow savevm is queued, not lost. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly hmp: Hmp, private readonly write: (text: string) => void) {}

  /** Shows the banner and prompt (on every switch to the monitor, as QEMU does). */
  open(): void {
    const v = QEMU_VERSION;
    this.write(`QEMU ${v.major}.${v.minor}.${v.micro} monitor - type 'help' for more information\r\n${PROMPT}${this.line}`);
  }

  /** Raw terminal bytes typed while the monitor is shown. */
  input(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (b === 0x0d || b === 0x0a) {
        // A CRLF pair from some terminals must not run the line twice.
        if (b === 0x0a && this.lastWasCr) { this.lastWasCr = false; continue; }
        this.lastWasCr = b === 0x0d;
        this.write('\r\n');
        const line = this.line;
        this.line = '';
        this.queue = this.queue.then(async () => {
          const out = line.trim() ? await this.hmp.execute(line) : '';
          this.write(out + PROMPT);
        });
        continue;
      }
      this.lastWasCr = false;
      if (b === 0x7f || b === 0x08) {
        if (this.line.length) {
          this.line = this.line.slice(0, -1);
          this.write('\b \b');
        }
      } else if (b === 0x15) {
        // Ctrl-U: erase the line.
        this.write('\b \b'.repeat(this.line.length));
        this.line = '';
      } else if (b >= 0x20 && b < 0x7f) {
        this.line += String.fromCharCode(b);
        this.write(String.fromCharCode(b));
      }
      // Other control bytes (arrows' escape sequences, tabs) are ignored.
    }
  }

  /** Resolves when every typed command has finished (tests, orderly quit). */
  idle(): Promise<void> {
    return this.queue;
  }
}
