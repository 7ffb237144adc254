// Each virtio device under the fuzzer, with a model of what a correct device does with a
// valid chain, written from the virtio spec and each device's documented choices (its
// file's header): the used length, the bytes it must write and where, and its effect on
// the backend (a shadow of the disk, the frames the peer got, the console's output, the
// 9P requests the server saw). The models read chains through the test's own ring reader
// (rings.ts), so they share no code with the devices.

import assert from 'node:assert/strict';
import type { GuestMemory } from '../../../src/cpu/memory.js';
import type { NinePServer } from '../../../src/devices/ninep.js';
import { Virtio9p } from '../../../src/devices/virtio/9p.js';
import { VirtioBlk } from '../../../src/devices/virtio/blk.js';
import { VirtioConsole } from '../../../src/devices/virtio/console.js';
import { VirtioMmio } from '../../../src/devices/virtio/mmio.js';
import { VirtioNet } from '../../../src/devices/virtio/net.js';
import { VirtioRng } from '../../../src/devices/virtio/rng.js';
import { FakeLine } from '../../devices/fakes.js';
import { FakePort, MemDisk } from '../../devices/virtio/fakes.js';
import { cat } from '../../net/frames.js';
import { type Rng, mutateBytes } from '../harness.js';
import type { AuditedDma } from './audited-dma.js';
import type { ChainSpec } from './guest.js';
import type { Seg, Walked } from './rings.js';

/** A valid chain the model's device takes, with its readable bytes. */
export interface Taken { w: Walked; data: Uint8Array }

/** The available chains of one queue, in order, as the device pops them: next() throws
 *  Reset for a chain that breaks a rule, null when none is left; unpop() gives the last
 *  one back. */
export interface ChainSource {
  next(): Taken | null;
  unpop(): void;
}

/** The device must stop with NEEDS_RESET here. */
export class Reset extends Error {}

export interface Served {
  head: number;
  len: number;
  /** The chain, for what the session must know of where it reads and writes. */
  chain: Walked;
  /** Asserts the device's effects, once the step is over. */
  verify?: () => void;
}

/** Something the host side does to the device (a frame from the network, console
 *  input): `act` does it; `taken` is what the device keeps of it (null or empty: nothing,
 *  and then nothing wakes up), for process(). */
export interface HostEvent { queue: number; act: () => void; taken: Uint8Array | null }

export interface DeviceModel {
  readonly name: string;
  readonly mmio: VirtioMmio;
  readonly line: FakeLine;
  /** Back to a known start for a new input (backend contents, what is queued). */
  start(rng: Rng): void;
  /** The driver reset the device. */
  reset(): void;
  /** Queues the guest posts requests to; the last one takes any request (no receive
   *  queue waiting for the host). */
  readonly queues: number[];
  /** A valid chain for queue `q`; unless `sound`, its bytes may be damaged and its
   *  request one the device refuses. */
  request(rng: Rng, q: number, sound?: boolean): ChainSpec;
  /** What the device does when queue `q` is notified, or when `event` arrives for it. */
  process(q: number, src: ChainSource, out: Served[], event?: HostEvent): void;
  /** Asserts the backend is as the last process() said it would be once the device ran. */
  settled?(): void;
  host?(rng: Rng): HostEvent;
}

/** Bytes at stream offset `at` of the writable segments, as guest RAM holds them now. */
export function writtenAt(mem: GuestMemory, segs: readonly Seg[], at: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  for (const s of segs) {
    if (done === len) break;
    if (at >= s.len) {
      at -= s.len;
      continue;
    }
    const n = Math.min(s.len - at, len - done);
    out.set(mem.read(s.addr + at, n), done);
    done += n;
    at = 0;
  }
  return out;
}

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const le32 = (v: number) => Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
/** `n` bytes of writable room as 1 to 3 buffers. */
function sizes(rng: Rng, n: number): number[] {
  return pieces(rng, new Uint8Array(n)).map((b) => b.length);
}

/** Splits `b` into 1 to 3 pieces: VERSION_1 means any layout, so a header may be split. */
function pieces(rng: Rng, b: Uint8Array): Uint8Array[] {
  if (b.length < 2 || rng.chance(0.5)) return [b];
  const cut = 1 + rng.int(b.length - 1);
  return [b.subarray(0, cut), ...pieces(rng, b.subarray(cut))].slice(0, 3);
}

