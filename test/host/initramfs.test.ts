// The pieces of the guest image that need no network: kernel header recognition, the
// busybox applet table, the initramfs layout, /init and the command-line convention.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { busyboxApplets } from '../../src/host/image/busybox.js';
import { writeCpio } from '../../src/host/image/cpio.js';
import { parseControl } from '../../src/host/image/debian.js';
import { guestCommandLine, initScript } from '../../src/host/image/init-script.js';
import { initramfsEntries } from '../../src/host/image/initramfs.js';
import { describeKernel, parseRiscvImage, sniffCompression } from '../../src/host/image/kernel.js';

const enc = new TextEncoder();

// The first 0x40 bytes of an EFI-stub RISC-V Image, then a PE signature at 0x40.
function imageHeader(efi: boolean): Uint8Array {
  const b = new Uint8Array(0x80);
  const v = new DataView(b.buffer);
  if (efi) b.set([0x4d, 0x5a], 0);
  v.setBigUint64(0x08, 0x200000n, true);
  v.setBigUint64(0x10, 0x23a0000n, true);
  v.setUint32(0x20, 2, true);
  b.set(enc.encode('RISCV\0\0\0RSC\x05'), 0x30);
  if (efi) {
    v.setUint32(0x3c, 0x40, true);
    b.set(enc.encode('PE\0\0'), 0x40);
  }
  return b;
}

test('RISC-V Image headers are recognised, with or without the EFI stub', () => {
  const efi = parseRiscvImage(imageHeader(true));
  assert.deepEqual(efi, { textOffset: 0x200000, imageSize: 0x23a0000, version: '0.2', efiStub: true });
  assert.match(describeKernel(efi!), /^EFI-stub PE\/COFF RISC-V Image \(uncompressed, header v0\.2/);
  assert.equal(parseRiscvImage(imageHeader(false))?.efiStub, false);
  assert.equal(parseRiscvImage(new Uint8Array(0x80)), undefined);
  assert.equal(sniffCompression(new Uint8Array([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(sniffCompression(enc.encode('MZ\0\0zimg')), 'efi-zboot');
});

test('busybox applets come from the name table in the binary', () => {
  const names = ['[', '[[', 'cttyhack', 'devmem', 'insmod', 'mount', 'poweroff', 'setsid', 'sh', 'vi'];
  const binary = new Uint8Array([...enc.encode('\x7fELF junk \0 [x\0'), ...enc.encode(names.join('\0') + '\0\0'), 0xff, 0xfe]);
  assert.deepEqual(busyboxApplets(binary), names);
  assert.throws(() => busyboxApplets(enc.encode('[\0[[\0sh\0\0')), /applets missing: mount, insmod/);
  assert.throws(() => busyboxApplets(new Uint8Array(64)), /applet table not found/);
});

test('the initramfs has busybox links, modules with modules.dep, /dev/console and /init', () => {
  const entries = initramfsEntries({
    kernelVersion: '7.0.0-riscv64',
    busybox: new Uint8Array([1, 2, 3]),
    applets: ['busybox', 'sh', 'insmod'],
    modules: [
      { path: 'kernel/fs/jbd2/jbd2.ko', data: new Uint8Array(4) },
      { path: 'kernel/fs/ext4/ext4.ko', data: new Uint8Array(8) },
    ],
    modulesDep: 'kernel/fs/jbd2/jbd2.ko:\nkernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n',
  });
  const paths = entries.map((e) => e.path);
  for (const p of ['bin/busybox', 'bin/sh', 'bin/insmod', 'sbin', 'usr/bin', 'dev/console', 'proc', 'sys', 'init', 'lib/modules/7.0.0-riscv64/modules.dep']) {
    assert.ok(paths.includes(p), p);
  }
  assert.ok(!paths.includes('bin/busybox/busybox'));
  // Every directory is in the archive before anything inside it.
  for (const [i, p] of paths.entries()) {
    const parent = p.split('/').slice(0, -1).join('/');
    if (parent) assert.ok(paths.indexOf(parent) >= 0 && paths.indexOf(parent) < i, `${parent} before ${p}`);
  }
  const init = entries.find((e) => e.path === 'init');
  assert.ok(init?.kind === 'file' && init.mode === 0o755);
  const script = new TextDecoder().decode(init.data);
  assert.ok(script.indexOf('/lib/modules/7.0.0-riscv64/kernel/fs/jbd2/jbd2.ko') < script.indexOf('/lib/modules/7.0.0-riscv64/kernel/fs/ext4/ext4.ko'));
  assert.ok(writeCpio(entries).length > 0);
});

test('/init is valid sh and ends with the exit protocol', () => {
  const script = initScript({ modules: ['/lib/modules/v/kernel/a.ko', '/lib/modules/v/kernel/b c.ko'] });
  assert.ok(script.startsWith('#!/bin/sh\n'));
  assert.match(script, /'\/lib\/modules\/v\/kernel\/b c\.ko'/);
  assert.match(script, /echo "rvisor-exit-status: \$status"/);
  assert.match(script, /devmem 0x100000 32 \$code/);
  const check = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.equal(initScript({ modules: [] }).includes('for m in \\\n    ; do'), true);
  assert.equal(spawnSync('sh', ['-n'], { input: initScript({ modules: [] }) }).status, 0);
});

test('guest command lines: plain words after --, anything else base64 in rvisor.cmd', () => {
  assert.equal(guestCommandLine([]), '');
  assert.equal(guestCommandLine(['uname', '-a']), '-- uname -a');
  const cmd = guestCommandLine(['sh', '-c', `echo "it's" $((6*7)); exit 3`]);
  const m = /^rvisor\.cmd=([A-Za-z0-9+/=]+)$/.exec(cmd);
  assert.ok(m, cmd);
  const words = Buffer.from(m[1], 'base64').toString('utf8');
  assert.equal(words, `sh -c 'echo "it'\\''s" $((6*7)); exit 3'`);
  // The host shell, like busybox's, turns the words back into the same argv.
  const r = spawnSync('sh', ['-c', `eval "set -- $WORDS"; printf '%s\\n' "$#" "$@"`], { encoding: 'utf8', env: { WORDS: words } });
  assert.equal(r.stdout, `3\nsh\n-c\necho "it's" $((6*7)); exit 3\n`);
  assert.match(guestCommandLine(['echo', 'naïve', '']), /^rvisor\.cmd=/);
});

test('apt-cache show output parses into one record per package', () => {
  const records = parseControl(`Package: linux-image-riscv64
Version: 7.2.13-1
Depends: linux-base-riscv64 (= 7.2.13-1), linux-image-7.2.13+deb14-riscv64 (= 7.2.13-1)
Description: Linux for 64-bit RISC-V platforms (meta-package)
 This package depends on the latest Linux kernel.
SHA256: 271b

Package: busybox-static
Version: 1:1.38.0-3+b1
SHA256: f71e
`);
  assert.equal(records.length, 2);
  assert.equal(records[0].Depends, 'linux-base-riscv64 (= 7.2.13-1), linux-image-7.2.13+deb14-riscv64 (= 7.2.13-1)');
  assert.equal(records[1].Version, '1:1.38.0-3+b1');
});
