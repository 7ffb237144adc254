// One input against one device: every guest action is a step, checked for what must
// hold whatever the guest did (no exception out of the MMIO access, every DMA write
// allowed, the interrupt line matching the interrupt status, nothing written while the
// device waits for a reset or is not running), and in a clean input also predicted:
// which chains the device consumes, the used entries it reports, NEEDS_RESET exactly
// when a chain breaks a rule, and each request's effect (devices.ts).

import assert from 'node:assert/strict';
import type { GuestMemory } from '../../../src/cpu/memory.js';
import type { Rng } from '../harness.js';
import type { AuditedDma } from './audited-dma.js';
import { type ChainSource, type DeviceModel, type HostEvent, Reset, type Served, type Taken } from './devices.js';
import { FuzzGuest, REG, S } from './guest.js';
import { type Layout, RingView, type Seg, overlaps } from './rings.js';

const LIVE = S.ACK | S.DRIVER | S.FEATURES_OK | S.DRIVER_OK;

/** The available ring of one queue from where the model says the device stands. */
class Source implements ChainSource {
  constructor(private readonly view: RingView, private readonly l: Layout, public pos: number, private readonly indirect: boolean) {}

  next(): Taken | null {
    const pending = (this.view.availIdx(this.l) - this.pos) & 0xffff;
    if (pending > this.l.size) throw new Reset(`avail.idx ${pending} ahead`);
    if (pending === 0) return null;
    const w = this.view.chain(this.l, this.view.availHead(this.l, this.pos), this.indirect);
    if (w.error) throw new Reset(w.error);
    this.pos = (this.pos + 1) & 0xffff;
    return { w, data: this.view.gather(w.readable) };
  }

  unpop(): void {
    this.pos = (this.pos - 1) & 0xffff;
  }
}

export class Session {
  readonly guest: FuzzGuest;
  private readonly view: RingView;
  /** Where the model says the device stands in each available ring. */
  private lastAvail: number[] = [];
  /** Set once the device saw what the model could not read beforehand (foreseeable()):
   *  until the next reset, steps are only checked for what holds whatever happens. */
  private unforeseeable = false;

  constructor(readonly model: DeviceModel, readonly mem: GuestMemory, readonly dma: AuditedDma, readonly rng: Rng) {
    this.guest = new FuzzGuest(model.mmio, mem, rng, (what, access) => this.step(what, access));
    this.view = dma.view;
  }

  get status(): number {
    return this.model.mmio.status;
  }

  /** Runs one guest action with the checks that hold for any action. */
  step(what: string, action: () => void): void {
    const mmio = this.model.mmio;
    this.dma.begin(mmio.queues);
    const before = mmio.status;
    try {
      action();
    } catch (e) {
      throw new Error(`${what}: threw out of the device: ${(e as Error).stack}`);
    }
    assert.deepEqual(this.dma.violations, [], `${what}: DMA outside what the guest allowed`);
    assert.equal(this.model.line.level, mmio.interruptStatus !== 0, `${what}: interrupt line against the interrupt status`);
    const after = mmio.status;
    const stopped = (s: number) => (s & (S.NEEDS_RESET | S.FAILED)) !== 0 || !(s & S.DRIVER_OK);
    if (stopped(before) && stopped(after)) assert.equal(this.dma.writes, 0, `${what}: DMA by a device that is not running (status 0x${after.toString(16)})`);
  }

  /** Brings the device up as Linux does (`sizes` may choose bad queue sizes); whether
   *  it is running after. */
  init(sizes = (max: number) => 2 ** this.rng.int(Math.log2(Math.min(max, 64)) + 1), drop = 0n): boolean {
    const ok = this.guest.init(sizes, drop);
    this.model.reset();
    this.unforeseeable = false;
    this.lastAvail = this.model.mmio.queues.map(() => 0);
    return ok;
  }

  private running(q: number): boolean {
    const vq = this.model.mmio.queues[q];
    return this.status === LIVE && vq !== undefined && vq.ready && !vq.halted;
  }

