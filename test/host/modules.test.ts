// Module dependency bookkeeping: modules.dep, the load-order closure, and depends= read
// from a module's .modinfo section.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dependencyClosure, formatModulesDep, modinfoDepends, moduleName, parseModulesDep } from '../../src/host/image/modules.js';

// Shaped like depmod's output for a Debian kernel (full transitive lists, paths relative
// to /lib/modules/<version>/).
const MODULES_DEP = `kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz kernel/fs/mbcache.ko.xz kernel/lib/crc16.ko.xz
kernel/fs/jbd2/jbd2.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/lib/crc16.ko.xz:
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz
kernel/net/9p/9pnet.ko.xz:
kernel/fs/netfs/netfs.ko.xz:
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz
kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz
kernel/net/core/failover.ko.xz:
kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/char/hw_random/rng-core.ko.xz
kernel/drivers/char/hw_random/rng-core.ko.xz:
`;

test('module names drop the directory and compression suffix and use underscores', () => {
  assert.equal(moduleName('kernel/drivers/char/hw_random/virtio-rng.ko.xz'), 'virtio_rng');
  assert.equal(moduleName('a/b/9pnet_virtio.ko.zst'), '9pnet_virtio');
  assert.equal(moduleName('ext4.ko'), 'ext4');
  assert.equal(moduleName('virtio-blk'), 'virtio_blk');
});

test('modules.dep: names, paths and dependency names', () => {
  const { deps, paths } = parseModulesDep(MODULES_DEP);
  assert.equal(deps.size, 13);
  assert.deepEqual(deps.get('ext4'), ['jbd2', 'mbcache', 'crc16']);
  assert.deepEqual(deps.get('jbd2'), []);
  assert.equal(paths.get('virtio_rng'), 'kernel/drivers/char/hw_random/virtio-rng.ko.xz');
});

test('the closure lists every dependency before its users, once, skipping built-ins', () => {
  const { deps } = parseModulesDep(MODULES_DEP);
  const builtin = new Set(['virtio_ring', 'rng_core']);
  const order = dependencyClosure(['virtio_net', 'ext4', '9pnet_virtio', '9p', 'virtio-rng'], (n) => deps.get(n) ?? [], builtin);
  assert.deepEqual(order, ['failover', 'net_failover', 'virtio_net', 'jbd2', 'mbcache', 'crc16', 'ext4', '9pnet', '9pnet_virtio', 'netfs', '9p', 'virtio_rng']);
  for (const [i, name] of order.entries()) {
    for (const d of deps.get(name) ?? []) if (!builtin.has(d)) assert.ok(order.indexOf(d) < i, `${d} before ${name}`);
  }
});

test('a dependency cycle is reported, not looped on', () => {
  const deps: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'] };
  assert.throws(() => dependencyClosure(['a'], (n) => deps[n] ?? []), /cycle: a → b → c → a/);
});

test('formatModulesDep writes depmod-style lines for the chosen modules', () => {
  const deps: Record<string, string[]> = { virtio_net: ['net_failover'], net_failover: ['failover'], failover: [] };
  const pathOf = (n: string) => `kernel/x/${n}.ko`;
  const text = formatModulesDep(['failover', 'net_failover', 'virtio_net'], (n) => deps[n], pathOf);
  assert.equal(
    text,
    'kernel/x/failover.ko:\nkernel/x/net_failover.ko: kernel/x/failover.ko\nkernel/x/virtio_net.ko: kernel/x/net_failover.ko kernel/x/failover.ko\n',
  );
  assert.deepEqual(parseModulesDep(text).deps.get('virtio_net'), ['net_failover', 'failover']);
});

// A minimal relocatable ELF64 with .shstrtab and .modinfo, as modpost leaves in a .ko.
function fakeModule(modinfo: string[]): Uint8Array {
  const enc = new TextEncoder();
  const shstrtab = enc.encode('\0.shstrtab\0.modinfo\0');
  const info = enc.encode(modinfo.map((s) => s + '\0').join(''));
  const shoff = 64 + shstrtab.length + info.length;
  const out = new Uint8Array(shoff + 3 * 64);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  v.setUint16(0x10, 1, true); // ET_REL
  v.setUint16(0x12, 243, true); // EM_RISCV
  v.setBigUint64(0x28, BigInt(shoff), true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, 3, true);
  v.setUint16(0x3e, 1, true);
  out.set(shstrtab, 64);
  out.set(info, 64 + shstrtab.length);
  const section = (i: number, name: number, offset: number, size: number) => {
    v.setUint32(shoff + i * 64, name, true);
    v.setBigUint64(shoff + i * 64 + 0x18, BigInt(offset), true);
    v.setBigUint64(shoff + i * 64 + 0x20, BigInt(size), true);
  };
  section(1, 1, 64, shstrtab.length);
  section(2, 11, 64 + shstrtab.length, info.length);
  return out;
}

test('depends= comes out of .modinfo', () => {
  assert.deepEqual(modinfoDepends(fakeModule(['license=GPL', 'depends=jbd2,mbcache,crc16', 'name=ext4', 'vermagic=7.2.13 SMP'])), ['jbd2', 'mbcache', 'crc16']);
  assert.deepEqual(modinfoDepends(fakeModule(['depends=', 'name=virtio_mmio'])), []);
  assert.throws(() => modinfoDepends(new Uint8Array(100)), /not a 64-bit little-endian ELF/);
});
