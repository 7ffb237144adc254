// Bad input gets one clear error line and a non-zero status; a guest kernel panic ends
// the run with its own status and the panic text visible.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer } from 'node:net';
import { before, test } from 'node:test';
import { ensureImage, rvisor } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-bad-'));
const IMAGE = join(process.env.RVISOR_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'rvisor'), 'images', 'debian');

before(() => ensureImage());

function oneLineError(r: { status: number | null; stderr: string }, pattern: RegExp) {
  assert.notEqual(r.status, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

test('a missing kernel, or one for another architecture', async () => {
  oneLineError(await rvisor(['run', '--kernel', join(dir, 'nothing')]), /no such file/);
  oneLineError(await rvisor(['run', '--kernel', process.execPath]), /RISC-V|machine/i);
  const pe = Buffer.alloc(4096);
  pe.write('MZ', 0);
  writeFileSync(join(dir, 'pe.efi'), pe);
  oneLineError(await rvisor(['run', '--kernel', join(dir, 'pe.efi')]), /not a RISC-V kernel/);
});

test('--mem too small for the kernel', async () => {
  oneLineError(await rvisor(['run', 'debian', '--mem', '16M', '--', 'true']), /--mem 16 MiB is too small for the kernel \(image_size [\d.]+ MiB at RAM \+ 2 MiB\), the initrd .* need \d+ MiB of RAM/);
});

// Debian's kernel fits in 64M and 80M of RAM (its image_size is about 36 MiB) but dies
// there: at 64M it panics in mm_core_init_early, before any interrupt is enabled, then
// loops forever; at 80M it runs out of memory in an initcall, before ttyS0 is up, and
// panic=-1 reboots it into the same death. Each run must end, in bounded time, with
// status 4 and a clear word: the panic itself through the default command line's SBI
// early console, and without it, what the run loop saw.
const MEM_BOUND_MS = 3 * 60_000;
const OPENSBI = '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin';
const SILENT = ['--append', 'console=ttyS0 quiet panic=-1'];

test('--mem 64M: the early panic is shown, or without earlycon the hung guest reported', async () => {
  const shown = await rvisor(['run', 'debian', '--mem', '64M', '--', 'true'], { timeoutMs: MEM_BOUND_MS });
  assert.equal(shown.status, 4, shown.stderr + shown.stdout.slice(-2000));
  assert.match(shown.stdout, /Kernel panic - not syncing: memblocks_present/);
  oneLineError(shown, /^rvisor: the guest kernel panicked$/m);
  const silent = await rvisor(['run', 'debian', '--mem', '64M', ...SILENT, '--', 'true'], { timeoutMs: MEM_BOUND_MS });
  assert.equal(silent.status, 4, silent.stderr + silent.stdout.slice(-2000));
  assert.equal(silent.stdout, '');
  oneLineError(silent, /^rvisor: the guest hung: no hart could take an interrupt .* add earlycon=sbi to --append/m);
});

test('--mem 64M through OpenSBI (M-mode firmware under the kernel): the hung guest reported', { skip: !existsSync(OPENSBI) && !process.env.CI && 'opensbi is not installed' }, async () => {
  const r = await rvisor(['run', 'debian', '--mem', '64M', '--bios', OPENSBI, '--', 'true'], { timeoutMs: MEM_BOUND_MS });
  assert.equal(r.status, 4, r.stderr + r.stdout.slice(-2000));
  assert.match(r.stdout, /OpenSBI v\d/);
  oneLineError(r, /^rvisor: (the guest hung: no hart could take an interrupt|the guest kernel panicked$)/m);
});

test('--mem 80M: the panic is shown, or without earlycon the silent reboot is not repeated', async () => {
  const shown = await rvisor(['run', 'debian', '--mem', '80M', '--', 'true'], { timeoutMs: MEM_BOUND_MS });
  assert.equal(shown.status, 4, shown.stderr + shown.stdout.slice(-2000));
  assert.match(shown.stdout, /Kernel panic - not syncing/);
  oneLineError(shown, /^rvisor: the guest kernel panicked$/m);
  const silent = await rvisor(['run', 'debian', '--mem', '80M', ...SILENT, '--', 'true'], { timeoutMs: MEM_BOUND_MS });
  assert.equal(silent.status, 4, silent.stderr + silent.stdout.slice(-2000));
  assert.equal(silent.stdout, '');
  oneLineError(silent, /^rvisor: the guest reset before printing anything .*earlycon=sbi/m);
});

test('a panic without panic= (Linux then loops with interrupts on) still ends the run with status 4', async () => {
  const r = await rvisor(['run', 'debian', '--mem', '80M', '--append', 'console=ttyS0 quiet earlycon=sbi', '--', 'true'], { timeoutMs: MEM_BOUND_MS });
  assert.equal(r.status, 4, r.stderr + r.stdout.slice(-2000));
  assert.match(r.stdout, /end Kernel panic - not syncing/);
  oneLineError(r, /^rvisor: the guest kernel panicked$/m);
});

test('an image that fails its checksum is refused', async () => {
  const cache = join(dir, 'cache');
  const copy = join(cache, 'images', 'debian');
  mkdirSync(copy, { recursive: true });
  for (const f of ['kernel', 'initrd', 'manifest.json']) copyFileSync(join(IMAGE, f), join(copy, f));
  const initrd = readFileSync(join(copy, 'initrd'));
  initrd[initrd.length >> 1] ^= 0xff;
  writeFileSync(join(copy, 'initrd'), initrd);
  oneLineError(await rvisor(['run', 'debian', '--', 'true'], { env: { ...process.env, RVISOR_CACHE: cache } }), /corrupt/);
});

test('a corrupt initrd makes the kernel panic: distinct status, panic text shown', async () => {
  writeFileSync(join(dir, 'garbage.cpio.gz'), randomBytes(64 * 1024));
  const r = await rvisor(['run', 'debian', '--initrd', join(dir, 'garbage.cpio.gz'), '--', 'true']);
  assert.equal(r.status, 4, r.stderr + r.stdout.slice(-2000));
  assert.match(r.stdout, /Kernel panic - not syncing/);
  assert.match(r.stderr, /panicked/);
});

test('bad device options: a corrupt qcow2, a missing disk or share, a port in use', async () => {
  const bad = join(dir, 'bad.qcow2');
  const header = Buffer.alloc(1024);
  header.write('QFI\xfb', 0, 'latin1');
  header.writeUInt32BE(3, 4);
  header.writeUInt32BE(40, 20); // cluster_bits far out of range
  writeFileSync(bad, header);
  oneLineError(await rvisor(['run', 'debian', '--disk', `file=${bad},format=qcow2`, '--', 'true']), /--disk .*bad\.qcow2: .*cluster/i);
  oneLineError(await rvisor(['run', 'debian', '--disk', join(dir, 'missing.img'), '--', 'true']), /--disk .*missing\.img/);
  oneLineError(await rvisor(['run', 'debian', '--share', `${join(dir, 'no-such-dir')}:tag`, '--', 'true']), /--share .*no-such-dir/);
  oneLineError(await rvisor(['run', 'debian', '--disk', 'file=x,format=vmdk', '--', 'true']), /--disk/);
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    oneLineError(await rvisor(['run', 'debian', '--publish', `${port}:80`, '--', 'true']), /already in use/);
  } finally {
    server.close();
  }
});
