// Watches the guest console on its way to the terminal: notices a kernel panic, and in
// command mode hides the /init's exit-status line (the status becomes rvisor's own).

const PANIC = 'Kernel panic - not syncing';

export class OutputWatch {
  panicked = false;
  /** Bytes the guest has written, shown or not. */
  bytes = 0;
  private line = '';
  private held = '';

  constructor(
    private readonly marker: string,
    private readonly hideMarker: boolean,
    private readonly out: (bytes: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    const text = Buffer.from(bytes).toString('latin1');
    let pass = '';
    for (const ch of text) {
      this.line = ch === '\n' ? '' : (this.line + ch).slice(-64);
      if (this.line.includes(PANIC)) this.panicked = true;
      if (!this.hideMarker) { pass += ch; continue; }
      // Hold back a line while it could still turn out to be the marker.
      const candidate = this.held + ch;
      if (this.held === '' && ch !== this.marker[0]) { pass += ch; continue; }
      if (candidate.startsWith(this.marker) || this.marker.startsWith(candidate)) {
        this.held = candidate;
        if (ch === '\n') this.held = '';
        continue;
      }
      pass += candidate;
      this.held = '';
    }
    if (pass) this.out(Buffer.from(pass, 'latin1'));
  }

  flush(): void {
    if (this.held && !this.held.startsWith(this.marker)) this.out(Buffer.from(this.held, 'latin1'));
    this.held = '';
  }
}
