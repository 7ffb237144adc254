// Guest RAM across a migration. The sender reads pages straight out of guest memory
// while the guest runs, round by round: the first round sends every page, each later
// round the pages the dirty log caught since the previous one began (the log is taken
// before the pages are read, so a write during the read is caught for the next round).
// The receiver writes each page into the destination machine's RAM as it arrives, so
// the switch-over restores only the CPU and device state over it (restoreVirt with the
// RAM in place).

import { PAGE_SIZE, type GuestMemory } from '../../cpu/memory.js';
import { pageIsZero } from '../../machine/ram-snapshot.js';
import { decodeRam, encodeRam, MigrationError, type PageEntry } from './stream.js';

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
    return this.mem.dirtyCount();
  }

  /** RAM frame payloads for `pages`, PAGES_PER_FRAME at a time; each page is read as it
   *  is now (the bytes are copied into the payload, so the guest may go on running). */
  *frames(pages: readonly number[]): Generator<Uint8Array> {
    for (let at = 0; at < pages.length; at += PAGES_PER_FRAME) {
      const batch: PageEntry[] = pages.slice(at, at + PAGES_PER_FRAME).map((page) => {
        const host = this.mem.hostOffset(this.mem.base + page * PAGE_SIZE);
        if (host < 0) throw new MigrationError(`guest page ${page} has no host frame`);
        // A page nothing ever wrote is zero without looking (most of an idle guest).
        return !this.mem.everWritten(page) || pageIsZero(this.mem, host) ? { page } : { page, bytes: this.mem.u8.subarray(host, host + PAGE_SIZE) };
      });
      const payload = encodeRam(PAGE_SIZE, batch);
      this.pagesSent += batch.length;
      this.bytesSent += payload.length;
      yield payload;
    }
  }
}

const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

/**
 * Writes pages straight into the destination's guest RAM as they arrive: the machine
 * there is paused and has never run, so nothing else touches that memory, and the
 * switch-over has only the last round's pages and the device state left to apply.
 *
 * Zero pages are most of a guest, so they must cost next to nothing: a zero page is
 * written only over a page something wrote before (the loader's, or an earlier frame's;
 * GuestMemory.everWritten), since every other page is zero already.
 */
export class RamReceiver {
  pagesReceived = 0;

  constructor(private readonly mem: GuestMemory) {}

  /** Applies one RAM frame; throws MigrationError for a malformed one, before any page
   *  of it is written. */
  apply(payload: Uint8Array): void {
    const mem = this.mem;
    for (const e of decodeRam(payload, PAGE_SIZE, mem.pages)) {
      this.pagesReceived++;
      const pa = mem.base + e.page * PAGE_SIZE;
      const host = mem.hostOffset(pa);
      if (host < 0) throw new MigrationError(`guest page ${e.page} has no host frame here`);
      if (e.bytes) {
        mem.u8.set(e.bytes, host);
        mem.markDirty(pa);
      } else if (mem.everWritten(e.page)) {
        // set(), not fill(): fill() on shared memory is slow in V8.
        mem.u8.set(ZERO_PAGE, host);
      }
    }
  }
}
