// Guest RAM across a migration. The sender reads pages straight out of guest memory
// while the guest runs, round by round: the first round sends every page, each later
// round the pages the dirty log caught since the previous one began (the log is taken
// before the pages are read, so a write during the read is caught for the next round).
// The receiver keeps the latest copy of each page that is not zero and, at the end,
// hands the existing snapshot restore a RamSnapshot, so a migrated machine is restored
// by the same validated path as a snapshot file.

import { PAGE_SIZE, type GuestMemory } from '../../cpu/memory.js';
import type { RamRun, RamSnapshot } from '../../machine/ram-snapshot.js';
import { decodeRam, encodeRam, MigrationError } from './stream.js';

/** Pages per RAM frame: 4 MiB of data at most, so a frame is written without a stall. */
export const PAGES_PER_FRAME = 1024;

export class RamSender {
  /** Pages sent so far, and how many of them went as zero pages (for query-migrate). */
  pagesSent = 0;
  bytesSent = 0;
  private started = false;

  constructor(private readonly mem: GuestMemory) {}

  /** The pages of the next round: all of them the first time, then those dirtied since. */
  nextRound(): number[] {
    // Taking the log clears it (and drops writable TLB entries, so the next write to
    // any page marks it again).
    const dirty = this.mem.takeDirty();
    if (this.started) return dirty;
    this.started = true;
    return Array.from({ length: this.mem.pages }, (_, i) => i);
  }

  /** Pages that are dirty now, without taking them (the expected-downtime figure). */
  dirtyCount(): number {
    let n = 0;
    const d = this.mem.dirty;
    for (let i = 0; i < d.length; i++) n += d[i];
    return n;
  }

  /** RAM frame payloads for `pages`, PAGES_PER_FRAME at a time; each page is read as it
   *  is now (the bytes are copied into the payload, so the guest may go on running). */
  *frames(pages: readonly number[]): Generator<Uint8Array> {
    for (let at = 0; at < pages.length; at += PAGES_PER_FRAME) {
      const batch = pages.slice(at, at + PAGES_PER_FRAME).map((page) => {
        const host = this.mem.hostOffset(this.mem.base + page * PAGE_SIZE);
        if (host < 0) throw new MigrationError(`guest page ${page} has no host frame`);
        return { page, bytes: this.mem.u8.subarray(host, host + PAGE_SIZE) };
      });
      const payload = encodeRam(PAGE_SIZE, batch);
      this.pagesSent += batch.length;
      this.bytesSent += payload.length;
      yield payload;
    }
  }
}

export class RamReceiver {
  /** The latest non-zero contents of each page received. */
  private readonly pages = new Map<number, Uint8Array>();
  pagesReceived = 0;

  constructor(readonly pageCount: number) {}

  /** Applies one RAM frame; throws MigrationError for a malformed one. */
  apply(payload: Uint8Array): void {
    for (const e of decodeRam(payload, PAGE_SIZE, this.pageCount)) {
      this.pagesReceived++;
      if (e.bytes) this.pages.set(e.page, e.bytes.slice());
      else this.pages.delete(e.page);
    }
  }

  /** RAM as the snapshot restore takes it: consecutive pages in runs, ascending. */
  snapshot(): RamSnapshot {
    const order = [...this.pages.keys()].sort((a, b) => a - b);
    const runs: RamRun[] = [];
    for (let i = 0; i < order.length;) {
      let j = i + 1;
      while (j < order.length && order[j] === order[j - 1] + 1 && j - i < 256) j++;
      const bytes = new Uint8Array((j - i) * PAGE_SIZE);
      for (let k = i; k < j; k++) bytes.set(this.pages.get(order[k])!, (k - i) * PAGE_SIZE);
      runs.push({ page: order[i], bytes });
      i = j;
    }
    return { pageSize: PAGE_SIZE, pages: this.pageCount, runs };
  }
}