const SECTOR = 512;
const DISK_SECTORS = 128;
const BLK = { IN: 0, OUT: 1, FLUSH: 4, GET_ID: 8, DISCARD: 11, WRITE_ZEROES: 13 } as const;
const OK = 0, IOERR = 1, UNSUPP = 2;
const MAX_DISCARD_SECTORS = 0x3f_ffff, MAX_DISCARD_SEG = 32;

/** virtio-blk over an in-memory disk, against a shadow array of what the disk must hold. */
class BlkModel implements DeviceModel {
  readonly name: string;
  readonly mmio: VirtioMmio;
  readonly line = new FakeLine();
  readonly queues = [0];
  private readonly disk: MemDisk;
  private readonly pristine: Uint8Array;
  /** What the disk must hold once the step being predicted is over. */
  private shadow = new Uint8Array(0);

  constructor(private readonly mem: GuestMemory, dma: AuditedDma, readOnly: boolean) {
    this.name = readOnly ? 'blk-ro' : 'blk';
    this.disk = new MemDisk(DISK_SECTORS, readOnly, 'fuzz-disk-serial-number-long');
    this.pristine = this.disk.data.slice();
    this.mmio = new VirtioMmio(new VirtioBlk(this.disk), dma, this.line);
  }

  start(rng: Rng): void {
    this.disk.data.set(this.pristine);
    this.disk.failing = rng.chance(0.03);
  }

  reset(): void {}

  request(rng: Rng, _q: number, sound = false): ChainSpec {
    const type = rng.pick([BLK.IN, BLK.IN, BLK.OUT, BLK.OUT, BLK.FLUSH, BLK.GET_ID, BLK.DISCARD, BLK.WRITE_ZEROES, sound ? BLK.IN : rng.int(32)]);
    const count = sound || rng.chance(0.9) ? 1 + rng.int(8) : rng.int(300);
    // Mostly inside the disk, often at its edges, now and then far beyond.
    const sector = sound ? rng.int(DISK_SECTORS - count) : rng.pick([0, rng.int(DISK_SECTORS), DISK_SECTORS - count, DISK_SECTORS - count + 1, DISK_SECTORS, rng.u32(), 2 ** 40]);
    const bytes = sound || rng.chance(0.9) ? Math.min(count, 16) * SECTOR : rng.int(4 * SECTOR);
    let hdr: Uint8Array = cat(le32(type), le32(0), le32(sector >>> 0), le32(Math.floor(sector / 2 ** 32)));
    let body: Uint8Array = new Uint8Array(0);
    if (type === BLK.OUT) body = rng.bytes(bytes);
    if (type === BLK.DISCARD || type === BLK.WRITE_ZEROES) {
      body = cat(...Array.from({ length: sound || rng.chance(0.9) ? 1 + rng.int(3) : rng.int(40) }, () => {
        const n = rng.int(16), s = sound ? 0 : rng.pick([0, rng.int(DISK_SECTORS), DISK_SECTORS - n, rng.u32()]);
        const flags = sound ? 0 : rng.pick([0, 0, 1, rng.u32()]);
        return cat(le32(s >>> 0), le32(0), le32(n), le32(flags));
      }));
    }
    if (!sound && rng.chance(0.1)) hdr = mutateBytes(rng, hdr);
    const data = type === BLK.IN || type === BLK.GET_ID ? (sound || rng.chance(0.9) ? bytes : rng.int(64)) : 0;
    // The status byte: alone, or sharing the data's last buffer; now and then missing.
    const status = sound || rng.chance(0.97) ? 1 : 0;
    const writable = rng.chance(0.3) ? [data + status] : [...sizes(rng, data), status];
    return { out: [...pieces(rng, hdr), ...pieces(rng, body)], in: writable.filter((n) => n > 0) };
  }

  process(_q: number, src: ChainSource, out: Served[]): void {
    // From what the disk holds now: a hostile input's unpredicted steps wrote to it too.
    // Each predicted step is then checked to change exactly what it must.
    this.shadow = this.disk.data.slice();
    for (let t = src.next(); t; t = src.next()) out.push(this.serve(t));
  }

  settled(): void {
    const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    assert.ok(view(this.disk.data).equals(view(this.shadow)), 'the disk holds what was written to it, and nothing else changed');
  }

  private inside(sector: number, n: number): boolean {
    return sector <= DISK_SECTORS && n <= DISK_SECTORS - sector;
  }

