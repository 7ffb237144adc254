// Live migration of a running Debian guest between two rvisor processes (QMP migrate on
// the source, --incoming on the destination), with its disk on `rvisor nbd serve` and on
// Debian's qemu-nbd: the guest's counter carries on at the destination without a reboot,
// the memory it writes checksums right on both sides, what it wrote to the disk before
// and after the switch-over reads back (qemu-img check clean), query-migrate's figures
// add up; a guest on a local disk migrates with blk, its disk copied along; a
// destination of another memory size refuses, and one killed at any phase fails the
// migration, while the source runs on.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QmpClient, type Msg } from '../vmm/qmp-client.js';
import { assertCounterFiles, serveNbd, stopNbd } from '../host/nbd-fixture.js';
import { FAULT_PHASES } from '../../src/host/migration/test-fault.js';
import { CLI, ensureImage, freePort, until } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-migrate-boot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, 'run', 'debian', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const p = { child, out: '', err: '', exited: new Promise<number | null>((r) => child.on('close', r)) };
  child.stdout.on('data', (d) => (p.out += d));
  child.stderr.on('data', (d) => (p.err += d));
  after(() => child.kill('SIGKILL'));
  return p;
}

type Qmp = Awaited<ReturnType<typeof qmp>>;
const ret = (m: Msg) => (m.return ?? {}) as Record<string, unknown>;

/** migrate, then query-migrate until it ends; a destination not listening yet is tried again. */
async function migrate(s: Qmp, uri: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 50; attempt++) {
    assert.deepEqual(await s.run('migrate', { uri }), { return: {} });
    let q: Record<string, unknown> = {};
    for (let i = 0; i < 1200 && q.status !== 'completed' && q.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      q = ret(await s.run('query-migrate'));
    }
    if (q.status === 'failed' && /cannot reach the destination/.test(String(q['error-desc']))) {
      await new Promise((r) => setTimeout(r, 300));
      continue;
    }
    return q;
  }
  throw new Error('the destination never listened');
}

const ROUND = /^count (\d+) ([0-9a-f]{32})$/gm;
const counts = (out: string) => [...out.matchAll(/^count (\d+)\b/gm)].map((m) => Number(m[1]));

async function qmp(path: string): Promise<{ run: (cmd: string, args?: unknown) => Promise<Msg>; events: Msg[]; close: () => void }> {
  await until(`the QMP socket ${path}`, () => existsSync(path), 120_000);
  const c = await QmpClient.open(path);
  const events: Msg[] = [];
  await c.next();
  const run = async (cmd: string, args?: unknown) => {
    c.send(JSON.stringify(args === undefined ? { execute: cmd } : { execute: cmd, arguments: args }));
    for (;;) {
      const m = await c.next(60_000);
      if ('event' in m) events.push(m);
      else return m;
    }
  };
  await run('qmp_capabilities');
  return { run, events, close: () => c.close() };
}

/** What the guest writes each round: `seq i i+20000` into tmpfs, whose MD5 it prints. */
const seqMd5 = (i: number) => {
  let text = '';
  for (let n = i; n <= i + 20000; n++) text += `${n}\n`;
  return createHash('md5').update(text).digest('hex');
};

// The guest: an ext2 disk on NBD gets a file per count; memory is written every round
// (a fresh tmpfs file whose checksum the host can recompute) and 16 MiB of random bytes
// written once are checksummed again every fifth round.
const WORKLOAD = [
  'mke2fs -F /dev/vda >/dev/null; mount /dev/vda /mnt',
  'dd if=/dev/urandom of=/dev/shm/big bs=1M count=16 2>/dev/null',
  'i=0; while :; do seq $i $((i+20000)) > /dev/shm/w; echo count $i $(md5sum < /dev/shm/w | cut -c1-32)',
  '[ $((i % 5)) = 0 ] && echo big $(md5sum < /dev/shm/big | cut -c1-32)',
  'echo $i > /mnt/n-$i; sync; i=$((i+1)); sleep 0.5; done',
].join('\n');

