// Malformed input never throws out of deliver() and never reaches the internal-error
// path: random bytes, every truncation of valid frames, and mutations of valid frames,
// both as they come (checksums then fail) and with the checksums fixed up so the
// garbage reaches the protocol parsers.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { UserNet } from '../../src/net/index.js';
import { BROADCAST, DNS, F, GATEWAY, GATEWAY_MAC, GUEST, GUEST_MAC, Wire, csum, ethernet, guestFrame, hex, ipv4, tcp, udp } from './frames.js';

/** xorshift32: reproducible "random" bytes. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** Recomputes the IPv4 header and TCP/UDP checksums of an Ethernet+IPv4 frame. */
function fixChecksums(f: Uint8Array): void {
  f.set([0, 0], 24);
  const h = csum(f.subarray(14, 34));
  f.set([h >> 8, h & 0xff], 24);
  const proto = f[23];
  const l4 = f.subarray(34);
  const at = proto === 6 ? 16 : proto === 17 ? 6 : -1;
  if (at < 0 || l4.length < at + 2) return;
  l4.set([0, 0], at);
  const c = csum(f.subarray(26, 34), Uint8Array.from([0, proto, l4.length >> 8, l4.length & 0xff]), l4);
  l4.set([c >> 8, c & 0xff], at);
}

test('malformed frames are dropped without throwing', async (t) => {
  const logs: string[] = [];
  const nat = new UserNet({ dnsServers: ['127.0.0.1:9'], log: (l) => logs.push(l) });
  const wire = new Wire();
  nat.connect(wire);
  t.after(() => nat.close());
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));

  const none = new Uint8Array(0);
  const valid = [
    ethernet(BROADCAST, GUEST_MAC, 0x0806, Uint8Array.from([0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, ...GUEST, 0, 0, 0, 0, 0, 0, ...GATEWAY])),
    guestFrame(GATEWAY, 1, hex('0800f7fe 0001 0000')),
    guestFrame(DNS, 17, udp(GUEST, DNS, 40000, 53, hex('abcd010000010000000000000377777700 0001 0001'))),
    ethernet(BROADCAST, GUEST_MAC, 0x0800, ipv4(new Uint8Array(4), BROADCAST.subarray(0, 4), 17,
      udp(new Uint8Array(4), BROADCAST.subarray(0, 4), 68, 67, hex('010106003903f3260000000000000000000000000000000000000000525400123456' + '00'.repeat(202) + '63825363 350101 ff')), 0, 0)),
    guestFrame(GATEWAY, 6, tcp(GUEST, GATEWAY, { sport: 40000, dport: closedPort, seq: 1, ack: 0, flags: F.SYN, window: 1000, mss: 1460, payload: none })),
    guestFrame(GATEWAY, 6, tcp(GUEST, GATEWAY, { sport: 40001, dport: closedPort, seq: 1, ack: 5, flags: F.ACK | F.PSH, window: 1000, payload: hex('deadbeef') })),
  ];
  const random = rng(12345);
  const byte = () => Math.floor(random() * 256);
  let count = 0;
  const send = (f: Uint8Array) => {
    count++;
    assert.doesNotThrow(() => nat.deliver(f));
  };

  for (let i = 0; i < 3000; i++) {
    const f = Uint8Array.from({ length: Math.floor(random() * 200) }, byte);
    if (i % 2 && f.length >= 14) f.set([...GATEWAY_MAC, ...GUEST_MAC, 8, i % 4 === 1 ? 0 : 6], 0); // reach ARP/IPv4 parsing
    send(f);
  }
  for (const v of valid) {
    for (let len = 0; len < v.length; len++) send(v.slice(0, len));
    for (let i = 0; i < 400; i++) {
      const f = v.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) f[Math.floor(random() * f.length)] = byte();
      send(f);
      if (f[12] !== 8 || f[13] !== 0 || f.length < 42) continue;
      // Keep addresses and ports (no stray host traffic), garble the rest, fix the sums.
      const g = v.slice();
      for (let k = 0; k < flips; k++) g[38 + Math.floor(random() * (g.length - 38))] = byte();
      if (i % 3 === 0) g[14] = 0x46 + (i % 9); // header lengths beyond the data
      fixChecksums(g);
      send(g);
    }
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(nat.stats.framesFromGuest, count);
  assert.ok(nat.stats.dropped > count / 2);
  assert.deepEqual(logs.filter((l) => l.includes('internal error')), []);
});
