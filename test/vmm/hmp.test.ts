// The human monitor's lines against a fake VM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hmp } from '../../src/vmm/hmp.js';
import { MonitorConsole } from '../../src/vmm/hmp-console.js';
import { FakeVm } from './fakes.js';

test('status, stop and cont', async () => {
  const vm = new FakeVm();
  const hmp = new Hmp(vm);
  assert.equal(await hmp.execute('info status'), 'VM status: running\r\n');
  assert.equal(await hmp.execute('stop'), '');
  assert.equal(await hmp.execute('info status'), 'VM status: paused\r\n');
  assert.equal(await hmp.execute('  c  '), '');
  assert.equal(await hmp.execute('info status'), 'VM status: running\r\n');
  vm.state = 'debug';
  assert.equal(await hmp.execute('info status'), 'VM status: paused (debug)\r\n');
  vm.state = 'shutdown';
  assert.equal(await hmp.execute('info status'), 'VM status: paused (shutdown)\r\n');
  assert.deepEqual(vm.calls, ['pause', 'resume']);
});

test('power, reset and quit reach the VM', async () => {
  const vm = new FakeVm();
  const hmp = new Hmp(vm);
  for (const line of ['system_powerdown', 'system_reset', 'quit']) assert.equal(await hmp.execute(line), '');
  assert.deepEqual(vm.calls, ['powerdown', 'reset', 'quit']);
  assert.match(await hmp.execute('quit now'), /^Error: quit: unexpected argument 'now'/);
});

test('savevm / loadvm, with errors as output', async () => {
  const vm = new FakeVm();
  const hmp = new Hmp(vm);
  assert.equal(await hmp.execute('savevm snap1'), '');
  assert.equal(await hmp.execute('loadvm snap1'), '');
  assert.equal(await hmp.execute('loadvm nope'), "Error: snapshot 'nope' does not exist\r\n");
  assert.match(await hmp.execute('savevm'), /^Error: savevm needs exactly one snapshot NAME/);
  assert.deepEqual(vm.calls, ['save snap1', 'load snap1', 'load nope']);
});

test('info registers, cpus, block; cpu selection; help; unknown commands', async () => {
  const hmp = new Hmp(new FakeVm());
  assert.equal(await hmp.execute('info registers'), ' pc       0000000080000000 x1/ra    00000000deadbeef x2/sp    fffffffffffffff0\r\n');
  assert.equal(await hmp.execute('cpu 1'), '');
  assert.match(await hmp.execute('info registers'), /^ pc {7}0000000080000001 /);
  assert.match(await hmp.execute('cpu 7'), /invalid CPU index/);
  const cpus = await hmp.execute('info cpus');
  assert.match(cpus, /^ {2}CPU #0: pc=0x0000000080000000 thread_id=\d+\r\n\* CPU #1: pc=0x0000000080000004 \(halted\)/);
  assert.equal(await hmp.execute('info block'), 'virtio0: /tmp/disk.qcow2 (qcow2)\r\n');
  assert.equal(await hmp.execute('info version'), '7.2.0 (rvisor)\r\n');
  const help = await hmp.execute('help');
  for (const c of ['info status', 'stop', 'cont', 'system_powerdown', 'system_reset', 'savevm NAME', 'loadvm NAME', 'quit', 'info registers']) assert.ok(help.includes(c), c);
  assert.equal(await hmp.execute('frobnicate'), "unknown command: 'frobnicate'\r\n");
  assert.equal(await hmp.execute('info frob'), "info: unknown item 'frob'\r\n");
  assert.equal(await hmp.execute('   '), '');
});

test('the terminal monitor: banner, prompt, echo, editing, commands in order', async () => {
  const vm = new FakeVm();
  let screen = '';
  const con = new MonitorConsole(new Hmp(vm), (t) => { screen += t; });
  con.open();
  assert.equal(screen, "QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) ");
  screen = '';
  const type = (s: string) => con.input(Buffer.from(s, 'latin1'));
  type('info stx\x7fatus\r\n');
  await con.idle();
  type('stop\r');
  await con.idle();
  type('junk\x15info status\n');
  await con.idle();
  assert.equal(screen, [
    'info stx\b \batus\r\n', 'VM status: running\r\n(qemu) ',
    'stop\r\n', '(qemu) ',
    'junk', '\b \b'.repeat(4), 'info status\r\n', 'VM status: paused\r\n(qemu) ',
  ].join(''));
  assert.deepEqual(vm.calls, ['pause']);
  // An empty line just prompts again.
  screen = '';
  type('\r');
  await con.idle();
  assert.equal(screen, '\r\n(qemu) ');
});

test('human-monitor-command style cpu override leaves the selected cpu alone', async () => {
  const hmp = new Hmp(new FakeVm());
  assert.match(await hmp.execute('info registers', 1), /^ pc {7}0000000080000001 /);
  assert.match(await hmp.execute('info registers'), /^ pc {7}0000000080000000 /);
});

test('info jit shows the translator\'s counters, or says it is off', async () => {
  const vm = new FakeVm();
  const hmp = new Hmp(vm);
  assert.equal(await hmp.execute('info jit'), 'blocks translated         12\r\ncompile ms (main thread)  3.3\r\n');
  vm.jit = undefined;
  assert.match(await hmp.execute('info jit'), /^Translator off: .*--exec interp/);
});
