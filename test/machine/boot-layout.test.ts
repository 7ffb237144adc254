// The virt board's boot layout is planned before anything is written: RAM too small for
// the kernel's image_size (at its text_offset), the initrd or the device tree is refused
// with the RAM the same files would need, which is exactly the smallest that boots.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoadError } from '../../src/machine/loader.js';
import { planVirtBoot } from '../../src/machine/virt.js';

const MiB = 1024 * 1024;

/** A Linux RISC-V Image header: text_offset at 0x08, image_size at 0x10, magic2 at 0x38. */
function image(fileBytes: number, imageSize: number, textOffset = 2 * MiB): Uint8Array {
  const b = new Uint8Array(fileBytes);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0x08, BigInt(textOffset), true);
  dv.setBigUint64(0x10, BigInt(imageSize), true);
  dv.setUint32(0x38, 0x05435352, true);
  return b;
}

const plan = (memSize: number, kernel: Uint8Array, initrd?: Uint8Array, bios?: Uint8Array) =>
  planVirtBoot({ memSize, harts: 1, kernel, initrd, bios, append: 'console=ttyS0', rngSeed: new Uint8Array(32) });

function refused(run: () => unknown, pattern: RegExp): string {
  let message = '';
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof LoadError, String(e));
    message = e.message;
    return pattern.test(e.message);
  });
  return message;
}

/** The N in "need N MiB of RAM". */
const needed = (message: string) => Number(/need (\d+) MiB of RAM/.exec(message)?.[1]);

test('image_size, not the file size, decides: the bss must fit too', () => {
  // A 1 MiB file whose image (with bss) is 30 MiB, at RAM + 2 MiB: 32 MiB, plus the device tree.
  const kernel = image(MiB, 30 * MiB);
  const message = refused(() => plan(16 * MiB, kernel), /^--mem 16 MiB is too small for the kernel \(image_size 30 MiB at RAM \+ 2 MiB\) and the device tree: they need \d+ MiB of RAM$/);
  const need = needed(message);
  assert.ok(need > 32, message);
  assert.doesNotThrow(() => plan(need * MiB, kernel));
  refused(() => plan((need - 1) * MiB, kernel), /too small/);
  // The kernel goes where its text_offset puts it.
  refused(() => plan(need * MiB, image(MiB, 30 * MiB, 4 * MiB)), /at RAM \+ 4 MiB/);
});

test('the initrd and the device tree must fit beside the kernel, the minimum is exact', () => {
  const kernel = image(MiB, 30 * MiB);
  const initrd = new Uint8Array(5 * MiB);
  const message = refused(() => plan(32 * MiB, kernel, initrd), /the kernel .*, the initrd \(5 MiB\) and the device tree: they need \d+ MiB of RAM$/);
  const need = needed(message);
  const ok = plan(need * MiB, kernel, initrd);
  assert.ok(ok.initrd && ok.initrd.start >= ok.kernel.end && ok.dtbAddr >= ok.initrd.end);
  refused(() => plan((need - 1) * MiB, kernel, initrd), /too small/);
});

test('firmware must end below the kernel; what more RAM cannot fix says so', () => {
  const kernel = image(MiB, 8 * MiB);
  refused(() => plan(64 * MiB, kernel, undefined, new Uint8Array(3 * MiB)), /^the --bios firmware \(3 MiB\) overlaps the kernel at RAM \+ 2 MiB$/);
  refused(() => plan(64 * MiB, kernel, undefined, new Uint8Array(0)), /--bios file is empty/);
  assert.doesNotThrow(() => plan(64 * MiB, kernel, undefined, new Uint8Array(MiB)));
  refused(() => plan(64 * MiB, image(MiB, 8 * MiB, 3 * MiB)), /unusable text_offset/);
});
