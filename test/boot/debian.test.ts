// Boots Debian's stock riscv64 kernel with the image's BusyBox initramfs through the
// public CLI, as a user would, and runs commands in it.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, test } from 'node:test';
import { STALL_LIMITS } from '../../src/machine/stall.js';
import { VIRT_ISA } from '../../src/machine/virt.js';
import { VIRT } from '../../src/machine/virt-map.js';
import { ensureImage, rvisor } from './support.js';

const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin';

before(() => ensureImage());

test('rvisor run debian -- CMD runs commands in the guest and exits with their status', async () => {
  const r = await rvisor(['run', 'debian', '--', 'sh', '-c', 'uname -a; cat /proc/cpuinfo; echo $((6*7)); exit 3']);
  assert.equal(r.status, 3, r.stderr + r.stdout.slice(-3000));
  assert.match(r.stdout, /^Linux rvisor \S+-riscv64 #1 SMP .*Debian.* riscv64 GNU\/Linux$/m);
  assert.match(r.stdout, /^processor\s*: 0$/m);
  // The kernel reports exactly what the device tree advertises.
  const isa = /^isa\s*: (\S+)$/m.exec(r.stdout);
  assert.ok(isa, 'no isa line in /proc/cpuinfo');
  assert.ok(isa[1].startsWith('rv64imafdc'), isa[1]);
  for (const ext of VIRT_ISA.split('_').slice(1)) assert.ok(isa[1].includes(ext), `${ext} missing from ${isa[1]}`);
  assert.match(r.stdout, /^mmu\s*: sv48$/m);
  assert.match(r.stdout, /^42$/m);
  // The /init's exit-status line is rvisor's business, not the user's.
  assert.doesNotMatch(r.stdout, /rvisor-exit-status/);
});

test('Debian OpenSBI (fw_dynamic.bin) boots the same kernel', { skip: !existsSync(OPENSBI) && !process.env.CI && 'opensbi is not installed' }, async () => {
  const r = await rvisor(['run', 'debian', '--bios', OPENSBI, '--', 'sh', '-c', 'cat /proc/cpuinfo; exit 0']);
  assert.equal(r.status, 0, r.stderr + r.stdout.slice(-3000));
  assert.match(r.stdout, /OpenSBI v\d/);
  assert.match(r.stdout, /Platform Name\s*: riscv-virtio,qemu/);
  assert.match(r.stdout, /^processor\s*: 0$/m);
});

test('--smp 2 brings both harts online through SBI HSM', async () => {
  const r = await rvisor(['run', 'debian', '--smp', '2', '--', 'sh', '-c', 'grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online']);
  assert.equal(r.status, 0, r.stderr + r.stdout.slice(-3000));
  assert.match(r.stdout, /^2$/m);
  assert.match(r.stdout, /^0-1$/m);
});

test('an idle guest, both harts in WFI for longer than the stall window, is not taken for a hung one', async () => {
  const seconds = Math.ceil(1.5 * STALL_LIMITS.ticks / VIRT.timebaseHz);
  const r = await rvisor(['run', 'debian', '--smp', '2', '--', 'sh', '-c', `sleep ${seconds}; echo slept`]);
  assert.equal(r.status, 0, r.stderr + r.stdout.slice(-3000));
  assert.match(r.stdout, /^slept$/m);
});

test('--exec interp: the interpreter alone boots the same kernel', async () => {
  const r = await rvisor(['run', 'debian', '--exec', 'interp', '--net', 'none', '--', 'sh', '-c', 'echo $((6*7))']);
  assert.equal(r.status, 0, r.stderr + r.stdout.slice(-3000));
  assert.match(r.stdout, /^42$/m);
});
