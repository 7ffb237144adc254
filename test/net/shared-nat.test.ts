// The NAT as a segment's router: several guests behind one UserNet each get their own
// DHCP address, and their flows stay apart even when they use the same source port.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { test } from 'node:test';
import { UserNet } from '../../src/net/index.js';
import { FIRST_GUEST, LAST_GUEST, SegmentHosts } from '../../src/net/segment-hosts.js';
import { BROADCAST, GATEWAY, GATEWAY_MAC, Wire, dhcpMessage as dhcp, ethernet, hex, ip, ipv4, tick, udp, waitFor } from './frames.js';

const MAC_A = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0xa);
const MAC_B = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0xb);

function setup(t: { after(fn: () => void): void }) {
  const net = new UserNet({ dnsServers: [] });
  const wire = new Wire();
  net.connect(wire);
  t.after(() => net.close());
  return { net, wire };
}

async function offerFor(net: UserNet, wire: Wire, mac: Uint8Array, type = 1, requested?: string) {
  net.deliver(dhcp(mac, type, requested));
  await tick();
  const [r] = wire.take();
  assert.deepEqual(r.dstMac, mac, 'the reply goes to the asking client');
  const p = r.udp!.payload;
  return { yiaddr: Array.from(p.subarray(16, 20)).join('.'), type: p[242] };
}

test('each guest on the segment gets its own address, and keeps it', async (t) => {
  const { net, wire } = setup(t);
  assert.equal((await offerFor(net, wire, MAC_A)).yiaddr, '10.0.2.15');
  assert.equal((await offerFor(net, wire, MAC_B)).yiaddr, '10.0.2.16');
  assert.equal((await offerFor(net, wire, MAC_A)).yiaddr, '10.0.2.15', 'asking again gives the same lease');
  const ack = await offerFor(net, wire, MAC_B, 3, '10.0.2.16');
  assert.deepEqual(ack, { yiaddr: '10.0.2.16', type: 5 });
  net.deliver(dhcp(MAC_B, 3, '10.0.2.15'));
  await tick();
  const [nak] = wire.take();
  assert.deepEqual(nak.dstMac, BROADCAST, 'NAKs are broadcast (RFC 2131 4.1)');
  assert.equal(nak.udp!.payload[242], 6, 'a request for another guest\'s address is NAKed');
});

test('two guests using the same source port get their own replies', async (t) => {
  const server = dgram.createSocket('udp4');
  server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  server.bind(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = server.address().port;

  const { net, wire } = setup(t);
  const send = (mac: Uint8Array, from: string, text: string) =>
    net.deliver(ethernet(GATEWAY_MAC, mac, 0x0800, ipv4(ip(from), GATEWAY, 17, udp(ip(from), GATEWAY, 5000, port, hex(Buffer.from(text).toString('hex'))))));
  send(MAC_A, '10.0.2.15', 'a');
  send(MAC_B, '10.0.2.16', 'b');
  const got: { to: string; mac: string; text: string }[] = [];
  await waitFor(() => {
    for (const r of wire.take()) if (r.udp) got.push({ to: r.ip!.dst, mac: Buffer.from(r.dstMac).toString('hex'), text: Buffer.from(r.udp.payload).toString() });
    return got.length === 2;
  }, 'both echoes');
  got.sort((x, y) => x.to.localeCompare(y.to));
  assert.deepEqual(got, [
    { to: '10.0.2.15', mac: '52540000000a', text: 'echo:a' },
    { to: '10.0.2.16', mac: '52540000000b', text: 'echo:b' },
  ]);
});

test('a guest with a static address is learned from its frames, and DHCP steers clear of it', async (t) => {
  const { net, wire } = setup(t);
  net.deliver(ethernet(GATEWAY_MAC, MAC_B, 0x0800, ipv4(ip('10.0.2.40'), GATEWAY, 17, udp(ip('10.0.2.40'), GATEWAY, 9, 9, new Uint8Array(4)))));
  await tick();
  assert.deepEqual(net.hosts.macFor(0x0a000228), MAC_B, 'the source is learned from the frame');
  assert.equal((await offerFor(net, wire, MAC_A, 1, '10.0.2.40')).yiaddr, '10.0.2.15', 'an address in use is not offered');
});

test('the lease table: lowest free first, static addresses skipped, oldest lease taken back when full', () => {
  let now = 0;
  const hosts = new SegmentHosts(() => now);
  const mac = (i: number) => Uint8Array.of(2, 0, 0, 0, i >> 8, i & 0xff);
  assert.ok(hosts.seen(FIRST_GUEST + 1, mac(9999)), 'a static guest at .16');
  assert.equal(hosts.lease(mac(0), 0), FIRST_GUEST);
  assert.equal(hosts.lease(mac(1), 0), FIRST_GUEST + 2, '.16 is in use, so .17');
  assert.equal(hosts.lease(mac(2), FIRST_GUEST + 1), FIRST_GUEST + 3, 'a wanted address in use by another is not given');
  assert.equal(hosts.lease(mac(3), 0x0a000203), FIRST_GUEST + 4, 'nor one outside the pool');
  for (let i = 4; hosts.size < LAST_GUEST - FIRST_GUEST + 1; i++) {
    now++;
    assert.notEqual(hosts.lease(mac(i), 0), null);
  }
  now++;
  hosts.seen(FIRST_GUEST, mac(0)); // mac(0)'s lease is fresh again; mac(1)'s is the oldest
  assert.equal(hosts.lease(mac(5000), 0), FIRST_GUEST + 2, 'the longest-unseen lease goes to the newcomer');
  assert.equal(hosts.size, LAST_GUEST - FIRST_GUEST + 1, 'the table never outgrows the subnet');
  assert.equal(hosts.seen(0x0a000202, mac(7)), false, 'the gateway is nobody\'s');
  assert.equal(hosts.seen(0x0a000305, mac(7)), false, 'nor is another subnet');
});
