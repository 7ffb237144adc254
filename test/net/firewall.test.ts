// The port firewall (rules, default policy, tracked flows, counters, bad rules) and the
// switch's IP guard (a guest cannot send from another guest's IPv4 address or act as a
// DHCP server), on frames built here byte by byte.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EthernetSwitch, Firewall, FirewallError, type FirewallSpec } from '../../src/net/switch/index.js';

const ip = (t: string) => t.split('.').map(Number);
const macBytes = (m: number) => Array.from({ length: 6 }, (_, i) => Math.floor(m / 2 ** (8 * (5 - i))) & 0xff);
const GA = 0x525400000001, GB = 0x525400000002;

/** An IPv4 packet (tcp 6, udp 17, icmp 1) in an Ethernet frame. */
function ipv4(o: { proto: number; src: string; dst: string; sport?: number; dport?: number; dstMac?: number; srcMac?: number }): Uint8Array {
  const f = new Uint8Array(14 + 20 + 20);
  f.set(macBytes(o.dstMac ?? GB), 0);
  f.set(macBytes(o.srcMac ?? GA), 6);
  f[12] = 0x08; f[13] = 0x00;
  f[14] = 0x45; f[16] = 0; f[17] = 40; f[22] = 64; f[23] = o.proto;
  f.set(ip(o.src), 26);
  f.set(ip(o.dst), 30);
  f[34] = (o.sport ?? 0) >> 8; f[35] = (o.sport ?? 0) & 0xff;
  f[36] = (o.dport ?? 0) >> 8; f[37] = (o.dport ?? 0) & 0xff;
  return f;
}

function arp(senderMac: number, senderIp: string, targetIp: string): Uint8Array {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set(macBytes(senderMac), 6);
  f[12] = 0x08; f[13] = 0x06;
  f.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
  f.set(macBytes(senderMac), 22);
  f.set(ip(senderIp), 28);
  f.set(ip(targetIp), 38);
  return f;
}

const GUEST = '10.0.5.10', CLIENT = '10.0.5.20', FAR = '192.0.2.7';

test('rules decide new flows, tracked flows pass back, the rest meets the policy', () => {
  let now = 0;
  const fw = new Firewall({
    rules: [
      { action: 'allow', direction: 'in', proto: 'tcp', port: '22' },
      { action: 'allow', direction: 'in', proto: 'udp', cidr: '10.0.5.0/24', port: '5000-5010' },
      { action: 'deny', direction: 'out', cidr: '192.0.2.0/24' },
    ],
  }, () => now);
  assert.equal(fw.allows(ipv4({ proto: 6, src: CLIENT, dst: GUEST, sport: 40000, dport: 22 }), 'in'), true, 'ssh in: allowed');
  assert.equal(fw.allows(ipv4({ proto: 6, src: GUEST, dst: CLIENT, sport: 22, dport: 40000 }), 'out'), true, 'its reply');
  assert.equal(fw.allows(ipv4({ proto: 6, src: CLIENT, dst: GUEST, sport: 40001, dport: 23 }), 'in'), false, 'telnet in: policy deny');
  assert.equal(fw.allows(ipv4({ proto: 17, src: CLIENT, dst: GUEST, sport: 9, dport: 5005 }), 'in'), true);
  assert.equal(fw.allows(ipv4({ proto: 17, src: FAR, dst: GUEST, sport: 9, dport: 5005 }), 'in'), false, 'outside the CIDR');
  assert.equal(fw.allows(ipv4({ proto: 1, src: GUEST, dst: FAR }), 'out'), false, 'out to a denied CIDR');
  // Out by policy, and the reply in is the same flow: allowed although no rule lets it in.
  assert.equal(fw.allows(ipv4({ proto: 17, src: GUEST, dst: CLIENT, sport: 33000, dport: 53 }), 'out'), true);
  assert.equal(fw.allows(ipv4({ proto: 17, src: CLIENT, dst: GUEST, sport: 53, dport: 33000 }), 'in'), true);
  now += 61_000; // UDP flows are forgotten after a minute idle
  assert.equal(fw.allows(ipv4({ proto: 17, src: CLIENT, dst: GUEST, sport: 53, dport: 33000 }), 'in'), false);
  assert.equal(fw.allows(arp(GA, GUEST, CLIENT), 'out'), true, 'ARP passes');
  assert.deepEqual(fw.ruleHits().map((r) => r.hits), [1, 1, 1]);
  assert.deepEqual(fw.counters.policy, { in: { allowed: 0, denied: 3 }, out: { allowed: 1, denied: 0 } });
  assert.equal(fw.counters.established, 2);
  const open = new Firewall({ policy: { in: 'allow' }, rules: [] });
  assert.equal(open.allows(ipv4({ proto: 6, src: FAR, dst: GUEST, sport: 1, dport: 80 }), 'in'), true);
});

