// Guest RAM in a snapshot: only pages holding something other than zeroes, grouped in
// runs of consecutive pages. Saving copies nothing: each run's bytes are a view of guest
// RAM, valid until the guest runs again, so a 2 GiB guest can be written to a file run by
// run without a second copy of its memory (snapshot-file.ts streams them).

import { PAGE_SIZE, type GuestMemory } from '../cpu/memory.js';
import { SnapshotError, StateReader } from '../devices/snapshot.js';

/** Pages per run at most, so that a reader never needs one huge buffer. */
export const MAX_RUN_PAGES = 256;

export interface RamRun {
  /** First guest page (index from the start of RAM). */
  page: number;
  /** A whole number of pages. */
  bytes: Uint8Array;
}

export interface RamSnapshot {
  pageSize: number;
  /** Pages of RAM in the machine that was saved. */
  pages: number;
  /** Non-zero pages, in ascending page order, not overlapping. */
  runs: RamRun[];
}

/** Whether the page at host offset `host` holds only zeroes (snapshots and migration
 *  leave such pages out). Eight words a step: most pages of a guest are zero, so this
 *  loop runs over most of its RAM. */
export function pageIsZero(mem: GuestMemory, host: number): boolean {
  const w = mem.i32;
  for (let i = host >> 2, end = (host + PAGE_SIZE) >> 2; i < end; i += 8) {
    if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) !== 0) return false;
  }
  return true;
}

export function saveRam(mem: GuestMemory): RamSnapshot {
  const runs: RamRun[] = [];
  let start = -1, host = 0, count = 0;
  const close = () => {
    if (count > 0) runs.push({ page: start, bytes: mem.u8.subarray(host, host + count * PAGE_SIZE) });
    count = 0;
  };
  for (let p = 0; p < mem.pages; p++) {
    const at = mem.hostOffset(mem.base + p * PAGE_SIZE);
    if (at < 0 || pageIsZero(mem, at)) { close(); continue; }
    // A run continues while guest pages are also consecutive host frames.
    if (count > 0 && (count === MAX_RUN_PAGES || at !== host + count * PAGE_SIZE)) close();
    if (count === 0) { start = p; host = at; }
    count++;
  }
  close();
  return { pageSize: PAGE_SIZE, pages: mem.pages, runs };
}

/** Checks a RAM section against `mem`; returns the function that writes it (pages not in
 *  the snapshot become zero). Every written page is marked dirty, which also drops
 *  translations of code on it. */
export function prepareRam(mem: GuestMemory, snapshot: unknown): () => void {
  const r = StateReader.of(snapshot, 'ram');
  if (r.int('pageSize', 1, 1 << 30) !== PAGE_SIZE) r.fail('pageSize', `pages are ${PAGE_SIZE} bytes`);
  const pages = r.int('pages', 0, 2 ** 32);
  if (pages !== mem.pages) r.fail('pages', `the snapshot has ${pages * PAGE_SIZE} bytes of RAM, this machine ${mem.size}`);
  let next = 0;
  const runs = r.objects('runs', { max: mem.pages }).map((run: StateReader) => {
    const page = run.int('page', 0, mem.pages - 1);
    const bytes = run.raw('bytes');
    if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length % PAGE_SIZE) run.fail('bytes', 'expected a whole number of pages');
    if (page < next) run.fail('page', 'runs overlap or are out of order');
    next = page + bytes.length / PAGE_SIZE;
    if (next > mem.pages) run.fail('bytes', 'the run goes past the end of RAM');
    return { page, bytes };
  });
  for (let p = 0; p < mem.pages; p++) {
    if (mem.hostOffset(mem.base + p * PAGE_SIZE) < 0) throw new SnapshotError(`guest page ${p} has no host frame to restore into`);
  }
  return () => {
    const zero = new Uint8Array(PAGE_SIZE);
    let k = 0;
    for (let p = 0; p < mem.pages; p++) {
      const at = mem.hostOffset(mem.base + p * PAGE_SIZE);
      const run = runs[k];
      if (run && p >= run.page) {
        const off = (p - run.page) * PAGE_SIZE;
        mem.u8.set(run.bytes.subarray(off, off + PAGE_SIZE), at);
        if (off + PAGE_SIZE === run.bytes.length) k++;
      } else if (mem.everWritten(p) && !pageIsZero(mem, at)) {
        // (A page nothing ever wrote is zero: most of a fresh machine's RAM.)
        mem.u8.set(zero, at);
      } else {
        continue;
      }
      mem.markDirty(mem.base + p * PAGE_SIZE);
    }
  };
}
