// The guest console on its way to the terminal: in command mode the /init's exit-status
// line is hidden (the status becomes rvisor's own). (The Vm itself watches for panics.)

export class OutputWatch {
  private held = '';

  constructor(
    private readonly marker: string,
    private readonly hideMarker: boolean,
    private readonly out: (bytes: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array): void {
    const text = Buffer.from(bytes).toString('latin1');
    let pass = '';
    for (const ch of text) {
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
