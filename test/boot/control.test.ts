// QEMU users' tools against a running Debian guest: a QMP client stops, queries and
// continues the VM and powers it down, receiving the events; gdb-multiarch stops the kernel
// at a function from its symbol table, single-steps and detaches with the guest running.

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QmpClient, type Msg } from '../vmm/qmp-client.js';
import { CLI, ensureImage, freePort, sleep, until } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-control-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

const GDB = 'gdb-multiarch';
const haveGdb = spawnSync(GDB, ['--version']).status === 0;




/** The next message that is not an event, collecting events on the way. */
async function reply(c: QmpClient, events: Msg[]): Promise<Msg> {
  for (;;) {
    const m = await c.next(30_000);
    if ('event' in m) events.push(m);
    else return m;
  }
}

test('QMP and gdb-multiarch drive a running Debian guest', { skip: !haveGdb && !process.env.CI && `${GDB} is not installed` }, async () => {
  const qmpPath = join(dir, 'qmp.sock');
  const gdbPort = await freePort();
  const child = spawn(process.execPath, [CLI, 'run', 'debian', '--qmp', `unix:${qmpPath}`, '--gdb', `tcp::${gdbPort}`, '--', 'sh', '-c',
    'grep " T ksys_write$" /proc/kallsyms; i=0; while :; do echo tick $i; i=$((i+1)); sleep 1; done'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('close', r));
  after(() => child.kill('SIGKILL'));
  const ticks = () => (out.match(/^tick \d+$/gm) ?? []).length;

  await until('the guest loop', () => ticks() >= 2);
  const sym = /^([0-9a-f]{16}) T ksys_write$/m.exec(out);
  assert.ok(sym, out.slice(-2000));
  const events: Msg[] = [];

  const c = await QmpClient.open(qmpPath);
  const greeting = await c.next();
  assert.ok('QMP' in greeting, JSON.stringify(greeting));
  assert.deepEqual(await c.execute('qmp_capabilities'), { return: {} });
  assert.deepEqual((await c.execute('query-status')).return, { running: true, singlestep: false, status: 'running' });
  c.send(JSON.stringify({ execute: 'stop', id: 7 }));
  assert.deepEqual(await reply(c, events), { return: {}, id: 7 });
  assert.equal(events.at(-1)?.event, 'STOP');
  assert.ok((events.at(-1)?.timestamp as { seconds: number }).seconds > 1_600_000_000);
  assert.equal(((await c.execute('query-status')).return as Msg).status, 'paused');
  const paused = ticks();
  await sleep(3000);
  assert.equal(ticks(), paused, 'the guest ran while paused');
  c.send(JSON.stringify({ execute: 'cont' }));
  assert.deepEqual(await reply(c, events), { return: {} });
  assert.equal(events.at(-1)?.event, 'RESUME');
  await until('ticks after cont', () => ticks() > paused + 1, 60_000);
  const cpus = (await c.execute('query-cpus-fast')).return as Msg[];
  assert.equal(cpus.length, 1);
  assert.equal(cpus[0]['cpu-index'], 0);
  assert.equal(cpus[0].target, 'riscv');
  // The booted guest runs through the translator, and its counters say so.
  const jit = ((await c.execute('x-query-jit')).return as Msg)['human-readable-text'] as string;
  const count = (name: string) => Number(new RegExp(`^${name} +(\\d+)$`, 'm').exec(jit)?.[1]);
  assert.ok(count('blocks translated') > 1000, jit);
  assert.ok(count('entries into translated code') > 1000, jit);
  const bad = await c.execute('no-such-command');
  assert.equal((bad.error as Msg).class, 'CommandNotFound');
  c.send('{"execute": ');
  c.send('}\n');
  assert.equal(((await reply(c, events)).error as Msg).class, 'GenericError');

  // The debugger: attach (the VM stops), break on ksys_write, continue to it, step, detach.
  const addr = `0x${sym[1]}`;
  const gdb = await new Promise<string>((resolve, reject) => {
    execFile(GDB, ['-nx', '-batch', '-ex', 'set architecture riscv:rv64', '-ex', `target remote 127.0.0.1:${gdbPort}`,
      '-ex', 'info registers pc', '-ex', `break *${addr}`, '-ex', 'continue', '-ex', 'info registers pc', '-ex', 'stepi',
      '-ex', 'info registers pc', '-ex', 'detach'], { timeout: 300_000 }, (e, stdout, stderr) => (e && e.killed ? reject(e) : resolve(stdout + stderr)));
  });
  assert.match(gdb, new RegExp(`Breakpoint 1, 0x0*${sym[1]} in`), gdb);
  const pcs = [...gdb.matchAll(/^pc\s+(0x[0-9a-f]+)/gm)].map((m) => BigInt(m[1]));
  assert.equal(pcs.length, 3, gdb);
  assert.equal(pcs[1], BigInt(addr));
  assert.notEqual(pcs[2], BigInt(addr), 'stepi did not move');
  assert.match(gdb, /Inferior 1 \(Remote target\) detached/, gdb);
  const afterDetach = ticks();
  await until('ticks after detach', () => ticks() > afterDetach + 1, 120_000);

  // No ACPI on virt: system_powerdown reaches the kernel as a serial break + SysRq 'o',
  // and the guest powers itself off.
  c.send(JSON.stringify({ execute: 'system_powerdown' }));
  const answer = await reply(c, events).catch((e: Error) => {
    throw new Error(`${e.message}; events: ${JSON.stringify(events)}; stdout: ${out.slice(-800)}; stderr: ${err}`);
  });
  assert.deepEqual(answer, { return: {} });
  for (let m = events.at(-1); m?.event !== 'SHUTDOWN'; m = await c.next(120_000)) events.push(m ?? {});
  assert.ok(events.some((e) => e.event === 'POWERDOWN'));
  assert.equal(await exited, 0, err);
  assert.ok(events.some((e) => e.event === 'STOP') && events.some((e) => e.event === 'RESUME'));
});