  private serve({ w, data }: Taken): Served {
    if (w.writeLen < 1) throw new Reset('no status byte');
    const statusAt = w.writeLen - 1;
    const done = (status: number, extra = 0, verify?: () => void): Served => ({
      head: w.head,
      len: extra + 1,
      chain: w,
      verify: () => {
        assert.equal(writtenAt(this.mem, w.writable, statusAt, 1)[0], status, 'status byte');
        verify?.();
      },
    });
    if (w.readLen < 16) return done(IOERR);
    const type = u32(data, 0);
    const sector = u32(data, 8) + u32(data, 12) * 2 ** 32;
    const ro = this.disk.readOnly, failing = this.disk.failing;
    switch (type) {
      case BLK.IN: {
        // A transfer of no bytes never reaches the backend, failing or not.
        if (statusAt % SECTOR || !this.inside(sector, statusAt / SECTOR) || (failing && statusAt > 0)) return done(IOERR);
        const want = this.shadow.slice(sector * SECTOR, sector * SECTOR + statusAt);
        return done(OK, statusAt, () => assert.deepEqual(writtenAt(this.mem, w.writable, 0, statusAt), want, 'data read'));
      }
      case BLK.OUT: {
        const n = w.readLen - 16;
        if (ro || n % SECTOR || !this.inside(sector, n / SECTOR) || (failing && n > 0)) return done(IOERR);
        this.shadow.set(data.subarray(16), sector * SECTOR);
        return done(OK);
      }
      case BLK.FLUSH:
        return done(failing ? IOERR : OK);
      case BLK.GET_ID: {
        const n = Math.min(20, statusAt);
        const id = new TextEncoder().encode('fuzz-disk-serial-number-long').subarray(0, n);
        return done(OK, n, () => assert.deepEqual(writtenAt(this.mem, w.writable, 0, n), id, 'serial'));
      }
      case BLK.DISCARD: case BLK.WRITE_ZEROES: {
        const zeroes = type === BLK.WRITE_ZEROES;
        if (ro) return done(IOERR);
        const n = w.readLen - 16;
        if (n === 0 || n % 16 || n / 16 > MAX_DISCARD_SEG) return done(UNSUPP);
        const ranges: [number, number][] = [];
        for (let at = 16; at < data.length; at += 16) {
          const start = u32(data, at) + u32(data, at + 4) * 2 ** 32, count = u32(data, at + 8), flags = u32(data, at + 12);
          if (flags & ~1 || (!zeroes && flags & 1)) return done(UNSUPP);
          if (count > MAX_DISCARD_SECTORS || !this.inside(start, count)) return done(IOERR);
          ranges.push([start, count]);
        }
        if (failing) return done(IOERR);
        // A discarded range's contents are unspecified, and MemDisk leaves them.
        if (zeroes) for (const [start, count] of ranges) this.shadow.fill(0, start * SECTOR, (start + count) * SECTOR);
        return done(OK);
      }
      default:
        return done(UNSUPP);
    }
  }
}

const NET_HDR = 12, MIN_FRAME = 14, MAX_FRAME = 65550, RX_FIFO = 256;

/** virtio-net: transmitted frames reach the peer whole; frames from the peer fill
 *  receive buffers one each (no MRG_RXBUF), or are dropped if too big for the next. */
