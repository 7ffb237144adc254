// A guest on a VXLAN tunnel (--net vxlan) to Linux's own vxlan device in a network
// namespace made here: a veth pair carries the UDP, the namespace's vx device holds
// 192.168.100.2, and the guest pings it and sends a line to a server running in the
// namespace. Needs root, iproute2 and ethtool (CI runs as root and installs them); skipped
// otherwise.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ensureImage, ip, namespaceServer, pingThenSend, rvisor } from './support.js';

const NS = `rvx${process.pid}`;
const HOST_END = `rvxh${process.pid % 100000}`;
const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0 && spawnSync('ethtool', ['--version']).status === 0;

before(() => {
  if (!canNetns) return;
  ensureImage();
  ip('netns', 'add', NS);
  ip('link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS);
  ip('addr', 'add', '10.201.0.1/30', 'dev', HOST_END);
  ip('link', 'set', HOST_END, 'up');
  ip('-n', NS, 'addr', 'add', '10.201.0.2/30', 'dev', 'eth0');
  ip('-n', NS, 'link', 'set', 'eth0', 'up');
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  ip('-n', NS, 'link', 'add', 'vx100', 'type', 'vxlan', 'id', '100', 'remote', '10.201.0.1', 'local', '10.201.0.2', 'dstport', '4789');
  ip('-n', NS, 'addr', 'add', '192.168.100.2/24', 'dev', 'vx100');
  ip('-n', NS, 'link', 'set', 'vx100', 'up');
  // Linux leaves the inner TCP checksum to offload (CHECKSUM_PARTIAL) on a packet that
  // crosses a veth into a local UDP socket, so nothing ever fills it in: a real NIC
  // would. The namespace computes it itself, as it does for a physical wire.
  const eth = spawnSync('ip', ['netns', 'exec', NS, 'ethtool', '-K', 'vx100', 'tx', 'off'], { encoding: 'utf8' });
  if (eth.status !== 0) throw new Error(`ethtool -K vx100 tx off: ${eth.stderr || eth.error}`);
});
after(() => {
  if (!canNetns) return;
  spawnSync('ip', ['link', 'del', HOST_END]);
  spawnSync('ip', ['netns', 'del', NS]);
});

test('a guest reaches a server in a namespace through Linux\'s vxlan device', { timeout: 600_000, skip: canNetns ? false : 'needs root, iproute2 and ethtool' }, async () => {
  const server = namespaceServer(NS, '192.168.100.2', 8080);
  after(() => server.kill());
  const r = await rvisor(['run', 'debian', '--mem', '256M', '--net', 'vxlan,vni=100,remote=10.201.0.2,local=10.201.0.1:4789,mac=52:54:00:00:0c:01',
    '--append', 'console=ttyS0 quiet rvisor.ip=192.168.100.5/24', '--', 'sh', '-c', pingThenSend('192.168.100.2', 8080, 'hello-through-vxlan')]);
  assert.equal(r.status, 0, `status ${r.status}\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`);
  assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
  // The server has had its line by the time the guest ends.
  const served = await server.finished();
  assert.equal(served.status, 0, served.output);
  assert.match(served.output, /server got: hello-through-vxlan/);
  // The namespace's vxlan device learned the guest's MAC behind rvisor's endpoint.
  const fdb = spawnSync('bridge', ['-n', NS, 'fdb', 'show', 'dev', 'vx100'], { encoding: 'utf8' });
  if (fdb.status === 0) assert.match(fdb.stdout, /52:54:00:00:0c:01 dst 10\.201\.0\.1/);
});