test('rules that do not parse are refused with the rule and the reason', () => {
  const bad = (rule: object, why: RegExp) => assert.throws(() => new Firewall({ rules: [rule] } as FirewallSpec), (e: unknown) => e instanceof FirewallError && why.test(e.message));
  bad({ action: 'permit', direction: 'in' }, /rule 0: action 'permit' is not allow or deny/);
  bad({ action: 'allow', direction: 'up' }, /direction 'up'/);
  bad({ action: 'allow', direction: 'in', proto: 'sctp' }, /protocol 'sctp'/);
  bad({ action: 'allow', direction: 'in', cidr: '10.0.0.0/33' }, /'10\.0\.0\.0\/33' is not an IPv4 or IPv6 CIDR/);
  bad({ action: 'allow', direction: 'in', cidr: '300.0.0.1' }, /not an IPv4 or IPv6 CIDR/);
  bad({ action: 'allow', direction: 'in', port: '22' }, /a port needs tcp or udp/);
  bad({ action: 'allow', direction: 'in', proto: 'tcp', port: '90-80' }, /not within 1-65535/);
  bad({ action: 'allow', direction: 'in', proto: 'tcp', port: 'ssh' }, /port 'ssh' is not N or N-M/);
  assert.throws(() => new Firewall({ policy: { in: 'drop' }, rules: [] } as unknown as FirewallSpec), /policy in: 'drop'/);
  // A file edited by hand has had no schema check: Object's own keys are no protocols, and
  // what is not an object or a string is refused the same clear way.
  bad({ action: 'deny', direction: 'out', proto: 'constructor' }, /rule 0: protocol 'constructor'/);
  bad({ action: 'deny', direction: 'out', proto: 'tcp', port: 22 }, /port '22' is not N or N-M/);
  assert.throws(() => new Firewall({ rules: [null] } as unknown as FirewallSpec), (e: unknown) => e instanceof FirewallError && /rule 0: not an object/.test(e.message));
  assert.throws(() => new Firewall(null as unknown as FirewallSpec), FirewallError);
  assert.throws(() => new Firewall({ policy: 'deny', rules: [] } as unknown as FirewallSpec), /policy: an object/);
});

