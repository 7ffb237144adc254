// The switch's forwarding database: (VLAN, MAC) -> port, learned from source addresses.
// Bounded: a guest that floods random source addresses evicts the oldest entries, never
// grows the host's memory. Entries age out after `ageMs` without a frame from that
// address (Linux bridge default: 300 s).

export interface MacEntry {
  readonly vid: number;
  readonly mac: number;
  port: number;
  seenAt: number;
}

export interface LearnResult {
  /** The address was known on another port and moved (a migrated guest, or a spoofer). */
  moved: boolean;
  /** An entry was evicted to make room. */
  evicted: boolean;
}

export class MacTable {
  // (VLAN, MAC) is 60 bits, past a double's exact range, so lookups go VLAN first.
  private readonly byVlan = new Map<number, Map<number, MacEntry>>();
  // Every entry in the order it was last refreshed (a Set keeps insertion order):
  // the first is always the least recently seen, the next to evict or age out.
  private readonly order = new Set<MacEntry>();

  constructor(readonly limit: number, readonly ageMs: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`MAC table size ${limit}: a positive integer`);
  }

  get size(): number {
    return this.order.size;
  }

  lookup(vid: number, mac: number, now: number): number | undefined {
    const e = this.byVlan.get(vid)?.get(mac);
    if (!e) return undefined;
    if (now - e.seenAt > this.ageMs) {
      this.remove(e);
      return undefined;
    }
    return e.port;
  }

  learn(vid: number, mac: number, port: number, now: number): LearnResult {
    let macs = this.byVlan.get(vid);
    const e = macs?.get(mac);
    if (e) {
      const moved = e.port !== port;
      e.port = port;
      // Re-inserting on every frame would cost on the hot path; once a second keeps the
      // order right for ageing measured in seconds.
      if (moved || now - e.seenAt > 1000) {
        e.seenAt = now;
        this.order.delete(e);
        this.order.add(e);
      }
      return { moved, evicted: false };
    }
    let evicted = false;
    if (this.order.size >= this.limit) {
      const oldest = this.order.values().next();
      if (!oldest.done) this.remove(oldest.value);
      evicted = true;
    }
    if (!macs) this.byVlan.set(vid, (macs = new Map()));
    const entry: MacEntry = { vid, mac, port, seenAt: now };
    macs.set(mac, entry);
    this.order.add(entry);
    return { moved: false, evicted };
  }

  /** Drops entries not refreshed within ageMs; returns how many. */
  age(now: number): number {
    let n = 0;
    for (const e of this.order) {
      if (now - e.seenAt <= this.ageMs) break; // the rest were seen later
      this.remove(e);
      n++;
    }
    return n;
  }

  /** Forgets every address learned on `port` (the port went away). */
  flushPort(port: number): void {
    for (const e of this.order) if (e.port === port) this.remove(e);
  }

  list(now: number): MacEntry[] {
    return [...this.order].filter((e) => now - e.seenAt <= this.ageMs).map((e) => ({ ...e }));
  }

  private remove(e: MacEntry): void {
    this.order.delete(e);
    const macs = this.byVlan.get(e.vid);
    macs?.delete(e.mac);
    if (macs && macs.size === 0) this.byVlan.delete(e.vid);
  }
}