class NetModel implements DeviceModel {
  readonly name = 'net';
  readonly mmio: VirtioMmio;
  readonly line = new FakeLine();
  readonly queues = [0, 1];
  private readonly net = new VirtioNet(Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56));
  private readonly peer = new FakePort();

  constructor(private readonly mem: GuestMemory, dma: AuditedDma) {
    this.mmio = new VirtioMmio(this.net, dma, this.line);
    this.net.connect(this.peer);
  }

  start(): void {
    this.peer.frames.length = 0;
  }

  reset(): void {}

  request(rng: Rng, q: number, sound = false): ChainSpec {
    if (q === 0) return { out: [], in: sizes(rng, sound || rng.chance(0.8) ? NET_HDR + 1514 : rng.int(200)) };
    const len = sound || rng.chance(0.9) ? MIN_FRAME + rng.int(1500) : rng.pick([0, 13, 14, MAX_FRAME, MAX_FRAME + 1]);
    const frame = new Uint8Array(NET_HDR + len);
    frame.set(rng.bytes(Math.min(len, 64)), NET_HDR);
    return { out: pieces(rng, frame), in: [] };
  }

  host(rng: Rng): HostEvent {
    const frame = rng.bytes(rng.chance(0.9) ? MIN_FRAME + rng.int(1500) : rng.pick([0, 13, MAX_FRAME + 1, 3000]));
    const taken = frame.length >= MIN_FRAME && frame.length <= MAX_FRAME && this.net.rxFifo.length < RX_FIFO;
    return { queue: 0, act: () => this.net.deliver(frame), taken: taken ? frame : null };
  }

  process(q: number, src: ChainSource, out: Served[], event?: HostEvent): void {
    if (q === 1) {
      // Frames from steps nobody predicted (a hostile input's) are already there.
      let sent = this.peer.frames.length;
      for (let t = src.next(); t; t = src.next()) {
        const len = t.w.readLen - NET_HDR;
        const frame = len >= MIN_FRAME && len <= MAX_FRAME ? t.data.slice(NET_HDR) : null;
        const nth = frame ? sent++ : -1;
        out.push({ head: t.w.head, len: 0, chain: t.w, verify: () => frame && assert.deepEqual(this.peer.frames[nth], frame, 'the frame the peer got') });
      }
      return;
    }
    // What waits is what the device holds (a hostile input's steps took frames too),
    // and the frame being delivered, if the device takes it.
    // A dropped frame wakes nothing up, even if frames wait and buffers are posted.
    if (event && !event.taken) return;
    const fifo = [...this.net.rxFifo, ...(event?.taken ? [event.taken] : [])];
    while (fifo.length > 0) {
      const t = src.next();
      if (!t) return;
      const frame = fifo.shift() as Uint8Array;
      if (t.w.writeLen < NET_HDR + frame.length) {
        src.unpop();
        continue;
      }
      const want = cat(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0), frame);
      out.push({ head: t.w.head, len: want.length, chain: t.w, verify: () => assert.deepEqual(writtenAt(this.mem, t.w.writable, 0, want.length), want, 'the frame received') });
    }
  }
}

const RNG_MAX = 4 * 65536;
/** Each fill call writes its offset within the call, so the bytes say where they came from. */
const pattern = (i: number) => (i * 31 + 7) & 0xff;

class RngModel implements DeviceModel {
  readonly name = 'rng';
  readonly mmio: VirtioMmio;
  readonly line = new FakeLine();
  readonly queues = [0];

  constructor(private readonly mem: GuestMemory, dma: AuditedDma) {
    this.mmio = new VirtioMmio(new VirtioRng((b) => { for (let i = 0; i < b.length; i++) b[i] = pattern(i); }), dma, this.line);
  }

  start(): void {}

  reset(): void {}

  request(rng: Rng): ChainSpec {
    return { out: rng.chance(0.1) ? [rng.bytes(8)] : [], in: Array.from({ length: 1 + rng.int(3) }, () => rng.int(rng.chance(0.9) ? 512 : 70_000)) };
  }

  process(_q: number, src: ChainSource, out: Served[]): void {
    for (let t = src.next(); t; t = src.next()) {
      const w = t.w, n = Math.min(w.writeLen, RNG_MAX);
      out.push({ head: w.head, len: n, chain: w, verify: () => {
        const got = writtenAt(this.mem, w.writable, 0, n);
        assert.ok(got.every((b, i) => b === pattern(i % 65536)), 'random bytes where the guest asked');
      } });
    }
  }
}

const CONSOLE_CAPACITY = 64 * 1024;

class ConsoleModel implements DeviceModel {
  readonly name = 'console';
  readonly mmio: VirtioMmio;
  readonly line = new FakeLine();
  readonly queues = [0, 1];
  private readonly console: VirtioConsole;
  private output: number[] = [];

  constructor(private readonly mem: GuestMemory, dma: AuditedDma) {
    this.console = new VirtioConsole((b) => this.output.push(...b));
    this.mmio = new VirtioMmio(this.console, dma, this.line);
  }

  start(): void {
    // Input survives a driver reset by design (it was typed for the console): start empty.
    this.console.pending = [];
    this.output = [];
  }

  reset(): void {}

  request(rng: Rng, q: number): ChainSpec {
    if (q === 0) return { out: [], in: Array.from({ length: 1 + rng.int(2) }, () => rng.int(64)) };
    return { out: Array.from({ length: rng.int(3) }, () => rng.bytes(rng.int(100))), in: [] };
  }