test('on the switch: the firewall filters both ways, and guests cannot take each other\'s IPs or serve DHCP', async () => {
  const sw = new EthernetSwitch('fw');
  const got: Record<string, Uint8Array[]> = { a: [], b: [] };
  const a = sw.addPort({ name: 'a', macs: [GA], ipGuard: true, firewall: new Firewall({ rules: [{ action: 'allow', direction: 'in', proto: 'tcp', port: '80' }] }) });
  const b = sw.addPort({ name: 'b', macs: [GB], ipGuard: true });
  a.connect({ deliver: (f) => got.a.push(f) });
  b.connect({ deliver: (f) => got.b.push(f) });
  const send = async (port: typeof a, f: Uint8Array) => { port.deliver(f); await Promise.resolve(); };
  await send(a, arp(GA, GUEST, CLIENT));
  await send(b, arp(GB, CLIENT, GUEST));
  assert.equal(got.a.length + got.b.length, 2, 'both ARPs through');
  await send(b, ipv4({ proto: 6, src: CLIENT, dst: GUEST, sport: 41000, dport: 80, srcMac: GB, dstMac: GA }));
  await send(b, ipv4({ proto: 6, src: CLIENT, dst: GUEST, sport: 41001, dport: 81, srcMac: GB, dstMac: GA }));
  assert.equal(got.a.length, 2, 'port 80 in, port 81 kept out');
  assert.equal(a.counters.txFiltered, 1);
  // B claims A's address: by ARP and by IPv4 source. And B offers DHCP.
  await send(b, arp(GB, GUEST, CLIENT));
  await send(b, ipv4({ proto: 17, src: GUEST, dst: CLIENT, sport: 1, dport: 2, srcMac: GB, dstMac: GA }));
  await send(b, ipv4({ proto: 17, src: CLIENT, dst: '255.255.255.255', sport: 67, dport: 68, srcMac: GB, dstMac: 0xffffffffffff }));
  assert.equal(got.a.length, 2, 'none of it reached A');
  assert.equal(b.counters.drops['spoofed-ip'], 2);
  assert.equal(b.counters.drops['dhcp-server'], 1);
  // A DHCP client (0.0.0.0) claims nothing; a port may hold up to four addresses.
  await send(b, ipv4({ proto: 17, src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67, srcMac: GB, dstMac: 0xffffffffffff }));
  for (const n of [21, 22, 23, 24]) await send(b, arp(GB, `10.0.5.${n}`, GUEST));
  assert.equal(b.counters.drops['spoofed-ip'], 3, 'the fifth address is refused');
  // Once A leaves, its address is free.
  a.close();
  const c = sw.addPort({ name: 'c', ipGuard: true });
  c.connect({ deliver: () => {} });
  await send(c, arp(0x525400000003, GUEST, CLIENT));
  assert.equal(c.counters.drops['spoofed-ip'], 0);
});

test('a DHCP client\'s exchange passes a deny-all firewall; a DHCP server reply from the guest does not', () => {
  const fw = new Firewall({ policy: { in: 'deny', out: 'deny' }, rules: [] });
  assert.equal(fw.allows(ipv4({ proto: 17, src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67 }), 'out'), true, 'DISCOVER');
  assert.equal(fw.allows(ipv4({ proto: 17, src: '10.0.2.2', dst: '10.0.2.15', sport: 67, dport: 68 }), 'in'), true, 'OFFER');
  assert.equal(fw.allows(ipv4({ proto: 17, src: GUEST, dst: CLIENT, sport: 67, dport: 68 }), 'out'), false, 'the guest as a server');
  assert.equal(fw.allows(ipv4({ proto: 17, src: CLIENT, dst: GUEST, sport: 68, dport: 67 }), 'in'), false, 'a client asking the guest');
});

/** An IPv6 packet in an Ethernet frame; `ext`: extension headers (next-header, bytes) first. */
function ipv6(o: { next: number; src: string; dst: string; sport?: number; dport?: number; icmpType?: number; ext?: { type: number; bytes: number[] }[] }): Uint8Array {
  const addr = (t: string) => {
    const [head, tail = ''] = t.split('::');
    const g = (p: string) => (p ? p.split(':').map((x) => parseInt(x, 16)) : []);
    const groups = [...g(head), ...new Array(8 - g(head).length - g(tail).length).fill(0), ...g(tail)];
    return groups.flatMap((x) => [x >> 8, x & 0xff]);
  };
  const ext = o.ext ?? [];
  const l4 = o.next === 58 ? [o.icmpType ?? 128, 0, 0, 0, 0, 0, 0, 0] : [(o.sport ?? 0) >> 8, (o.sport ?? 0) & 0xff, (o.dport ?? 0) >> 8, (o.dport ?? 0) & 0xff, ...new Array(16).fill(0)];
  const chain = ext.flatMap((e, i) => [i + 1 < ext.length ? ext[i + 1].type : o.next, ...e.bytes.slice(1)]);
  const payload = [...chain, ...l4];
  const first = ext.length ? ext[0].type : o.next;
  return Uint8Array.from([...macBytes(GB), ...macBytes(GA), 0x86, 0xdd, 0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, first, 64, ...addr(o.src), ...addr(o.dst), ...payload]);
}

