// The guest console on its way to the terminal: lines that are /init's messages to the
// VMM are taken out of it (in command mode the exit-status line, whose status becomes
// rvisor's own; the boot-snapshot point, always) and reported. (The Vm itself watches for
// panics.)

export interface Marker {
  /** The line starts with this. */
  text: string;
  /** Called once the whole line has passed (without its newline). */
  seen?: (line: string) => void;
  /** Also where a line has begun already (the exit status follows a command's output,
   *  which need not end in a newline). Otherwise only at a line's start. */
  anywhere?: boolean;
}

export class OutputWatch {
  private held = '';
  /** Most markers are whole lines: only a line's first characters are held back for
   *  them, so typing at a prompt echoes at once. */
  private lineStart = true;
  private heldAtLineStart = true;

  constructor(
    private readonly markers: readonly Marker[],
    private readonly out: (bytes: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array): void {
    const text = Buffer.from(bytes).toString('latin1');
    let pass = '';
    const startsMarker = (ch: string) => this.markers.some((m) => m.text[0] === ch && (m.anywhere || this.lineStart));
    for (const ch of text) {
      if (this.held !== '') {
        // Hold back a line while it could still turn out to be a marker.
        const candidate = this.held + ch;
        const marker = this.markers.find((m) => (m.anywhere || this.heldAtLineStart) && (candidate.startsWith(m.text) || m.text.startsWith(candidate)));
        if (marker) {
          this.held = candidate;
          if (ch === '\n') {
            this.held = '';
            this.lineStart = true;
            if (candidate.startsWith(marker.text)) marker.seen?.(candidate.replace(/\r?\n$/, ''));
          }
          continue;
        }
        // Not a marker after all; this character may still begin one ("barrvisor-...").
        pass += this.held;
        this.held = '';
        this.lineStart = false;
      }
      if (startsMarker(ch)) {
        this.heldAtLineStart = this.lineStart;
        this.held = ch;
        continue;
      }
      pass += ch;
      this.lineStart = ch === '\n';
    }
    if (pass) this.out(Buffer.from(pass, 'latin1'));
  }

  flush(): void {
    if (this.held && !this.markers.some((m) => this.held.startsWith(m.text))) this.out(Buffer.from(this.held, 'latin1'));
    this.held = '';
  }
}
