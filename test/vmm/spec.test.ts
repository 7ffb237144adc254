// VmSpec: defaults filled in, and every bad field named with its path.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseVmSpec, SpecError, VM_SPEC_SCHEMA } from '../../src/vmm/spec.js';

const problems = (input: unknown): string[] => {
  try {
    parseVmSpec(input);
  } catch (e) {
    assert.ok(e instanceof SpecError, String(e));
    return e.problems;
  }
  assert.fail('accepted');
};

test('a minimal spec gets the defaults rvisor run has', () => {
  const input = { memory: 512 * 2 ** 20 };
  assert.deepEqual(parseVmSpec(input), {
    memory: 512 * 2 ** 20, harts: 1, boot: { image: 'debian' }, disks: [], nics: [{ network: 'user' }],
    shares: [], exec: 'jit', labels: {},
  });
  assert.deepEqual(input, { memory: 512 * 2 ** 20 }, 'the input is not changed');
});

test('a full spec comes back as given', () => {
  const spec = {
    name: 'web-1', memory: 2 ** 30, harts: 2, boot: { kernel: '/k/Image', initrd: '/k/initrd', append: 'console=ttyS0', command: ['uname', '-a'] },
    firmware: '/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin',
    disks: [{ file: '/d/root.qcow2', format: 'qcow2' as const, readOnly: false, serial: 'root' }],
    nics: [{ network: 'user' as const, mac: '52:54:00:12:34:57', publish: [{ proto: 'tcp' as const, hostPort: 8080, guestPort: 80 }] }],
    shares: [{ dir: '/srv', tag: 'srv', readOnly: true }], exec: 'interp' as const, labels: { owner: 'ci', 'app/tier': 'web' },
  };
  assert.deepEqual(parseVmSpec(spec), spec);
});

test('each bad field is named, all of them at once', () => {
  assert.deepEqual(problems({ memory: 5, harts: 9, disks: [{ file: 1, x: 2 }], nics: [{ network: 'tun' }], color: 'red' }), [
    "spec: unknown field 'color'",
    'memory: must be >= 4096',
    'memory: must be multiple of 4096',
    'harts: must be <= 8',
    "disks.0: unknown field 'x'",
    'disks.0.file: must be string',
    'nics.0.network: must be one of "user", "socket", "switch", "vxlan", "tap"',
  ]);
  assert.deepEqual(problems({}), ["spec: missing field 'memory'"]);
  assert.deepEqual(problems('512M'), ['spec: must be object']);
  assert.deepEqual(problems({ memory: 4096, name: '../etc' }), ['name: must match pattern "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"']);
  assert.deepEqual(problems({ memory: 4096, nics: [{ network: 'user', publish: [{ proto: 'tcp', hostPort: 0, guestPort: 80 }] }] }), ['nics.0.publish.0.hostPort: must be >= 1']);
});

test('rules between fields: share tags and published ports are unique, an image or a kernel', () => {
  assert.deepEqual(problems({ memory: 4096, shares: [{ dir: '/a', tag: 't' }, { dir: '/b', tag: 't' }] }), ["shares.1.tag: 't' is used twice"]);
  const twice = { proto: 'tcp', hostPort: 2222, guestPort: 22 };
  assert.deepEqual(problems({ memory: 4096, nics: [{ network: 'user', publish: [twice, { ...twice, guestPort: 23 }] }] }), ['nics: host port tcp/127.0.0.1:2222 is published twice']);
  assert.deepEqual(problems({ memory: 4096, boot: { image: 'debian', kernel: '/k' } }), ['boot: name an image or a kernel, not both']);
});

test('the schema is plain JSON (the OpenAPI document embeds it)', () => {
  assert.deepEqual(JSON.parse(JSON.stringify(VM_SPEC_SCHEMA)), VM_SPEC_SCHEMA);
});

test('NICs: a socket network listens or connects, and only the user network publishes', () => {
  const nic = (n: object) => parseVmSpec({ memory: 1 << 20, nics: [n] });
  assert.equal(nic({ network: 'socket', listen: '127.0.0.1:7000' }).nics[0].listen, '127.0.0.1:7000');
  assert.throws(() => nic({ network: 'socket' }), /nics.0: a socket network needs listen or connect/);
  assert.throws(() => nic({ network: 'socket', listen: ':1', connect: ':2' }), /one of them/);
  assert.throws(() => nic({ network: 'user', connect: ':2' }), /listen and connect are for a socket network/);
  assert.throws(() => nic({ network: 'socket', connect: ':2', publish: [{ proto: 'tcp', hostPort: 80, guestPort: 80 }] }), /publish needs the user network/);
  assert.throws(() => nic({ network: 'tun' }), /nics.0.network: must be one of "user", "socket", "switch", "vxlan", "tap"/);
  assert.equal(nic({ network: 'vxlan', vni: 100, remote: '10.0.0.2' }).nics[0].vni, 100);
  assert.throws(() => nic({ network: 'vxlan', remote: '10.0.0.2' }), /nics.0: a vxlan network needs vni and remote/);
  assert.throws(() => nic({ network: 'user', vni: 1 }), /vni, remote and local are for a vxlan network/);
  assert.throws(() => nic({ network: 'vxlan', vni: 1 << 24, remote: '10.0.0.2' }), /nics.0.vni/);
});

test('NICs: a tap names its host interface, and only a tap does', () => {
  const nic = (n: object) => parseVmSpec({ memory: 1 << 20, nics: [n] });
  assert.equal(nic({ network: 'tap', ifname: 'rvtap0' }).nics[0].ifname, 'rvtap0');
  assert.equal(nic({ network: 'tap', ifname: 'a.b_c-123456789' }).nics[0].ifname, 'a.b_c-123456789');
  assert.throws(() => nic({ network: 'tap' }), /nics.0: a tap network names its interface \(ifname\), and only it does/);
  assert.throws(() => nic({ network: 'user', ifname: 'rvtap0' }), /nics.0: a tap network names its interface/);
  for (const bad of ['', '.', '..', 'a/b', 'a b', '1234567890123456', 'tap:0']) {
    assert.throws(() => nic({ network: 'tap', ifname: bad }), /nics.0.ifname: must match pattern/, JSON.stringify(bad));
  }
});
