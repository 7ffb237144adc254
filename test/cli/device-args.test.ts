// Parsing of --disk, --net, --publish and --share.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkUnique, parseDisk, parseNet, parsePublish, parseShare } from '../../src/cli/device-args.js';
import { UsageError } from '../../src/cli/errors.js';

test('--disk takes QEMU-style options, a bare path, and ",," for a comma in a path', () => {
  assert.deepEqual(parseDisk('file=a.qcow2,format=qcow2,ro'), { file: 'a.qcow2', format: 'qcow2', readOnly: true });
  assert.deepEqual(parseDisk('disk.img'), { file: 'disk.img', readOnly: false });
  assert.deepEqual(parseDisk('file=a,,b.img,serial=abc'), { file: 'a,b.img', readOnly: false, serial: 'abc' });
  assert.deepEqual(parseDisk('file=x,readonly=on'), { file: 'x', readOnly: true });
});

test('--disk rejects unknown formats and options, and a missing file', () => {
  for (const bad of ['file=x,format=vmdk', 'file=x,cache=none', 'ro', 'format=raw', 'file=x,serial=' + 'y'.repeat(21)]) {
    assert.throws(() => parseDisk(bad), UsageError, bad);
  }
});

test('--publish defaults to TCP on loopback', () => {
  assert.deepEqual(parsePublish('8080:80'), { proto: 'tcp', hostAddress: '127.0.0.1', hostPort: 8080, guestPort: 80 });
  assert.deepEqual(parsePublish('0.0.0.0:5353:53/udp'), { proto: 'udp', hostAddress: '0.0.0.0', hostPort: 5353, guestPort: 53 });
  assert.deepEqual(parsePublish('[::1]:2222:22'), { proto: 'tcp', hostAddress: '::1', hostPort: 2222, guestPort: 22 });
  for (const bad of ['80', '0:80', '8080:70000', 'a:b', '8080:80/sctp']) assert.throws(() => parsePublish(bad), UsageError, bad);
});

test('--share takes HOSTDIR:TAG with an optional ro', () => {
  assert.deepEqual(parseShare('/srv/data:data'), { dir: '/srv/data', tag: 'data', readOnly: false });
  assert.deepEqual(parseShare('/a:b:c,ro'), { dir: '/a:b', tag: 'c', readOnly: true });
  for (const bad of ['/srv', ':tag', '/srv:', '/srv:bad/tag', '/srv:t,rw']) assert.throws(() => parseShare(bad), UsageError, bad);
});

test('two shares with one tag, or one host port published twice, are refused', () => {
  assert.throws(() => checkUnique([parseShare('/a:t'), parseShare('/b:t')], []), /used twice/);
  assert.throws(() => checkUnique([], [parsePublish('8080:80'), parsePublish('8080:81')]), /published twice/);
  assert.doesNotThrow(() => checkUnique([parseShare('/a:t')], [parsePublish('8080:80'), parsePublish('8080:80/udp')]));
});

test('--net: user, none, and a socket wire that listens or connects, with a MAC of its own', () => {
  assert.deepEqual(parseNet('user'), { network: 'user' });
  assert.equal(parseNet('none'), null);
  assert.deepEqual(parseNet('user,mac=52:54:00:AA:bb:01,capture=/tmp/x.pcap'), { network: 'user', mac: '52:54:00:aa:bb:01', capture: '/tmp/x.pcap' });
  assert.deepEqual(parseNet('socket,listen=:7000', () => 0.5), { network: 'socket', listen: ':7000', mac: '52:54:00:80:80:80' });
  assert.deepEqual(parseNet('socket,connect=unix:/run/w.sock,mac=52:54:00:00:00:09'), { network: 'socket', connect: 'unix:/run/w.sock', mac: '52:54:00:00:00:09' });
  assert.deepEqual(parseNet('vxlan,vni=100,remote=10.200.0.2,local=10.200.0.1:4789', () => 0.5),
    { network: 'vxlan', vni: 100, remote: '10.200.0.2', local: '10.200.0.1:4789', mac: '52:54:00:80:80:80' });
  assert.deepEqual(parseNet('tap,ifname=rvtap0,capture=/tmp/t.pcap', () => 0.5), { network: 'tap', ifname: 'rvtap0', capture: '/tmp/t.pcap', mac: '52:54:00:80:80:80' });
  assert.throws(() => parseNet('tap,ifname=../x'), /--net tap,ifname=\.\.\/x: '\.\.\/x' is not an interface name/);
  assert.throws(() => parseNet('tap'), /--net tap: a tap needs ifname=NAME/);
  const macs = new Set(Array.from({ length: 20 }, () => parseNet('socket,listen=:1')!.mac));
  assert.ok(macs.size > 15, 'socket NICs get random MACs');
  for (const bad of ['tun', 'tap', 'tap,ifname=', 'tap,ifname=1234567890123456', 'user,ifname=tap0', 'tap,ifname=t0,vni=1', 'none,mac=52:54:00:00:00:01', 'socket', 'socket,listen=:1,connect=:2', 'socket,listen=7000', 'user,listen=:1',
    'user,mac=01:00:5e:00:00:01', 'user,mac=52:54:00', 'user,speed=10', 'socket,connect=',
    'vxlan,remote=10.0.0.2', 'vxlan,vni=1', 'vxlan,vni=16777216,remote=10.0.0.2', 'vxlan,vni=1,remote=host.example', 'vxlan,vni=1,remote=:4789', 'user,vni=1']) {
    assert.throws(() => parseNet(bad), UsageError, bad);
  }
});
