// DNS forwarding and the UDP NAT against real loopback sockets.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserNet, type UserNetOptions, hostNameservers, parseNameserver } from '../../src/net/index.js';
import { DNS, GATEWAY, GATEWAY_MAC, GUEST, GUEST_MAC, Wire, cat, ethernet, guestFrame, hex, type Parsed, tick, udp, waitFor } from './frames.js';

async function udpServer(t: { after(fn: () => void): void }, reply: (msg: Buffer, rinfo: dgram.RemoteInfo, s: dgram.Socket) => void) {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => reply(m, r, s));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  t.after(() => s.close());
  return s;
}

function setup(t: { after(fn: () => void): void }, options: UserNetOptions) {
  const net = new UserNet(options);
  const wire = new Wire();
  net.connect(wire);
  t.after(() => net.close());
  const udpIn = (): Parsed[] => wire.take().filter((p) => p.udp || p.ip);
  return { net, wire, udpIn };
}

// "example.com A?" with ID 0xabcd, RD set.
const QUERY = hex('abcd 0100 0001 0000 0000 0000 076578616d706c6503636f6d00 0001 0001');

function answer(q: Buffer): Buffer {
  const a = Buffer.concat([q, hex('c00c 0001 0001 0000003c 0004 5db8d822')]);
  a[2] = 0x81;
  a[3] = 0x80;
  a[7] = 1; // one answer
  return a;
}

test('DNS to 10.0.2.3 is forwarded to the configured resolver and answered with the guest ID', async (t) => {
  const seen: Buffer[] = [];
  const server = await udpServer(t, (m, r, s) => {
    seen.push(Buffer.from(m));
    s.send(answer(m), r.port, r.address);
  });
  const { net, udpIn } = setup(t, { dnsServers: [`127.0.0.1:${server.address().port}`] });
  net.deliver(guestFrame(DNS, 17, udp(Uint8Array.from([10, 0, 2, 15]), DNS, 40000, 53, QUERY)));
  let got: Parsed[] = [];
  await waitFor(() => (got = got.concat(udpIn())).length > 0, 'the DNS answer');
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].subarray(2), Buffer.from(QUERY.subarray(2)), 'the question is forwarded unchanged');
  const [r] = got;
  assert.equal(r.ip?.src, '10.0.2.3');
  assert.equal(r.udp?.sport, 53);
  assert.equal(r.udp?.dport, 40000);
  assert.deepEqual(Buffer.from(r.udp!.payload), answer(Buffer.from(QUERY)), 'the answer carries the guest\'s ID 0xabcd');
});

test('a resolver that does not answer is abandoned for the next one', async (t) => {
  const silent = await udpServer(t, () => {});
  const live = await udpServer(t, (m, r, s) => s.send(answer(m), r.port, r.address));
  const { net, udpIn } = setup(t, { dnsServers: [`127.0.0.1:${silent.address().port}`, `127.0.0.1:${live.address().port}`] });
  const ask = () => net.deliver(guestFrame(DNS, 17, udp(Uint8Array.from([10, 0, 2, 15]), DNS, 40001, 53, QUERY)));
  ask();
  await new Promise((r) => setTimeout(r, 3200)); // FAILOVER_MS plus a sweep
  assert.equal(udpIn().length, 0);
  ask(); // the guest's retry
  await waitFor(() => udpIn().length > 0, 'an answer from the second resolver');
});

test('UDP to 10.0.2.2 reaches the host loopback; a large reply comes back fragmented', async (t) => {
  const server = await udpServer(t, (m, r, s) => s.send(m.length > 1 ? Buffer.concat([m, m, m]) : m, r.port, r.address));
  const port = server.address().port;
  const { net, udpIn } = setup(t, { dnsServers: [] });
  const payload = Uint8Array.from({ length: 1400 }, (_, i) => i * 7);
  net.deliver(guestFrame(GATEWAY, 17, udp(Uint8Array.from([10, 0, 2, 15]), GATEWAY, 5555, port, payload)));
  let got: Parsed[] = [];
  await waitFor(() => (got = got.concat(udpIn())).length >= 3, 'three fragments');
  // 4200 bytes + 8 of UDP header in 1480-byte pieces: offsets 0, 185, 370 (8-byte units).
  assert.deepEqual(got.map((p) => p.ip!.flags & 0x3fff), [0x2000, 0x2000 | 185, 370]);
  assert.ok(got.every((p) => p.ip!.src === '10.0.2.2' && p.ip!.id === got[0].ip!.id && p.ip!.payload.length <= 1480));
  const whole = cat(...got.map((p) => p.ip!.payload));
  assert.equal(whole.length, 8 + 4200);
  assert.equal((whole[0] << 8) | whole[1], port, 'from the port the guest sent to');
  assert.deepEqual(whole.subarray(8), cat(payload, payload, payload));
});

