// Packet capture to a file tcpdump and Wireshark read (classic pcap). Written
// synchronously, frame by frame, so a capture is complete up to the last frame even when
// the VM is killed; capture is a debugging aid, not a fast path.

import { closeSync, openSync, writeSync } from 'node:fs';
import { pcapFileHeader, pcapRecord } from '../../net/switch/index.js';

export class PcapFile {
  private fd: number | null;
  private failed = false;

  /** Creates (or truncates) `path`; throws a clear Error when it cannot. */
  constructor(readonly path: string, private readonly warn: (message: string) => void = () => {}) {
    try {
      this.fd = openSync(path, 'w', 0o644);
    } catch (e) {
      throw new Error(`cannot write capture file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.write(pcapFileHeader());
  }

  record(frame: Uint8Array): void {
    this.write(pcapRecord(frame, Date.now()));
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private write(bytes: Uint8Array): void {
    if (this.fd === null || this.failed) return;
    try {
      writeSync(this.fd, bytes);
    } catch (e) {
      // A full disk stops the capture, never the VM.
      this.failed = true;
      this.warn(`capture file ${this.path}: ${(e as Error).message}; capture stopped`);
    }
  }
}
