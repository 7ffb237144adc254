// Reads the guest's console output for the one line that matters to the VMM: Linux's
// "Kernel panic - not syncing". A panicked guest is ended (and reported) rather than left
// spinning or rebooting into the same panic.

const PANIC = 'Kernel panic - not syncing';

export class PanicWatch {
  panicked = false;
  /** Bytes the guest has written. */
  bytes = 0;
  private line = '';

  write(bytes: Uint8Array): void {
    this.bytes += bytes.length;
    if (this.panicked) return;
    for (const b of bytes) {
      // The tail of the current line is enough: the marker is shorter than 64 bytes.
      this.line = b === 0x0a ? '' : (this.line + String.fromCharCode(b)).slice(-64);
      if (this.line.endsWith(PANIC)) this.panicked = true;
    }
  }
}
