// The Vm unit over the real virt board: small S-mode programs on rvisor's SBI stand in
// for a kernel. The lifecycle alone decides whether harts run; actions illegal in the
// current state are refused; resets and loadvm rebuild the machine; each way a run ends
// is told apart.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';
import type { MachineSnapshot } from '../../src/machine/virt-snapshot.js';
import { IllegalTransition } from '../../src/vmm/lifecycle.js';
import { parseVmSpec } from '../../src/vmm/spec.js';
import { Vm, type VmExit } from '../../src/vmm/vm.js';
import { type PreparedLoad, type SnapshotStore, VmError } from '../../src/vmm/vm-services.js';

const sbi = (eid: number, fid = 0) => `li a7, ${eid}\n  li a6, ${fid}\n  ecall`;
const putchar = (ch: string) => `li a0, ${ch.charCodeAt(0)}\n  ${sbi(0x01)}`;
const print = (text: string) => [...text].map(putchar).join('\n  ');
/** SRST: a0 = type (0 shutdown, 1 cold reboot), a1 = reason. */
const SHUTDOWN = `li a0, 0\n  li a1, 0\n  ${sbi(0x53525354)}`;
const REBOOT = `li a0, 1\n  li a1, 0\n  ${sbi(0x53525354)}`;
/** Counts in s1 for ever. */
const COUNT = '1: addi s1, s1, 1\n  j 1b';

/** A snapshot store in memory: the real contract, without files. */
class MemoryStore implements SnapshotStore {
  readonly saved = new Map<string, MachineSnapshot>();
  save(name: string, state: MachineSnapshot): void {
    // The RAM section holds views of guest RAM: copy them, as a file would.
    this.saved.set(name, structuredClone(state));
  }
  prepare(name: string): PreparedLoad {
    const state = this.saved.get(name);
    if (!state) throw new VmError(`no snapshot ${name}`);
    return { name, state: structuredClone(state) };
  }
  revert(): void {}
}

function vmOf(body: string, o: { startPaused?: boolean; store?: SnapshotStore } = {}) {
  const kernel = writeElf(assemble(`.text\n_start:\n  ${body}\n`, { base: 0x80200000n }));
  let out = '';
  let opened = 0;
  const vm = new Vm({
    spec: parseVmSpec({ memory: 16 << 20, boot: { kernel: 'program.elf' }, nics: [], exec: 'interp' }),
    boot: { kernel, append: '' },
    services: {
      openDevices: () => {
        opened++;
        return Promise.resolve({ disks: [], nics: [], shares: [], close() {} });
      },
      snapshots: o.store,
      entropy: (buf) => buf.fill(7),
      console: (bytes) => (out += Buffer.from(bytes).toString('latin1')),
    },
    startPaused: o.startPaused,
  });
  const events: string[] = [];
  vm.onEvent((e) => events.push(e.data && 'reason' in e.data ? `${e.event}:${String(e.data.reason)}` : e.event));
  // Should a case fail before it ends its VM, the run still ends (a guard, not how cases end).
  const guard = setTimeout(() => vm.quit(), 20_000);
  guard.unref();
  return { vm, events, output: () => out, boots: () => opened };
}

