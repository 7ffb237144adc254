// VXLAN (RFC 7348): the header byte by byte, and two switches joined by a tunnel of real
// UDP datagrams on loopback, which learn each other's guests through it and drop
// datagrams that are malformed, for another VNI or from an address that is not the
// tunnel's remote.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { freeUdpPort } from './udp-support.js';
import { decodeVxlan, encodeVxlan, EthernetSwitch } from '../../src/net/switch/index.js';
import { parseVxlanAddress, VxlanLink } from '../../src/host/net/vxlan-link.js';

function frame(dst: number, src: number, body: number): Uint8Array {
  const f = new Uint8Array(60);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) & 0xff;
  }
  f[12] = 0x08;
  f[14] = body;
  return f;
}
const A = 0x525400000001, B = 0x525400000002, BCAST = 0xffffffffffff;

test('the VXLAN header: I flag, 24-bit VNI, reserved bits ignored on receipt', () => {
  const d = encodeVxlan(0xabcdef, frame(B, A, 7));
  assert.deepEqual([...d.subarray(0, 8)], [0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0]);
  const back = decodeVxlan(d);
  assert.ok('vni' in back && back.vni === 0xabcdef && back.frame[14 - 0] === 7);
  d[1] = 0xff; d[7] = 0xff; // reserved: ignored
  assert.ok('vni' in decodeVxlan(d));
  d[0] = 0;
  assert.deepEqual(decodeVxlan(d), { error: 'no-vni-flag' });
  assert.deepEqual(decodeVxlan(new Uint8Array(20).fill(8)), { error: 'short' });
  assert.deepEqual(decodeVxlan(encodeVxlan(1, new Uint8Array(1519))), { error: 'oversize' });
});

test('tunnel addresses are IPs, with an optional port', () => {
  assert.deepEqual(parseVxlanAddress('10.0.0.2', true), { host: '10.0.0.2' });
  assert.deepEqual(parseVxlanAddress('[fd00::2]:8472', true), { host: 'fd00::2', port: 8472 });
  assert.deepEqual(parseVxlanAddress(':4790', false), { port: 4790 });
  assert.deepEqual(parseVxlanAddress('', false), {});
  assert.equal(parseVxlanAddress(':4790', true), null, 'a remote needs its host');
  assert.equal(parseVxlanAddress('example.org', true), null, 'no name lookups');
  assert.equal(parseVxlanAddress('10.0.0.2:70000', true), null);
});

const until = async (what: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !what(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) throw new Error('timed out');
};

test('two switches joined by a tunnel on loopback forward, learn, and drop what is not theirs', async (t) => {
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
  const t1 = await VxlanLink.open({ vni: 42, remote: { host: '127.0.0.1', port: p2 }, local: { host: '127.0.0.1', port: p1 } });
  const t2 = await VxlanLink.open({ vni: 42, remote: { host: '127.0.0.1', port: p1 }, local: { host: '127.0.0.1', port: p2 } });
  t.after(() => { t1.close(); t2.close(); });
  const [s1, s2] = [new EthernetSwitch('one'), new EthernetSwitch('two')];
  const got: Record<string, Uint8Array[]> = { a: [], b: [] };
  const guest = (sw: EthernetSwitch, name: 'a' | 'b') => {
    const p = sw.addPort({ name });
    p.connect({ deliver: (f) => got[name].push(f) });
    return p;
  };
  const [a, b] = [guest(s1, 'a'), guest(s2, 'b')];
  for (const [sw, link] of [[s1, t1], [s2, t2]] as const) {
    const up = sw.addPort({ name: 'vxlan' });
    up.connect(link);
    link.connect(up);
  }
  a.deliver(frame(BCAST, A, 1));
  await until(() => got.b.length === 1);
  assert.equal(got.b[0][14], 1, 'a broadcast crosses the tunnel');
  b.deliver(frame(A, B, 2));
  await until(() => got.a.length === 1);
  assert.equal(got.a[0][14], 2);
  assert.deepEqual(s2.macTable().map((e) => [e.mac, e.port]).sort(), [['52:54:00:00:00:01', 'vxlan'], ['52:54:00:00:00:02', 'b']]);

  // Junk at t2's port: another VNI, no I flag, too short, and (from 127.0.0.2) a stranger.
  const raw = dgram.createSocket('udp4');
  t.after(() => raw.close());
  await new Promise<void>((r) => raw.bind(0, '127.0.0.1', r));
  const send = (d: Uint8Array, s = raw) => new Promise<void>((r) => s.send(d, p2, '127.0.0.1', () => r()));
  await send(encodeVxlan(43, frame(B, A, 3)));
  const noFlag = encodeVxlan(42, frame(B, A, 4)); noFlag[0] = 0;
  await send(noFlag);
  await send(new Uint8Array(9).fill(8));
  const stranger = dgram.createSocket('udp4');
  t.after(() => stranger.close());
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.2', r));
  await send(encodeVxlan(42, frame(B, A, 5)), stranger);
  // A good one last: when it is through, the junk before it has been seen.
  await send(encodeVxlan(42, frame(B, A, 6)));
  await until(() => got.b.length === 2);
  assert.equal(got.b[1][14], 6, 'nothing but the good datagram reached the guest');
  assert.equal(t2.stats.rxOtherVni, 1);
  assert.deepEqual(t2.stats.rxMalformed, { 'short': 1, 'no-vni-flag': 1, 'oversize': 0 });
  assert.equal(t2.stats.rxForeign, 1);
});

test('a VXLAN endpoint whose port is taken says so', async (t) => {
  const p = await freeUdpPort();
  const t1 = await VxlanLink.open({ vni: 1, remote: { host: '127.0.0.1', port: 1 }, local: { host: '127.0.0.1', port: p } });
  t.after(() => t1.close());
  await assert.rejects(VxlanLink.open({ vni: 1, remote: { host: '127.0.0.1', port: 1 }, local: { host: '127.0.0.1', port: p } }), /cannot bind VXLAN endpoint 127\.0\.0\.1:\d+: the address is already in use/);
  await assert.rejects(VxlanLink.open({ vni: -1, remote: { host: '127.0.0.1', port: 1 } }), /VNI -1 is not 0\.\.16777215/);
});
