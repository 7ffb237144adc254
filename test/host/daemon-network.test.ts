// The daemon's virtual switch with real Debian guests: VMs on one switch ping each other
// and move a file with nc; a VM on another VLAN of the same switch cannot reach them; a
// firewall set while they run lets one port in and keeps another out; a guest that takes
// another's IP or changes its MAC is cut off (its frames counted as spoofed); a standalone
// `rvisor run --net switch=` joins through the switch's socket; the MAC table and the
// port counters are in the API; a network with ports attached is not removed.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ensureImage, rvisor } from '../boot/support.js';
import { Daemon } from './daemon-fixture.js';

const daemon = new Daemon();
before(async () => {
  ensureImage();
  await daemon.start();
});
after(() => daemon.cleanup());

const MAC = { a: '52:54:00:00:05:01', b: '52:54:00:00:05:02', c: '52:54:00:00:05:03' };
const vm = (name: keyof typeof MAC, ip: string, vlan?: number) => ({
  spec: {
    name, memory: 256 << 20,
    boot: { image: 'debian', append: `console=ttyS0 quiet rvisor.ip=${ip}` },
    nics: [{ network: 'switch', switch: 'lan', mac: MAC[name], ...(vlan !== undefined && { vlan }) }],
  },
});
type NetworkView = {
  ports: {
    name: string; vlan: number; rxFrames: number; txFrames: number; drops: Record<string, number>;
    firewall?: { rules: number[]; policy: { in: { denied: number } }; filtered: number };
  }[];
  macTable: { vid: number; mac: string; port: string }[];
};
const SEQ_SHA256 = createHash('sha256').update(Array.from({ length: 50000 }, (_, i) => `${i + 1}\n`).join('')).digest('hex');

