// The guest console on its way to the terminal: lines that are /init's messages to the
// VMM are taken out of it (in command mode the exit-status line, whose status becomes
// rvisor's own; the boot-snapshot point, always) and reported. (The Vm itself watches for
// panics.)

export interface Marker {
  /** The line starts with this. */
  text: string;
  /** Called once the whole line has passed (without its newline). */
  seen?: (line: string) => void;
}

export class OutputWatch {
  private held = '';

  constructor(
    private readonly markers: readonly Marker[],
    private readonly out: (bytes: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array): void {
    const text = Buffer.from(bytes).toString('latin1');
    let pass = '';
    for (const ch of text) {
      // Hold back a line while it could still turn out to be a marker.
      if (this.held === '' && !this.markers.some((m) => m.text[0] === ch)) { pass += ch; continue; }
      const candidate = this.held + ch;
      const marker = this.markers.find((m) => candidate.startsWith(m.text) || m.text.startsWith(candidate));
      if (marker) {
        this.held = candidate;
        if (ch === '\n') {
          this.held = '';
          if (candidate.startsWith(marker.text)) marker.seen?.(candidate.replace(/\r?\n$/, ''));
        }
        continue;
      }
      pass += candidate;
      this.held = '';
    }
    if (pass) this.out(Buffer.from(pass, 'latin1'));
  }

  flush(): void {
    if (this.held && !this.markers.some((m) => this.held.startsWith(m.text))) this.out(Buffer.from(this.held, 'latin1'));
    this.held = '';
  }
}
