// The migration engine over real loopback sockets: a guest memory migrates through TCP
// and a Unix socket; a second source is refused while the first migrates; a stream of
// garbage or from a newer major version is refused by the destination; URIs as QEMU
// writes them.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GuestMemory } from '../../src/cpu/memory.js';
import { connectMigration, IncomingListener, parseMigrationUri } from '../../src/host/migration/socket-channel.js';
import { dryRun } from '../../src/vmm/migration/dry-run.js';
import { migrateIn, migrateOut } from '../../src/vmm/migration/engine.js';
import { encodePreamble } from '../../src/vmm/migration/stream.js';

const BASE = 0x80000000;
const dir = mkdtempSync(join(tmpdir(), 'rvisor-migrate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function source(seed: number) {
  const memory = new GuestMemory(BASE, 16 << 20);
  for (let i = 0; i < 4000; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    memory.write(BASE + (seed % (memory.size / 8)) * 8, Uint8Array.of(seed & 0xff, 1, 2, 3));
  }
  let paused = false;
  return {
    memory, get paused() { return paused; },
    config: () => ({ memory: memory.size }), pause: () => { paused = true; }, resume: () => { paused = false; }, throttle: () => {},
    saveState: () => new Map<string, unknown>([['cpu', { pc: 1 }]]),
  };
}

function destination() {
  const memory = new GuestMemory(BASE, 16 << 20);
  return {
    memory,
    check: (c: Record<string, unknown>) => (c.memory === memory.size ? undefined : 'memory size differs'),
    start: async () => {},
    run: () => {},
  };
}

test('URIs: tcp:HOST:PORT, tcp:[v6]:PORT, unix:PATH; anything else is refused', () => {
  assert.deepEqual(parseMigrationUri('tcp:127.0.0.1:4444'), { host: '127.0.0.1', port: 4444 });
  assert.deepEqual(parseMigrationUri('tcp:[::1]:4444'), { host: '::1', port: 4444 });
  assert.deepEqual(parseMigrationUri('unix:/run/m.sock'), { socket: '/run/m.sock' });
  assert.throws(() => parseMigrationUri('exec:cat'), /not a migration URI/);
  assert.throws(() => parseMigrationUri('tcp:h:99999'), /not a migration URI/);
});

for (const kind of ['tcp', 'unix'] as const) {
  test(`a guest memory migrates over ${kind}; a second source is refused meanwhile`, async () => {
    const listener = new IncomingListener();
    const at = await listener.listen(kind === 'tcp' ? { host: '127.0.0.1', port: 0 } : { socket: join(dir, 'in.sock') });
    const dst = destination();
    const incoming = listener.accept().then((ch) => migrateIn(dst, ch));
    const src = source(3);
    const stats = await migrateOut(src, await connectMigration(at), {
      onStats: (s) => {
        if (s.status === 'active' && s.iterations === 0) {
          // A second source knocks while the first one migrates.
          const other = 'socket' in at ? connect(at.socket) : connect(at.port, at.host);
          other.on('error', () => {});
        }
      },
    });
    await incoming;
    for (let i = 0; i < 100 && listener.refused === 0; i++) await new Promise((r) => setTimeout(r, 20));
    listener.close();
    assert.equal(stats.status, 'completed');
    assert.ok(src.paused);
    assert.deepEqual(dst.memory.read(BASE, dst.memory.size), src.memory.read(BASE, src.memory.size));
    assert.equal(listener.refused, 1);
  });
}

test('garbage and a newer major version are refused by the destination, which says why', async () => {
  for (const [bytes, why] of [[Buffer.from('GET / HTTP/1.1\r\n\r\n'.repeat(4)), /bad magic/], [Buffer.from(encodePreamble({ major: 2, minor: 0 })), /format 2\.0 is not supported/]] as const) {
    const listener = new IncomingListener();
    const at = await listener.listen({ host: '127.0.0.1', port: 0 });
    const incoming = listener.accept().then((ch) => migrateIn(destination(), ch));
    const s = connect((at as { port: number }).port, '127.0.0.1', () => s.write(bytes));
    s.on('error', () => {});
    await assert.rejects(incoming, why);
    s.destroy();
    listener.close();
  }
});

test('a dry run predicts against the listening destination, writes nothing into its RAM, and the real source follows', async () => {
  const listener = new IncomingListener();
  const at = await listener.listen({ host: '127.0.0.1', port: 0 });
  const dst = destination();
  const restored: unknown[] = [];
  dst.start = async (s?: Map<string, unknown>) => { restored.push(s?.get('cpu')); };
  const incoming = (async () => {
    for (;;) if (await migrateIn(dst, await listener.accept()) === 'migrated') return;
  })();
  const src = source(5);
  // The guest writes 64 distinct pages while the window is open.
  const writer = setInterval(() => { for (let i = 0; i < 8; i++) src.memory.write(BASE + ((Date.now() + i * 17) % 64) * 4096 * 3, Uint8Array.of(1)); }, 20);
  const r = await dryRun(src, await connectMigration(at), { seconds: 1 });
  clearInterval(writer);
  assert.equal(r.converges, true);
  assert.ok(r.bandwidth > 1e6, `bandwidth ${r.bandwidth}`);
  assert.ok(r.rttMs > 0 && r.rttMs < 100, `round trip ${r.rttMs}`);
  assert.ok(r.dirtyRate > 0 && r.workingSetBytes > 0 && r.workingSetBytes <= 64 * (4096 + 5), `dirtied ${r.workingSetBytes} bytes at ${r.dirtyRate}/s`);
  assert.ok(r.firstRoundBytes > 4000 * 5 && r.firstRoundBytes < src.memory.size, `first round ${r.firstRoundBytes}`);
  assert.ok(r.expectedDowntimeMs >= r.rttMs + r.restoreMs && r.expectedDowntimeMs < 300, `expected downtime ${r.expectedDowntimeMs}`);
  assert.deepEqual(restored, [{ pc: 1 }, { pc: 1 }], 'the destination restored the running state, as a trial (twice: the second is timed warm)');
  assert.ok(dst.memory.read(BASE, dst.memory.size).every((b) => b === 0), 'probe pages never reach the destination\'s RAM');
  // The destination still waits: the real migration comes through the same listener.
  await migrateOut(src, await connectMigration(at));
  await incoming;
  listener.close();
  assert.deepEqual(dst.memory.read(BASE, dst.memory.size), src.memory.read(BASE, src.memory.size));
});

test('a dry run against a destination that refuses says why', async () => {
  const listener = new IncomingListener();
  const at = await listener.listen({ host: '127.0.0.1', port: 0 });
  const dst = destination();
  dst.check = () => 'memory size differs';
  const incoming = listener.accept().then((ch) => migrateIn(dst, ch)).catch((e: Error) => e.message);
  await assert.rejects(dryRun(source(1), await connectMigration(at), { seconds: 1 }), /the destination refused: memory size differs/);
  assert.match(String(await incoming), /memory size differs/);
  listener.close();
});