test('guests on a daemon switch: reach each other on one VLAN, never across VLANs, and cannot spoof', { timeout: 900_000 }, async () => {
  assert.equal((await daemon.api('POST', '/v1/networks', { name: 'lan' })).status, 201);
  assert.equal((await daemon.api('POST', '/v1/networks', { name: 'lan' })).status, 409);
  const missing = await daemon.api('POST', '/v1/vms', { spec: { name: 'lost', memory: 256 << 20, nics: [{ network: 'switch', switch: 'nowhere' }] } });
  assert.equal(missing.status, 422);
  assert.match(missing.text, /no network named nowhere/);
  for (const r of [vm('a', '10.0.5.1/24'), vm('b', '10.0.5.2/24'), vm('c', '10.0.5.3/24', 2)]) assert.equal((await daemon.api('POST', '/v1/vms', r)).status, 201);
  await Promise.all(['a', 'b', 'c'].map((n) => daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'start' })));
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => daemon.shell(n)));

  assert.match(await a.run('ping -c 3 -W 5 10.0.5.2'), /3 packets transmitted, 3 packets received/);
  assert.match(await c.run('ping -c 2 -W 2 10.0.5.1; true'), /2 packets transmitted, 0 packets received/, 'VLAN 2 reaches VLAN 1');
  assert.match(await a.run('ping -c 2 -W 2 10.0.5.3; true'), /0 packets received/);
  b.send('nc -l -p 7000 > /tmp/got &\n');
  await a.run('sleep 1; seq 1 50000 | nc -w 3 10.0.5.2 7000');
  assert.match(await b.run('wait; sha256sum /tmp/got'), new RegExp(`^${SEQ_SHA256}  /tmp/got`));

  // The switch as the API shows it: each VM a port on its VLAN, the MACs learned there.
  let net = await daemon.ok<NetworkView>('GET', '/v1/networks/lan');
  assert.deepEqual(net.ports.map((p) => `${p.name}:${p.vlan}`).sort(), ['a:1', 'b:1', 'c:2']);
  const learned = net.macTable.map((e) => `${e.vid}/${e.mac}@${e.port}`);
  for (const e of [`1/${MAC.a}@a`, `1/${MAC.b}@b`, `2/${MAC.c}@c`]) assert.ok(learned.includes(e), `${e} in ${learned.join(' ')}`);
  assert.ok(net.ports.find((p) => p.name === 'a')!.rxFrames > 50);

  // A firewall on the switch, set while the guests run: b takes tcp 7001 in and not 7002.
  const fw = await daemon.api('PUT', '/v1/networks/lan/firewall', { rules: [{ action: 'allow', direction: 'in', proto: 'tcp', port: '7001' }] });
  assert.equal(fw.status, 200, fw.text);
  b.send('nc -l -p 7001 > /tmp/p1 & nc -l -p 7002 > /tmp/p2 &\n');
  await a.run('sleep 1; echo through | nc -w 3 10.0.5.2 7001; echo blocked | nc -w 3 10.0.5.2 7002; true');
  const served = await b.run('sleep 1; cat /tmp/p1 /tmp/p2; killall nc 2>/dev/null; true');
  assert.match(served, /through/);
  assert.doesNotMatch(served, /blocked/);
  net = await daemon.ok<NetworkView>('GET', '/v1/networks/lan');
  const bfw = net.ports.find((p) => p.name === 'b')!.firewall!;
  assert.ok(bfw.rules[0] >= 1 && bfw.policy.in.denied >= 1 && bfw.filtered >= 1, JSON.stringify(bfw));
  assert.equal((await daemon.api('DELETE', '/v1/networks/lan/firewall')).status, 200);

  // Guest a takes b's IPv4 address: its ARP stops at the switch, counted.
  await a.run('ip addr del 10.0.5.1/24 dev eth0; ip addr add 10.0.5.2/24 dev eth0; ping -c 2 -W 2 10.0.5.77; ip addr del 10.0.5.2/24 dev eth0; ip addr add 10.0.5.1/24 dev eth0; true');
  net = await daemon.ok<NetworkView>('GET', '/v1/networks/lan');
  assert.ok((net.ports.find((p) => p.name === 'a')!.drops['spoofed-ip'] ?? 0) > 0, JSON.stringify(net.ports));

  // Guest a claims another MAC: its frames stop at the switch, counted.
  assert.match(await a.run('ip link set eth0 down; ip link set eth0 address 52:54:00:00:05:02; ip link set eth0 up; ip addr add 10.0.5.1/24 dev eth0 2>/dev/null; ping -c 2 -W 2 10.0.5.2; true'), /0 packets received/);
  net = await daemon.ok<NetworkView>('GET', '/v1/networks/lan');
  assert.ok((net.ports.find((p) => p.name === 'a')!.drops['spoofed-source'] ?? 0) > 0, JSON.stringify(net.ports));
  assert.ok(net.macTable.some((e) => e.mac === MAC.b && e.port === 'b'), 'b\'s address stays on b\'s port');

  // A standalone run joins the switch through its socket (VLAN 1).
  const solo = await rvisor(['run', 'debian', '--mem', '256M', '--net', 'switch=lan', '--append', 'console=ttyS0 quiet rvisor.ip=10.0.5.4/24', '--',
    'sh', '-c', 'n=0; until ping -c 1 -W 1 10.0.5.2 >/dev/null || [ $n -gt 60 ]; do n=$((n+1)); done; ping -c 3 -W 5 10.0.5.2'],
  { env: { ...process.env, RVISOR_STATE: daemon.state } });
  assert.equal(solo.status, 0, solo.stdout.slice(-1500) + solo.stderr);
  assert.match(solo.stdout, /3 packets transmitted, 3 packets received/);
  const nowhere = await rvisor(['run', 'debian', '--net', 'switch=nowhere', '--', 'true'], { env: { ...process.env, RVISOR_STATE: daemon.state } });
  assert.equal(nowhere.status, 2);
  assert.match(nowhere.stderr, /--net switch=nowhere: no such network on this host's daemon/);

  for (const x of [a, b, c]) x.close();
  assert.equal((await daemon.api('DELETE', '/v1/networks/lan')).status, 409, 'ports are attached');
  await Promise.all(['a', 'b', 'c'].map((n) => daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'stop' })));
  assert.equal((await daemon.ok<NetworkView>('GET', '/v1/networks/lan')).ports.length, 0, 'stopped VMs leave the switch');
  assert.equal((await daemon.api('DELETE', '/v1/networks/lan')).status, 204);
});

test('networks survive the daemon', async () => {
  assert.equal((await daemon.api('POST', '/v1/networks', { name: 'kept' })).status, 201);
  await daemon.stop();
  await daemon.start();
  const nets = await daemon.ok<{ name: string }[]>('GET', '/v1/networks');
  assert.deepEqual(nets.map((n) => n.name), ['kept']);
});
