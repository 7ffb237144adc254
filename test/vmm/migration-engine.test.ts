// Both ends of a pre-copy migration over an in-memory wire that carries real bytes
// (every frame encoded, checksummed and decoded): a guest memory that keeps being written
// during the rounds arrives whole; and every fault before the destination confirms (a
// refusal, a destination that cannot start, a cut wire, a cancel) leaves the source
// running, unpaused and unthrottled.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GuestMemory } from '../../src/cpu/memory.js';
import { migrateIn, migrateOut, type MigrationChannel, type MigrationSource, type MigrationStats } from '../../src/vmm/migration/engine.js';
import { FrameDecoder, type Frame } from '../../src/vmm/migration/stream.js';

const BASE = 0x80000000;

/** Two channel ends; `cutAfter` bytes from the source, the wire breaks. */
function wire(cutAfter = Infinity): [MigrationChannel, MigrationChannel] {
  // The source's answers come back as frames without a preamble.
  const make = (preamble: boolean) => ({ frames: [] as Frame[], waiters: [] as ((f: Frame | Error) => void)[], closed: false, decoder: new FrameDecoder({ expectPreamble: preamble }) });
  const a = make(false), b = make(true);
  let sent = 0;
  const end = (me: ReturnType<typeof make>, peer: ReturnType<typeof make>, counts: boolean): MigrationChannel => ({
    send: async (parts) => {
      await Promise.resolve();
      if (me.closed || peer.closed) throw new Error('the connection is closed');
      for (const p of parts) {
        if (counts && (sent += p.length) > cutAfter) {
          me.closed = peer.closed = true;
          for (const w of [...peer.waiters.splice(0), ...me.waiters.splice(0)]) w(new Error('connection reset'));
          throw new Error('connection reset');
        }
        for (const f of peer.decoder.push(p.slice())) {
          const w = peer.waiters.shift();
          if (w) w(f); else peer.frames.push(f);
        }
      }
    },
    next: () => new Promise<Frame>((resolve, reject) => {
      const f = me.frames.shift();
      if (f) return resolve(f);
      if (me.closed) return reject(new Error('the connection is closed'));
      me.waiters.push((x) => (x instanceof Error ? reject(x) : resolve(x)));
    }),
    close: () => {
      me.closed = true;
      for (const w of peer.waiters.splice(0)) w(new Error('the peer closed the connection'));
    },
  });
  return [end(a, b, true), end(b, a, false)];
}

class FakeSource implements MigrationSource {
  paused = false;
  throttles: number[] = [];
  memory = new GuestMemory(BASE, 8 << 20);
  config() { return { memory: this.memory.size, harts: 1 }; }
  pause() { this.paused = true; }
  resume() { this.paused = false; }
  throttle(share: number) { this.throttles.push(share); }
  saveState() { return new Map<string, unknown>([['hart0', { pc: 0x80200000, regs: new Uint8Array([1, 2, 3]) }]]); }
  scribble(n: number, seed: number) {
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      this.memory.write(BASE + (seed % (this.memory.size / 8)) * 8, Uint8Array.of(seed & 0xff, 9, 9, 9));
    }
  }
}

function destination(onStart?: (s: Map<string, unknown>) => void) {
  const memory = new GuestMemory(BASE, 8 << 20);
  return {
    memory,
    check: (c: Record<string, unknown>) => (c.memory === memory.size ? undefined : `the stream is for ${String(c.memory)} bytes of RAM, this VM has ${memory.size}`),
    start: async (s: Map<string, unknown>) => { onStart?.(s); },
    run: () => {},
  };
}

test('a guest written to during the rounds arrives whole, with its state; the figures add up', async () => {
  const src = new FakeSource();
  src.scribble(2000, 1);
  const dst = destination();
  const [out, inn] = wire();
  const seen: MigrationStats[] = [];
  let started: Map<string, unknown> | undefined;
  dst.start = async (s) => { started = s; };
  const incoming = migrateIn(dst, inn);
  const stats = await migrateOut(src, out, {
    // The guest keeps writing after each round until the pause.
    onStats: (s) => { seen.push(s); if (s.status === 'active' && !src.paused) src.scribble(30, s.iterations + 7); },
  });
  await incoming;
  assert.equal(stats.status, 'completed');
  assert.deepEqual(dst.memory.read(BASE, dst.memory.size), src.memory.read(BASE, src.memory.size));
  assert.deepEqual(started?.get('hart0'), { pc: 0x80200000, regs: new Uint8Array([1, 2, 3]) });
  assert.equal(started?.has('ram'), false, 'the RAM went page by page, not in the state');
  assert.ok(stats.iterations >= 1);
  assert.ok(stats.transferred > 0 && stats.transferred < src.memory.size, 'zero pages went compactly');
  assert.ok((stats.downtimeMs ?? -1) >= 0 && (stats.totalMs ?? 0) >= (stats.downtimeMs ?? 0));
  assert.deepEqual([...new Set(seen.map((s) => s.status))], ['setup', 'active', 'device', 'completed']);
  assert.ok(src.paused, 'the source stays paused: its guest now runs at the destination');
});

