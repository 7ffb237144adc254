// A NAT router on a daemon switch, with real Debian guests: two VMs that ask by DHCP get
// their own addresses (10.0.2.15 and .16) from the one router, reach each other across
// the switch, and each reaches a server on the host's loopback through 10.0.2.2. The API
// shows the router's leases.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { ensureImage } from '../boot/support.js';
import { Daemon } from './daemon-fixture.js';

const daemon = new Daemon();
before(async () => {
  ensureImage();
  await daemon.start();
});
after(() => daemon.cleanup());

const MAC = { a: '52:54:00:00:06:01', b: '52:54:00:00:06:02' };
const vm = (name: keyof typeof MAC) => ({
  spec: { name, memory: 256 << 20, boot: { image: 'debian' }, nics: [{ network: 'switch', switch: 'natlan', mac: MAC[name] }] },
});
type NetworkView = { nat?: { hosts: { ip: string; mac: string; leased: boolean }[]; stats: { framesFromGuest: number } }; ports: { name: string }[] };

test('guests behind one NAT router: a DHCP address each, each other, and the host', { timeout: 600_000 }, async () => {
  const lines: string[] = [];
  const server = createServer((s) => {
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('end', () => lines.push(text.trim()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  after(() => server.close());

  const bad = await daemon.api('POST', '/v1/networks', { name: 'natlan', nat: { vlan: 5000 } });
  assert.equal(bad.status, 400, bad.text);
  assert.equal((await daemon.api('POST', '/v1/networks', { name: 'natlan', nat: {} })).status, 201);
  for (const r of [vm('a'), vm('b')]) assert.equal((await daemon.api('POST', '/v1/vms', r)).status, 201);
  // One after the other, so that the first to ask is a and gets .15.
  await daemon.ok('POST', '/v1/vms/a/actions', { type: 'start' });
  const a = await daemon.shell('a');
  await daemon.ok('POST', '/v1/vms/b/actions', { type: 'start' });
  const b = await daemon.shell('b');

  assert.match(await a.run('ip -4 addr show eth0'), /inet 10\.0\.2\.15\/24/);
  assert.match(await b.run('ip -4 addr show eth0'), /inet 10\.0\.2\.16\/24/);
  assert.match(await a.run('ping -c 3 -W 5 10.0.2.16'), /3 packets transmitted, 3 packets received/);
  assert.match(await b.run('ping -c 2 -W 5 10.0.2.2'), /2 packets transmitted, 2 packets received/, 'the router answers ping');
  await a.run(`echo from-a | nc -w 3 10.0.2.2 ${port}; true`);
  await b.run(`echo from-b | nc -w 3 10.0.2.2 ${port}; true`);
  assert.deepEqual(lines.sort(), ['from-a', 'from-b']);

  const net = await daemon.ok<NetworkView>('GET', '/v1/networks/natlan');
  const leases = net.nat!.hosts.filter((h) => h.leased).map((h) => `${h.ip}=${h.mac}`).sort();
  assert.deepEqual(leases, [`10.0.2.15=${MAC.a}`, `10.0.2.16=${MAC.b}`]);
  assert.ok(net.nat!.stats.framesFromGuest > 10);
  assert.deepEqual(net.ports.map((p) => p.name).sort(), ['a', 'b', 'nat:gw']);

  for (const x of [a, b]) x.close();
  await Promise.all(['a', 'b'].map((n) => daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'stop' })));
  assert.equal((await daemon.api('DELETE', '/v1/networks/natlan')).status, 204, 'the router is the network\'s own port, not an attachment');
});