  host(rng: Rng): HostEvent {
    const bytes = rng.bytes(rng.chance(0.95) ? rng.int(100) : CONSOLE_CAPACITY + 10);
    const n = Math.min(bytes.length, CONSOLE_CAPACITY - this.console.pending.length);
    return { queue: 0, act: () => assert.equal(this.console.input(bytes), n, 'console input taken'), taken: bytes.subarray(0, n) };
  }

  process(q: number, src: ChainSource, out: Served[], event?: HostEvent): void {
    if (q === 1) {
      const from = this.output.length;
      const want: number[] = [];
      for (let t = src.next(); t; t = src.next()) {
        want.push(...t.data);
        out.push({ head: t.w.head, len: 0, chain: t.w, verify: () => assert.deepEqual(this.output.slice(from), want, 'console output') });
      }
      return;
    }
    // Input of nothing wakes nothing up, even if input waits and buffers are posted.
    if (event && !event.taken?.length) return;
    const pending = [...this.console.pending, ...(event?.taken ?? [])];
    while (pending.length > 0) {
      const t = src.next();
      if (!t) return;
      const want = Uint8Array.from(pending.splice(0, Math.min(t.w.writeLen, pending.length)));
      out.push({ head: t.w.head, len: want.length, chain: t.w, verify: () => assert.deepEqual(writtenAt(this.mem, t.w.writable, 0, want.length), want, 'console input') });
    }
  }
}

/** A 9P server stand-in: records each request, answers with a reply of a size the
 *  input chose (a header and a pattern), and never throws, as NinePServer promises. */
class ReplyServer implements NinePServer {
  readonly tag = 'fuzz';
  requests: Uint8Array[] = [];
  replySize = 64;

  reply(request: Uint8Array): Uint8Array {
    const r = new Uint8Array(Math.max(7, this.replySize));
    r.set(le32(r.length), 0);
    r[4] = (request[4] ?? 0) + 1;
    for (let i = 7; i < r.length; i++) r[i] = i & 0xff;
    return r;
  }

  handle(request: Uint8Array): Uint8Array {
    this.requests.push(request.slice());
    return this.reply(request);
  }
}

const NINEP_MAX = 8 * 1024 * 1024;

class NinePModel implements DeviceModel {
  readonly name = '9p';
  readonly mmio: VirtioMmio;
  readonly line = new FakeLine();
  readonly queues = [0];
  private readonly server = new ReplyServer();

  constructor(private readonly mem: GuestMemory, dma: AuditedDma) {
    this.mmio = new VirtioMmio(new Virtio9p(this.server), dma, this.line);
  }

  start(rng: Rng): void {
    this.server.requests = [];
    this.server.replySize = rng.chance(0.8) ? 7 + rng.int(100) : rng.int(5000);
  }

  reset(): void {}

  request(rng: Rng, _q: number, sound = false): ChainSpec {
    const msg = rng.bytes(7 + rng.int(60));
    msg.set(le32(msg.length), 0);
    return { out: pieces(rng, !sound && rng.chance(0.1) ? mutateBytes(rng, msg) : msg), in: sizes(rng, sound || rng.chance(0.8) ? 8192 : rng.int(200)) };
  }

  process(_q: number, src: ChainSource, out: Served[]): void {
    let seen = this.server.requests.length;
    for (let t = src.next(); t; t = src.next()) {
      if (t.w.readLen > NINEP_MAX) {
        out.push({ head: t.w.head, len: 0, chain: t.w });
        continue;
      }
      const nth = seen++;
      const reply = this.server.reply(t.data);
      const n = Math.min(reply.length, t.w.writeLen);
      out.push({ head: t.w.head, len: n, chain: t.w, verify: () => {
        assert.deepEqual(this.server.requests[nth], t.data, 'the request the server got');
        assert.deepEqual(writtenAt(this.mem, t.w.writable, 0, n), reply.subarray(0, n), 'the reply, cut to the room given');
      } });
    }
  }
}

export function deviceModels(mem: GuestMemory, dma: AuditedDma): DeviceModel[] {
  return [
    new BlkModel(mem, dma, false), new BlkModel(mem, dma, true), new NetModel(mem, dma),
    new RngModel(mem, dma), new ConsoleModel(mem, dma), new NinePModel(mem, dma),
  ];
}
