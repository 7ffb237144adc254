// A Vm migrates to another Vm through the migration engine, over an in-process socket
// pair: a counting guest carries on at the destination from where it was paused (its
// count lives in RAM, so the pages arrived), the source stays paused; a destination of
// another size refuses and the source runs on; only an incoming VM takes a migration,
// with -incoming defer once QMP migrate-incoming names where.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { MigrationController } from '../../src/host/migration/controller.js';
import { socketChannel } from '../../src/host/migration/socket-channel.js';
import { socketPair } from './socket-pair.js';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import { Hmp } from '../../src/vmm/hmp.js';
import { migrateIn, migrateOut } from '../../src/vmm/migration/engine.js';
import { runCommand } from '../../src/vmm/qmp/commands.js';
import { JobTable } from '../../src/vmm/qmp/jobs.js';
import { parseVmSpec } from '../../src/vmm/spec.js';
import { Vm } from '../../src/vmm/vm.js';

/** Counts in RAM for ever, through s1: a page that did not arrive restarts the count. */
const COUNT = 'li t0, 0x80400000\n1: ld s1, 0(t0)\n  addi s1, s1, 1\n  sd s1, 0(t0)\n  j 1b';

function vmOf(memory: number, o: { incoming?: boolean; startPaused?: boolean } = {}): Vm {
  const kernel = writeElf(assemble(`.text\n_start:\n  ${COUNT}\n`, { base: 0x80200000n }));
  const vm = new Vm({
    spec: parseVmSpec({ memory, boot: { kernel: 'program.elf' }, nics: [], exec: 'interp' }),
    boot: { kernel, append: '' },
    services: {
      openDevices: () => Promise.resolve({ disks: [], nics: [], shares: [], close() {} }),
      entropy: (buf) => buf.fill(7),
      console: () => {},
    },
    ...o,
  });
  setTimeout(() => vm.quit(), 20_000).unref();
  return vm;
}

const s1 = (vm: Vm) => (vm.cpus().length ? vm.registers(0).find((r) => r.name === 'x9/s1')?.value ?? -1n : -1n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


test('a counting guest migrates between two Vms and counts on from where it stopped', async () => {
  const src = vmOf(16 << 20);
  const dst = vmOf(16 << 20, { incoming: true });
  const srcRun = src.run();
  const dstRun = dst.run();
  await sleep(300);
  assert.ok(s1(src) > 0n);
  assert.equal(dst.status(), 'inmigrate');
  const [a, b] = await socketPair();
  const incoming = migrateIn(await dst.migrationDestination(), socketChannel(b, true));
  const stats = await migrateOut(src.migrationSource(), socketChannel(a, false));
  await incoming;
  assert.equal(stats.status, 'completed');
  assert.equal(src.state, 'paused');
  const atPause = s1(src);
  assert.equal(dst.state, 'running');
  const first = s1(dst);
  assert.ok(first >= atPause, `the destination starts at ${first}, the source paused at ${atPause}`);
  await sleep(200);
  assert.ok(s1(dst) > first, 'and counts on');
  assert.equal(s1(src), atPause, 'the source stays paused');
  src.quit();
  dst.quit();
  await Promise.all([srcRun, dstRun]);
});

test('a destination of another memory size refuses; the source keeps running', async () => {
  const src = vmOf(16 << 20);
  const dst = vmOf(32 << 20, { incoming: true });
  const runs = [src.run(), dst.run()];
  await sleep(100);
  const [a, b] = await socketPair();
  const incoming = assert.rejects(migrateIn(await dst.migrationDestination(), socketChannel(b, true)), /configuration differs/);
  await assert.rejects(migrateOut(src.migrationSource(), socketChannel(a, false)),
    /the destination refused: configuration differs: the source has 16777216 bytes of RAM, this VM 33554432/);
  await incoming;
  assert.equal(src.state, 'running');
  const before = s1(src);
  await sleep(100);
  assert.ok(s1(src) > before);
  src.quit();
  dst.quit();
  await Promise.all(runs);
});

test('an incoming VM started paused (-S) stays paused after the migration until it is resumed; a cont while it waits runs it at arrival', async () => {
  for (const early of [false, true]) {
    const src = vmOf(16 << 20);
    const dst = vmOf(16 << 20, { incoming: true, startPaused: true });
    const runs = [src.run(), dst.run()];
    await sleep(100);
    // QEMU's cont in 'inmigrate' only asks for the guest to run once it is here.
    if (early) dst.resume();
    assert.equal(dst.status(), 'inmigrate');
    const [a, b] = await socketPair();
    const incoming = migrateIn(await dst.migrationDestination(), socketChannel(b, true));
    await migrateOut(src.migrationSource(), socketChannel(a, false));
    await incoming;
    assert.equal(dst.status(), early ? 'running' : 'paused');
    const atPause = s1(src);
    assert.ok(s1(dst) >= atPause, 'the migrated harts go on from the source\'s registers');
    if (!early) {
      assert.equal(s1(dst), atPause, 'the migrated harts hold the source\'s registers');
      await sleep(100);
      assert.equal(s1(dst), atPause, 'a paused destination does not run');
      dst.resume();
    }
    await sleep(100);
    assert.ok(s1(dst) > atPause);
    src.quit();
    dst.quit();
    await Promise.all(runs);
  }
});

test('a VM not started with incoming refuses to be a destination', async () => {
  const vm = vmOf(16 << 20);
  const run = vm.run();
  await assert.rejects(vm.migrationDestination(), /not started to receive a migration/);
  vm.quit();
  await run;
});

test('-incoming defer: the VM waits with no listener until QMP migrate-incoming names one; a second one, or one for a VM not waiting, is refused', async () => {
  const src = vmOf(16 << 20);
  const dst = vmOf(16 << 20, { incoming: true });
  const runs = [src.run(), dst.run()];
  const inbound = new MigrationController(dst);
  dst.migration = inbound;
  const outbound = new MigrationController(src);
  src.migration = outbound;
  await sleep(100);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  server.close();
  const qmp = (control: Vm, name: string, args: Record<string, unknown>) => runCommand(name, args, { control, hmp: new Hmp(control), jobs: new JobTable(() => {}) });
  assert.deepEqual(await qmp(dst, 'migrate-incoming', { uri: `tcp:127.0.0.1:${port}` }), {});
  await assert.rejects(qmp(dst, 'migrate-incoming', { uri: `tcp:127.0.0.1:${port + 1}` }), /The incoming migration has already been started/);
  await assert.rejects(qmp(src, 'migrate-incoming', { uri: 'tcp:127.0.0.1:1' }), /'-incoming' was not specified on the command line/);
  await sleep(50);
  const stats = await outbound.migrate(`tcp:127.0.0.1:${port}`);
  assert.equal(stats.status, 'completed');
  for (let i = 0; i < 50 && dst.status() !== 'running'; i++) await sleep(20);
  assert.equal(dst.status(), 'running');
  src.quit();
  dst.quit();
  await Promise.all(runs);
});