/** The counter of COUNT; -1 between machines. */
const s1 = (vm: Vm) => (vm.cpus().length ? vm.registers(0).find((r) => r.name === 'x9/s1')?.value ?? -1n : -1n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean): Promise<void> {
  for (const end = Date.now() + 10_000; !ok(); await sleep(5)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

test('a guest that prints and powers off: its output, then SHUTDOWN', async () => {
  const { vm, events, output } = vmOf(`${print('hi')}\n  ${SHUTDOWN}`);
  assert.equal(vm.state, 'created');
  assert.deepEqual(await vm.run(), { kind: 'poweroff', code: 0 } satisfies VmExit);
  assert.equal(output(), 'hi');
  assert.equal(vm.state, 'shutdown');
  assert.deepEqual(events, ['RESUME', 'SHUTDOWN:guest-shutdown']);
});

test('paused, the guest makes no progress; illegal actions are refused and change nothing', async () => {
  const { vm, events } = vmOf(COUNT);
  const run = vm.run();
  await until('counting', () => s1(vm) > 1000n);
  await vm.dispatch({ type: 'pause' });
  const held = s1(vm);
  await sleep(50);
  assert.equal(s1(vm), held, 'the guest ran while paused');
  await assert.rejects(vm.dispatch({ type: 'pause' }), IllegalTransition);
  assert.equal(vm.state, 'paused');
  assert.equal(vm.status(), 'paused');
  await vm.dispatch({ type: 'resume' });
  await until('counting again', () => s1(vm) > held);
  await assert.rejects(vm.dispatch({ type: 'resume' }), /cannot resume a VM that is running/);
  await vm.dispatch({ type: 'quit' });
  assert.deepEqual(await run, { kind: 'quit' });
  assert.deepEqual(events, ['RESUME', 'STOP', 'RESUME', 'SHUTDOWN:host-qmp-quit']);
  await assert.rejects(vm.dispatch({ type: 'pause' }), /cannot pause a VM that is shutdown/);
});

test('-S: nothing runs until resume', async () => {
  const { vm, events } = vmOf(COUNT, { startPaused: true });
  const run = vm.run();
  await vm.attached;
  await sleep(30);
  assert.equal(s1(vm), 0n);
  vm.resume();
  await until('counting', () => s1(vm) > 0n);
  vm.interrupt();
  assert.deepEqual(await run, { kind: 'interrupted' });
  assert.deepEqual(events, ['RESUME', 'SHUTDOWN:host-signal']);
});

test('a host reset builds the machine anew, a paused VM stays paused', async () => {
  const { vm, events, boots } = vmOf(COUNT);
  const run = vm.run();
  await until('counting', () => s1(vm) > 100_000n);
  vm.pause();
  vm.reset();
  await until('the new machine', () => boots() === 2);
  await sleep(30);
  assert.equal(s1(vm), 0n, 'the rebuilt machine ran while paused');
  assert.equal(vm.status(), 'paused');
  vm.resume();
  await until('counting', () => s1(vm) > 0n);
  vm.quit();
  await run;
  assert.deepEqual(events, ['RESUME', 'STOP', 'RESET:host-qmp-system-reset', 'RESUME', 'SHUTDOWN:host-qmp-quit']);
});

test('a guest reboot after output reboots; one before any output is a silent reset', async () => {
  const talker = vmOf(`${print('boot;')}\n  ${REBOOT}`);
  const run = talker.vm.run();
  await until('three boots', () => talker.boots() >= 3);
  talker.vm.quit();
  await run;
  assert.match(talker.output(), /^(boot;){2,}/);
  assert.ok(talker.events.includes('RESET:guest-reset'));
  const mute = vmOf(REBOOT);
  assert.deepEqual(await mute.vm.run(), { kind: 'silent-reset' });
  assert.equal(mute.boots(), 1);
});

test('a kernel panic line before poweroff makes the exit a panic', async () => {
  const { vm, events } = vmOf(`${print('Kernel panic - not syncing: x\n')}\n  ${SHUTDOWN}`);
  assert.deepEqual(await vm.run(), { kind: 'panic' });
  assert.deepEqual(events, ['RESUME', 'SHUTDOWN:guest-panic']);
});

test('savevm and loadvm: the restored machine continues from the snapshot', async () => {
  const store = new MemoryStore();
  const { vm, boots } = vmOf(COUNT, { store });
  const run = vm.run();
  await until('counting', () => s1(vm) > 1000n);
  await vm.saveSnapshot('one');
  const saved = s1(vm);
  await until('counting on', () => s1(vm) > saved * 4n + 100_000n);
  await assert.rejects(vm.loadSnapshot('missing'), /no snapshot missing/);
  assert.equal(boots(), 1, 'a refused load rebuilt the machine');
  // Paused, the restored machine stays where the snapshot was, to the instruction.
  vm.pause();
  await vm.loadSnapshot('one');
  assert.equal(boots(), 2);
  assert.equal(s1(vm), saved);
  assert.equal(vm.status(), 'paused');
  vm.resume();
  await until('counting from the snapshot', () => s1(vm) > saved);
  vm.quit();
  await run;
});

test('without a snapshot store, savevm is refused with a clear error', async () => {
  const { vm } = vmOf(COUNT);
  const run = vm.run();
  await vm.attached;
  await assert.rejects(vm.saveSnapshot('x'), /snapshots are not available/);
  vm.quit();
  await run;
});
