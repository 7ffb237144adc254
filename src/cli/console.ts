// The terminal side of a guest's serial console: raw mode, and QEMU's Ctrl-A escapes
// (Ctrl-A X quits, or detaches from a daemon's VM; Ctrl-A C switches between the guest
// and the monitor; Ctrl-A H lists keys; Ctrl-A Ctrl-A sends a literal Ctrl-A).

const CTRL_A = 0x01;

function help(h: ConsoleHandlers): string {
  return ['', 'C-a h    print this help', `C-a x    ${h.detaches ? 'detach (the VM keeps running)' : 'exit rvisor'}`,
    ...(h.toggleMonitor ? ['C-a c    switch between the console and the monitor'] : []), 'C-a C-a  send C-a to the guest', '']
    .join('\r\n');
}

export interface ConsoleHandlers {
  /** Bytes typed for the guest. */
  input(bytes: Uint8Array): void;
  quit(): void;
  /** Ctrl-A C: the monitor takes the keyboard, or gives it back. */
  toggleMonitor?(): void;
  /** quit() detaches from a VM that goes on running (`rvisor console`), rather than ends it. */
  detaches?: boolean;
}

export class TerminalConsole {
  private escape = false;
  private readonly onData = (chunk: Buffer) => this.feed(chunk);
  private raw = false;

  constructor(private readonly handlers: ConsoleHandlers) {}

  /** Starts reading stdin; raw mode only when it is a terminal. */
  start(): void {
    const stdin = process.stdin;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      this.raw = true;
    }
    stdin.on('data', this.onData);
    stdin.resume();
  }

  /** Restores the terminal; safe to call more than once. */
  stop(): void {
    const stdin = process.stdin;
    stdin.off('data', this.onData);
    if (this.raw) {
      stdin.setRawMode(false);
      this.raw = false;
    }
    stdin.pause();
  }

  /** Interprets escapes when attached to a terminal; a pipe passes through unchanged. */
  feed(chunk: Uint8Array): void {
    if (!this.raw) {
      this.handlers.input(chunk);
      return;
    }
    const out: number[] = [];
    for (const b of chunk) {
      if (this.escape) {
        this.escape = false;
        const key = String.fromCharCode(b).toLowerCase();
        if (key === 'x') {
          this.flush(out);
          process.stderr.write(`\r\nrvisor: ${this.handlers.detaches ? 'detached by C-a x (the VM keeps running)' : 'terminated by C-a x'}\r\n`);
          this.handlers.quit();
          return;
        }
        if (key === 'c' && this.handlers.toggleMonitor) {
          this.flush(out);
          out.length = 0;
          this.handlers.toggleMonitor();
        } else if (key === 'h') process.stderr.write(help(this.handlers));
        else if (b === CTRL_A) out.push(CTRL_A);
        continue;
      }
      if (b === CTRL_A) this.escape = true;
      else out.push(b);
    }
    this.flush(out);
  }

  private flush(out: number[]): void {
    if (out.length) this.handlers.input(Uint8Array.from(out));
  }
}