test('a destination that refuses the configuration: the source never paused, and says why', async () => {
  const src = new FakeSource();
  const dst = destination();
  dst.check = () => 'the stream is for 8388608 bytes of RAM, this VM has 16777216';
  const [out, inn] = wire();
  const incoming = assert.rejects(migrateIn(dst, inn), /16777216/);
  await assert.rejects(migrateOut(src, out), /the destination refused: the stream is for 8388608 bytes of RAM, this VM has 16777216/);
  await incoming;
  assert.equal(src.paused, false);
});

test('a destination that cannot start the guest: the source resumes', async () => {
  const src = new FakeSource();
  const dst = destination(() => { throw new Error('hart0: pc is not aligned'); });
  const [out, inn] = wire();
  const incoming = assert.rejects(migrateIn(dst, inn), /not aligned/);
  await assert.rejects(migrateOut(src, out), /could not start the guest: hart0: pc is not aligned/);
  await incoming;
  assert.equal(src.paused, false);
});

test('the destination rehearses the restore with its own state before the pages come; a rehearsal that fails refuses the source', async () => {
  const src = new FakeSource();
  src.scribble(50, 3);
  const starts: { pc: unknown; pagesThere: boolean }[] = [];
  const dst = { ...destination(), ownState: () => new Map<string, unknown>([['hart0', { pc: 0x1000, regs: new Uint8Array([7]) }]]) };
  dst.start = async (s: Map<string, unknown>) => {
    starts.push({ pc: (s.get('hart0') as { pc: unknown }).pc, pagesThere: dst.memory.dirtyCount() > 0 });
  };
  const [out, inn] = wire();
  const incoming = migrateIn(dst, inn);
  await migrateOut(src, out);
  await incoming;
  assert.deepEqual(starts, [{ pc: 0x1000, pagesThere: false }, { pc: 0x80200000, pagesThere: true }], 'its own state first, over the empty machine; the source\'s last');

  const src2 = new FakeSource();
  const bad = { ...destination(), ownState: () => new Map<string, unknown>() };
  bad.start = async () => { throw new Error('no section hart0'); };
  const [out2, inn2] = wire();
  const incoming2 = assert.rejects(migrateIn(bad, inn2), /cannot restore its own state: no section hart0/);
  await assert.rejects(migrateOut(src2, out2), /cannot restore its own state: no section hart0/);
  await incoming2;
  assert.equal(src2.paused, false);
});

test('a wire cut at any point before the confirmation leaves the source running', async () => {
  // How long the whole stream is, so cuts can land in the stop-and-copy too.
  const whole = new FakeSource();
  whole.scribble(3000, 1);
  const [o, i] = wire();
  const done = migrateIn(destination(), i);
  const total = (await migrateOut(whole, o)).transferred;
  await done;
  for (const cut of [10, 100, 5000, 300_000, 1_000_000, total - 5000, total - 30]) {
    const src = new FakeSource();
    src.scribble(3000, 1);
    const [out, inn] = wire(cut);
    const incoming = migrateIn(destination(), inn, { timeoutMs: 2000 }).catch((e: Error) => e);
    await assert.rejects(migrateOut(src, out, { replyTimeoutMs: 2000 }), `cut at ${cut}`);
    assert.ok((await incoming) instanceof Error, 'the destination gives up too');
    assert.equal(src.paused, false, `cut at ${cut}: resumed`);
    assert.ok(src.throttles.length === 0 || src.throttles.at(-1) === 0, 'throttle lifted');
  }
});

test('migrate_cancel: the source sends CANCEL, the destination drops what it had', async () => {
  const src = new FakeSource();
  src.scribble(3000, 5);
  const [out, inn] = wire();
  let n = 0;
  const incoming = assert.rejects(migrateIn(destination(), inn), /the source cancelled/);
  await assert.rejects(migrateOut(src, out, { cancelled: () => ++n > 1 }), /migration cancelled; the guest runs on here/);
  await incoming;
  assert.equal(src.paused, false);
});