test('UDP to an unserved port of 10.0.2.3 gets ICMP port unreachable', async (t) => {
  const { net, udpIn } = setup(t, { dnsServers: [] });
  net.deliver(guestFrame(DNS, 17, udp(Uint8Array.from([10, 0, 2, 15]), DNS, 5000, 123, new Uint8Array(48))));
  await tick();
  const [r] = udpIn();
  assert.equal(r.ip?.proto, 1);
  assert.deepEqual(Array.from(r.ip!.payload.subarray(0, 2)), [3, 3]);
});

test('a published UDP port carries a host client\'s datagrams to the guest and back', async (t) => {
  const { net, wire } = setup(t, { dnsServers: [], publish: [{ proto: 'udp', hostPort: 0, guestPort: 7777 }] });
  const [rule] = await net.start();
  assert.equal(rule.hostAddress, '127.0.0.1');
  assert.ok(rule.hostPort > 0);
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  // The guest has not said anything yet, so its MAC is unknown: the NAT asks for it.
  client.send(Buffer.from('lost'), rule.hostPort, '127.0.0.1');
  await waitFor(() => wire.frames.length > 0, 'an ARP request');
  const [who] = wire.take();
  assert.equal(who.type, 0x0806);
  assert.deepEqual(who.payload.subarray(24, 28), GUEST, 'who-has 10.0.2.15');
  net.deliver(ethernet(GATEWAY_MAC, GUEST_MAC, 0x0806, Uint8Array.from([0, 1, 8, 0, 6, 4, 0, 2, ...GUEST_MAC, ...GUEST, ...GATEWAY_MAC, ...GATEWAY])));
  client.send(Buffer.from('ping'), rule.hostPort, '127.0.0.1');
  let got: Parsed[] = [];
  await waitFor(() => (got = got.concat(wire.take())).length > 0, 'the datagram in the guest');
  const [d] = got;
  assert.equal(d.ip?.src, '10.0.2.2');
  assert.equal(d.ip?.dst, '10.0.2.15');
  assert.equal(d.udp?.dport, 7777);
  assert.equal(Buffer.from(d.udp!.payload).toString(), 'ping');
  const reply = once(client, 'message');
  net.deliver(guestFrame(GATEWAY, 17, udp(Uint8Array.from([10, 0, 2, 15]), GATEWAY, 7777, d.udp!.sport, Buffer.from('pong'))));
  const [msg] = (await reply) as [Buffer];
  assert.equal(msg.toString(), 'pong');
});

test('nameservers: resolv.conf lines and address:port forms', (t) => {
  assert.deepEqual(parseNameserver('127.0.0.53'), { address: '127.0.0.53', port: 53 });
  assert.deepEqual(parseNameserver('127.0.0.1:5353'), { address: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseNameserver('[::1]:5353'), { address: '::1', port: 5353 });
  assert.deepEqual(parseNameserver('fe80::1%eth0'), { address: 'fe80::1%eth0', port: 53 });
  assert.equal(parseNameserver('dns.example'), null);
  assert.equal(parseNameserver('1.2.3.4:0'), null);
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-net-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'resolv.conf');
  writeFileSync(file, '# generated\nsearch example\nnameserver 10.1.1.1\n  nameserver ::1\nnameserver bogus\noptions edns0\n');
  assert.deepEqual(hostNameservers(file), [{ address: '10.1.1.1', port: 53 }, { address: '::1', port: 53 }]);
  assert.ok(Array.isArray(hostNameservers(join(dir, 'missing'))), 'falls back to node:dns');
  assert.throws(() => new UserNet({ dnsServers: ['not an address'] }), /bad DNS server address/);
});