  /** What the device must do on queue `q` now, worked out before it does it. */
  private predict(q: number, event?: HostEvent): { served: Served[]; reset: boolean; src: Source | null } {
    const served: Served[] = [];
    if (!this.running(q)) return { served, reset: false, src: null };
    const vq = this.model.mmio.queues[q];
    const src = new Source(this.view, { desc: vq.descAddr, avail: vq.availAddr, used: vq.usedAddr, size: vq.size }, this.lastAvail[q], vq.indirect);
    try {
      this.model.process(q, src, served, event);
    } catch (e) {
      if (!(e instanceof Reset)) throw e;
      return { served, reset: true, src };
    }
    return { served, reset: false, src };
  }

  /** A step whose outcome on queue `q` the model predicts, then checks. */
  predicted(what: string, q: number, action: () => void, event?: HostEvent): { served: number; reset: boolean } {
    const wasBroken = (this.status & S.NEEDS_RESET) !== 0;
    const p = this.predict(q, event);
    this.step(what, action);
    const used = q < this.guest.queues.length ? this.guest.takeUsed(q) : [];
    const trusted = this.unforeseeable ? 0 : this.foreseeable(q, p.served);
    const whole = !this.unforeseeable && trusted === p.served.length;
    if (whole && !wasBroken) {
      assert.equal((this.status & S.NEEDS_RESET) !== 0, p.reset, `${what}: NEEDS_RESET ${p.reset ? 'expected' : 'unexpected'} (${this.model.mmio.lastError})`);
    }
    const expected = p.served.slice(0, trusted).map((s) => ({ id: s.head, len: s.len }));
    assert.deepEqual(whole ? used : used.slice(0, trusted), expected, `${what}: used entries`);
    // A chain whose buffers a later one writes too (the guest may post a buffer twice)
    // keeps only what the later one left there: only the used entry says what it did.
    p.served.slice(0, trusted).forEach((s, i) => {
      if (!p.served.slice(i + 1).some((later) => later.chain.writable.some((w) => overlaps(s.chain.writable, w.addr, w.len)))) s.verify?.();
    });
    if (!whole) this.unforeseeable = true;
    else if (p.src) {
      this.lastAvail[q] = p.src.pos;
      this.model.settled?.();
    }
    return { served: p.served.length, reset: p.reset };
  }

  /**
   * How many of the predicted chains the prediction holds for. The model read every
   * chain before the device ran; when the guest pointed a buffer the device writes at
   * what a later chain reads (its data, its descriptors, the rings), the device saw
   * something else from there on, and so does every later step on this device.
   */
  private foreseeable(q: number, served: readonly Served[]): number {
    const vq = this.model.mmio.queues[q];
    const rings = vq ? [{ addr: vq.descAddr, len: 16 * vq.size }, { addr: vq.availAddr, len: 6 + 2 * vq.size }, { addr: vq.usedAddr, len: 6 + 8 * vq.size }] : [];
    const written: Seg[] = [];
    for (let k = 0; k < served.length; k++) {
      const c = served[k].chain;
      if ([...c.readable, ...c.tables].some((r) => overlaps(written, r.addr, r.len))) return k;
      written.push(...c.writable);
      if (c.writable.some((w) => overlaps(rings, w.addr, w.len) || served.some((o) => overlaps(o.chain.tables, w.addr, w.len)))) return k + 1;
    }
    return served.length;
  }

  notify(q: number): { served: number; reset: boolean } {
    return this.predicted(`notify ${q}`, q, () => this.model.mmio.write(REG.NOTIFY, 4, q));
  }

  host(): void {
    const ev = this.model.host?.(this.rng);
    if (ev) this.predicted('host event', ev.queue, ev.act, ev);
  }

  /** A register access the way a broken or hostile driver makes one. */
  poke(): void {
    const rng = this.rng;
    const off = rng.pick([...Object.values(REG), rng.int(0x80) * 4, rng.int(0x200), 0x100 + rng.int(0x40)]);
    const size = rng.pick([4, 4, 4, 2, 1]); // the widths the bus lets through (VIRTIO_MMIO_WIDTHS)
    const value = rng.chance(0.5) ? rng.int(16) : rng.interesting(32);
    if (rng.chance(0.3)) this.step(`read 0x${off.toString(16)}/${size}`, () => this.model.mmio.read(off, size));
    else this.step(`write 0x${off.toString(16)}/${size} = 0x${value.toString(16)}`, () => this.model.mmio.write(off, size, value));
  }
}