test('IPv6: rules by CIDR and port, tracked replies, ICMPv6 as icmp, neighbour discovery always, fragments by policy', () => {
  const fw = new Firewall({
    rules: [
      { action: 'allow', direction: 'in', proto: 'tcp', cidr: '2001:db8::/32', port: '22' },
      { action: 'allow', direction: 'in', proto: 'icmp' },
      { action: 'deny', direction: 'out', cidr: '2001:db8:bad::/48' },
      { action: 'allow', direction: 'in', proto: 'udp', cidr: '10.0.0.0/8' },
    ],
  });
  const G6 = '2001:db8::10', C6 = '2001:db8:1::20';
  assert.equal(fw.allows(ipv6({ next: 6, src: C6, dst: G6, sport: 40000, dport: 22 }), 'in'), true, 'ssh from inside the /32');
  assert.equal(fw.allows(ipv6({ next: 6, src: G6, dst: C6, sport: 22, dport: 40000 }), 'out'), true, 'its reply');
  assert.equal(fw.allows(ipv6({ next: 6, src: '2001:db9::1', dst: G6, sport: 40000, dport: 22 }), 'in'), false, 'ssh from outside it');
  assert.equal(fw.allows(ipv6({ next: 17, src: C6, dst: G6, sport: 5, dport: 53 }), 'in'), false, 'an IPv4 CIDR never covers IPv6');
  assert.equal(fw.allows(ipv6({ next: 58, src: '2001:db9::1', dst: G6, icmpType: 128 }), 'in'), true, 'icmp covers ICMPv6 echo');
  assert.equal(fw.allows(ipv6({ next: 6, src: G6, dst: '2001:db8:bad::1', sport: 1000, dport: 80 }), 'out'), false, 'a denied /48');
  const deny = new Firewall({ policy: { in: 'deny', out: 'deny' }, rules: [] });
  for (const t of [133, 134, 135, 136, 137, 143]) assert.equal(deny.allows(ipv6({ next: 58, src: 'fe80::1', dst: 'ff02::1', icmpType: t }), 'in'), true, `ICMPv6 ${t} passes`);
  assert.equal(deny.allows(ipv6({ next: 58, src: 'fe80::1', dst: G6, icmpType: 128 }), 'in'), false, 'echo is no neighbour discovery');
  assert.equal(deny.allows(ipv6({ next: 17, src: G6, dst: 'ff02::1:2', sport: 546, dport: 547 }), 'out'), true, 'a DHCPv6 client');
  // A hop-by-hop header before TCP is walked; a non-first fragment has no ports.
  const hop = { type: 0, bytes: [0, 0, 1, 4, 0, 0, 0, 0] };
  assert.equal(fw.allows(ipv6({ next: 6, src: C6, dst: G6, sport: 40001, dport: 22, ext: [hop] }), 'in'), true, 'ssh behind a hop-by-hop header');
  assert.equal(fw.allows(ipv6({ next: 6, src: C6, dst: G6, sport: 40002, dport: 23, ext: [hop] }), 'in'), false, 'telnet behind it');
  const later = { type: 44, bytes: [0, 0, 0, 8 << 3, 0, 0, 0, 1] };
  assert.equal(fw.allows(ipv6({ next: 6, src: C6, dst: G6, sport: 40000, dport: 22, ext: [later] }), 'in'), false, 'a later fragment meets in=deny');
  const open = new Firewall({ rules: [{ action: 'allow', direction: 'in' }] });
  assert.equal(open.allows(ipv6({ next: 17, src: C6, dst: G6, sport: 1, dport: 9 }), 'in'), true, 'a rule without a CIDR covers IPv6');
});

test('IPv6 CIDRs that do not parse are FirewallErrors', () => {
  for (const cidr of ['2001:db8::/129', '1::2::3', 'fe80::1%eth0', '12345::1', ':::', '1:2:3:4:5:6:7:8:9']) {
    assert.throws(() => new Firewall({ rules: [{ action: 'allow', direction: 'in', cidr }] }), (e: unknown) => e instanceof FirewallError && /is not an IPv4 or IPv6 CIDR/.test((e as Error).message), cidr);
  }
});