for (const server of ['rvisor', 'qemu-nbd'] as const) {
  test(`a running Debian guest with its disk on ${server === 'rvisor' ? 'rvisor nbd serve' : 'qemu-nbd'} migrates to another rvisor and counts on, its memory intact`, async (t) => {
    const image = join(dir, `disk-${server}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '32M']);
    const nbdPort = await freePort();
    // qemu-nbd serves one client unless told: both rvisors hold the disk at the switch-over.
    const nbd = server === 'rvisor'
      ? await serveNbd(process.execPath, [CLI, 'nbd', 'serve', image, '--export', 'd', '--port', String(nbdPort)], { port: nbdPort })
      : await serveNbd('qemu-nbd', ['-f', 'qcow2', '-x', 'd', '-b', '127.0.0.1', '-p', String(nbdPort), '-t', '-e', '4', '--cache=none', image], { port: nbdPort });
    const disk = `nbd://127.0.0.1:${nbdPort}/d`;
    const srcQmp = join(dir, `src-${server}.sock`);
    const src = start(['--qmp', `unix:${srcQmp}`, '--disk', disk, '--', 'sh', '-c', WORKLOAD]);
    await until('the counter on the source', () => counts(src.out).length >= 3);

    const inPort = await freePort();
    const dstQmp = join(dir, `dst-${server}.sock`);
    const dst = start(['--qmp', `unix:${dstQmp}`, '--disk', disk, '--incoming', `tcp:127.0.0.1:${inPort}`, '--', 'true']);
    const d = await qmp(dstQmp);
    assert.equal(ret(await d.run('query-status')).status, 'inmigrate', 'the destination waits');
    const s = await qmp(srcQmp);
    assert.deepEqual(await s.run('migrate-set-parameters', { 'downtime-limit': 300 }), { return: {} });
    const q = await migrate(s, `tcp:127.0.0.1:${inPort}`);
    assert.equal(q.status, 'completed', JSON.stringify(q) + src.err);
    t.diagnostic(`query-migrate: ${JSON.stringify(q)}`);
    const ram = q.ram as Record<string, number>;
    assert.ok(ram.transferred > 0 && ram.total === 512 * 2 ** 20 && ram.remaining === 0, JSON.stringify(q));
    assert.ok(ram['dirty-sync-count'] >= 1, JSON.stringify(q));
    assert.ok((q.downtime as number) >= 0 && (q['total-time'] as number) >= (q.downtime as number) + (q['setup-time'] as number), JSON.stringify(q));
    assert.equal(ret(await s.run('query-status')).status, 'paused', 'the source stays paused');
    const lastOnSource = Math.max(...counts(src.out));

    // The destination prints the counter on, from where the source stopped: no reboot.
    await until('the counter on the destination', () => counts(dst.out).some((n) => n > lastOnSource + 10), 120_000);
    assert.doesNotMatch(dst.out, /Linux version/, 'the destination did not boot a kernel');
    assert.equal(Math.min(...counts(dst.out)), lastOnSource + 1, `the destination continues at ${lastOnSource + 1}: ${dst.out.slice(0, 300)}`);
    assert.equal(ret(await d.run('query-status')).status, 'running');
    // Memory written on either side reads back right: each round's checksum is the
    // host's, and the 16 MiB written before the migration still sums the same after.
    for (const [, i, md5] of [...src.out.matchAll(ROUND), ...dst.out.matchAll(ROUND)]) assert.equal(md5, seqMd5(Number(i)), `round ${i}`);
    const bigs = [...src.out.matchAll(/^big ([0-9a-f]{32})$/gm), ...dst.out.matchAll(/^big ([0-9a-f]{32})$/gm)].map((m) => m[1]);
    assert.ok(dst.out.match(/^big /m), 'checked at the destination too');
    assert.equal(new Set(bigs).size, 1, `the 16 MiB sum the same everywhere: ${bigs.join(' ')}`);

    await d.run('quit');
    await s.run('quit');
    d.close();
    s.close();
    await Promise.all([src.exited, dst.exited]);
    const code = await stopNbd(nbd);
    if (server === 'rvisor') assert.equal(code, 0, 'rvisor nbd serve stops cleanly');
    // Files written on both sides of the switch-over are on the disk.
    assertCounterFiles(image, join(dir, `check-${server}.raw`), [0, lastOnSource, lastOnSource + 2]);
  });
}

test('a guest with a local disk migrates with blk: its disk is copied along into the destination\'s own image', async (t) => {
  const srcImage = join(dir, 'local-src.qcow2'), dstImage = join(dir, 'local-dst.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', srcImage, '32M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', dstImage, '32M']);
  const srcQmp = join(dir, 'src-blk.sock');
  const src = start(['--qmp', `unix:${srcQmp}`, '--disk', `file=${srcImage},format=qcow2`, '--', 'sh', '-c', WORKLOAD]);
  await until('the counter on the source', () => counts(src.out).length >= 3);
  const inPort = await freePort();
  const dst = start(['--disk', `file=${dstImage},format=qcow2`, '--incoming', `tcp:127.0.0.1:${inPort}`, '--', 'true']);
  const s = await qmp(srcQmp);
  let q: Record<string, unknown> = {};
  for (let attempt = 0; attempt < 50 && q.status !== 'completed'; attempt++) {
    assert.deepEqual(await s.run('migrate', { uri: `tcp:127.0.0.1:${inPort}`, blk: true }), { return: {} });
    do {
      await new Promise((r) => setTimeout(r, 100));
      q = ret(await s.run('query-migrate'));
    } while (q.status !== 'completed' && q.status !== 'failed');
    if (q.status === 'failed' && !/cannot reach the destination/.test(String(q['error-desc']))) break;
    if (q.status === 'failed') await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal(q.status, 'completed', JSON.stringify(q));
  t.diagnostic(`query-migrate: ${JSON.stringify(q)}`);
  const lastOnSource = Math.max(...counts(src.out));
  await until('the counter on the destination', () => counts(dst.out).some((n) => n > lastOnSource + 2), 120_000);
  assert.equal(Math.min(...counts(dst.out)), lastOnSource + 1);
  await s.run('quit');
  s.close();
  dst.child.kill('SIGINT');
  await Promise.all([src.exited, dst.exited]);
  // The destination's image has what the guest wrote on both sides: the copy, and after.
  assertCounterFiles(dstImage, join(dir, 'check-blk.raw'), [0, lastOnSource, lastOnSource + 2]);
});

test('a destination with another memory size refuses; the source runs on', async () => {
  const srcQmp = join(dir, 'src2.sock');
  const script = 'i=0; while :; do echo count $i; i=$((i+1)); sleep 0.5; done';
  const src = start(['--qmp', `unix:${srcQmp}`, '--', 'sh', '-c', script]);
  await until('the counter on the source', () => counts(src.out).length >= 2);
  const inPort = await freePort();
  const dst = start(['--mem', '256M', '--incoming', `tcp:127.0.0.1:${inPort}`, '--', 'true']);
  const s = await qmp(srcQmp);
  const q = await migrate(s, `tcp:127.0.0.1:${inPort}`);
  assert.equal(q.status, 'failed');
  assert.match(String(q['error-desc']), /refused: configuration differs: the source has 536870912 bytes of RAM, this VM 268435456/);
  assert.equal(ret(await s.run('query-status')).status, 'running');
  const before = Math.max(...counts(src.out));
  await until('the source counting on', () => Math.max(...counts(src.out)) > before + 1, 60_000);
  assert.equal(await dst.exited, 1);
  assert.match(dst.err, /the incoming migration at tcp:127\.0\.0\.1:\d+ failed: configuration differs/);
  await s.run('quit');
  s.close();
  await src.exited;
});

test('a destination that dies at any phase (setup, iteration, stop-and-copy, confirmation) leaves the source running', async (t) => {
  const srcQmp = join(dir, 'src3.sock');
  const script = 'i=0; while :; do echo count $i; i=$((i+1)); sleep 0.3; done';
  const src = start(['--qmp', `unix:${srcQmp}`, '--', 'sh', '-c', script]);
  await until('the counter on the source', () => counts(src.out).length >= 2);
  const s = await qmp(srcQmp);
  for (const phase of FAULT_PHASES) {
    const inPort = await freePort();
    const dst = start(['--incoming', `tcp:127.0.0.1:${inPort}`, '--', 'true'], { RVISOR_TEST_HOOKS: '1', RVISOR_TEST_MIGRATION_FAULT: phase });
    const q = await migrate(s, `tcp:127.0.0.1:${inPort}`);
    t.diagnostic(`${phase}: ${String(q['error-desc'])}`);
    assert.equal(q.status, 'failed', `${phase}: ${JSON.stringify(q)}`);
    assert.equal(await dst.exited, null, `${phase}: the destination was killed`);
    assert.equal(ret(await s.run('query-status')).status, 'running', `${phase}: the source runs`);
    const before = Math.max(...counts(src.out));
    await until(`the source counting on after a death at ${phase}`, () => Math.max(...counts(src.out)) > before + 1, 60_000);
  }
  await s.run('quit');
  s.close();
  await src.exited;
});
