// ARP, ICMP echo and the frame path itself, against hand-written bytes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserNet } from '../../src/net/index.js';
import { BROADCAST, DNS, GATEWAY, GUEST, GUEST_MAC, Wire, csum, ethernet, guestFrame, hex, ip, ipv4, tick } from './frames.js';

function setup(): { net: UserNet; wire: Wire } {
  const net = new UserNet({ dnsServers: [] });
  const wire = new Wire();
  net.connect(wire);
  return { net, wire };
}

test('an ARP request for the gateway gets the golden reply', async (t) => {
  const { net, wire } = setup();
  t.after(() => net.close());
  const request = hex(`
    ffffffffffff 525400123456 0806
    0001 0800 06 04 0001
    525400123456 0a00020f
    000000000000 0a000202`);
  net.deliver(request);
  assert.equal(wire.frames.length, 0, 'replies are not delivered from inside deliver()');
  await tick();
  const reply = hex(`
    525400123456 52550a000202 0806
    0001 0800 06 04 0002
    52550a000202 0a000202
    525400123456 0a00020f`);
  assert.deepEqual(wire.frames, [reply]);
});

test('ARP: the DNS address is answered; the guest address and others are not', async (t) => {
  const { net, wire } = setup();
  t.after(() => net.close());
  const ask = (target: Uint8Array) =>
    ethernet(BROADCAST, GUEST_MAC, 0x0806, Uint8Array.from([0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, ...GUEST, 0, 0, 0, 0, 0, 0, ...target]));
  net.deliver(ask(DNS));
  net.deliver(ask(GUEST)); // the guest's own duplicate-address probe must stay unanswered
  net.deliver(ask(ip('10.0.2.99')));
  net.deliver(ask(ip('192.168.1.1')));
  await tick();
  assert.equal(wire.frames.length, 1);
  assert.deepEqual(wire.frames[0].subarray(28, 32), DNS); // sender protocol address
  assert.deepEqual(wire.frames[0].subarray(22, 28), Uint8Array.from([0x52, 0x55, 0x0a, 0, 2, 2]));
});

function echoRequest(id: number, seqNo: number, data: Uint8Array): Uint8Array {
  const m = Uint8Array.from([8, 0, 0, 0, id >> 8, id & 0xff, seqNo >> 8, seqNo & 0xff, ...data]);
  const c = csum(m);
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

test('ping to the gateway and to the DNS address is answered with a valid checksum', async (t) => {
  const { net, wire } = setup();
  t.after(() => net.close());
  const data = Uint8Array.from({ length: 56 }, (_, i) => i);
  const req = echoRequest(0x1234, 7, data);
  net.deliver(guestFrame(GATEWAY, 1, req));
  net.deliver(guestFrame(DNS, 1, echoRequest(0x1234, 8, data)));
  await tick();
  const [a, b] = wire.take();
  assert.deepEqual(a.dstMac, GUEST_MAC);
  assert.equal(a.ip?.src, '10.0.2.2');
  assert.equal(a.ip?.dst, '10.0.2.15');
  assert.equal(a.ip?.proto, 1);
  const icmp = a.ip!.payload;
  assert.equal(icmp[0], 0, 'echo reply');
  assert.equal(csum(icmp), 0, 'ICMP checksum');
  // Only the type changed (8 -> 0), so the checksum rose by 0x0800 in one's complement.
  assert.equal((icmp[2] << 8) | icmp[3], ((req[2] << 8) | req[3]) + 0x0800);
  assert.deepEqual(icmp.subarray(4), req.subarray(4));
  assert.equal(b.ip?.src, '10.0.2.3');
});

test('a bad ICMP checksum, a bad IP checksum and a ping elsewhere are dropped', async (t) => {
  const { net, wire } = setup();
  t.after(() => net.close());
  const req = echoRequest(1, 1, new Uint8Array(8));
  req[10] ^= 1;
  net.deliver(guestFrame(GATEWAY, 1, req));
  const frame = guestFrame(GATEWAY, 1, echoRequest(1, 2, new Uint8Array(8)));
  frame[14 + 10] ^= 0xff; // IP header checksum
  net.deliver(frame);
  net.deliver(guestFrame(ip('8.8.8.8'), 1, echoRequest(1, 3, new Uint8Array(8))));
  await tick();
  assert.equal(wire.frames.length, 0);
  assert.equal(net.stats.dropped, 3);
  assert.equal(net.stats.framesFromGuest, 3);
});

test('IP fragments from the guest are dropped; Ethernet padding is ignored', async (t) => {
  const { net, wire } = setup();
  t.after(() => net.close());
  const frag = ethernet(Uint8Array.from([0x52, 0x55, 10, 0, 2, 2]), GUEST_MAC, 0x0800, ipv4(GUEST, GATEWAY, 1, echoRequest(1, 1, new Uint8Array(8)), 0x2000));
  net.deliver(frag);
  // A 60-byte minimum frame: 14 + 20 + 16 bytes of ICMP + 10 of padding.
  net.deliver(new Uint8Array([...guestFrame(GATEWAY, 1, echoRequest(1, 2, new Uint8Array(8))), ...new Uint8Array(10)]));
  await tick();
  const out = wire.take();
  assert.equal(out.length, 1);
  assert.equal(out[0].ip?.payload.length, 16);
});

test('frames before connect() and after close() go nowhere without throwing', async () => {
  const net = new UserNet({ dnsServers: [] });
  net.deliver(guestFrame(GATEWAY, 1, echoRequest(1, 1, new Uint8Array(4))));
  await tick();
  assert.equal(net.stats.framesToGuest, 0);
  const wire = new Wire();
  net.connect(wire);
  net.close();
  net.deliver(guestFrame(GATEWAY, 1, echoRequest(1, 1, new Uint8Array(4))));
  await tick();
  assert.equal(wire.frames.length, 0);
});
