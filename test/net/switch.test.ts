// The learning switch: forwarding, flooding, ageing, MAC moves, the bounded table and
// queues, VLAN isolation and tagging, spoofing, bad frames, and fair forwarding.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EthernetSwitch, type PortOptions, type SwitchPort } from '../../src/net/switch/index.js';

/** A frame built here, byte by byte: dst, src, optional 802.1Q tag, EtherType, payload. */
function frame(dst: number, src: number, o: { vid?: number; tpid?: number; inner?: number; size?: number; body?: number } = {}): Uint8Array {
  const head = o.vid !== undefined ? 18 : 14;
  const f = new Uint8Array(Math.max(o.size ?? 60, head));
  const mac = (at: number, m: number) => { for (let i = 0; i < 6; i++) f[at + i] = Math.floor(m / 2 ** (8 * (5 - i))) & 0xff; };
  mac(0, dst);
  mac(6, src);
  let at = 12;
  if (o.vid !== undefined) {
    const tpid = o.tpid ?? 0x8100;
    f[12] = tpid >> 8; f[13] = tpid & 0xff; f[14] = o.vid >> 8; f[15] = o.vid & 0xff;
    at = 16;
  }
  const type = o.inner ?? 0x0800;
  f[at] = type >> 8; f[at + 1] = type & 0xff;
  f[head] = o.body ?? 0;
  return f;
}
const A = 0x525400000001, B = 0x525400000002, C = 0x525400000003, BCAST = 0xffffffffffff;

/** A switch with a fake clock and ports whose peers record what they get. */
function rig(ports: (PortOptions | string)[], opts: { macTableSize?: number; ageMs?: number } = {}) {
  let now = 0;
  const sw = new EthernetSwitch('test', { ...opts, now: () => now });
  const got = new Map<string, Uint8Array[]>();
  const byName = new Map<string, SwitchPort>();
  for (const p of ports) {
    const o = typeof p === 'string' ? { name: p } : p;
    const port = sw.addPort(o);
    const box: Uint8Array[] = [];
    got.set(o.name, box);
    port.connect({ deliver: (f) => box.push(f) });
    byName.set(o.name, port);
  }
  const send = async (name: string, f: Uint8Array) => {
    byName.get(name)!.deliver(f);
    await Promise.resolve();
  };
  const take = (name: string) => got.get(name)!.splice(0);
  return { sw, send, take, port: (n: string) => byName.get(n)!, tick: (ms: number) => (now += ms) };
}

test('unknown destinations are flooded, learned ones forwarded to their port alone', async () => {
  const r = rig(['a', 'b', 'c']);
  await r.send('a', frame(B, A, { body: 1 }));
  assert.equal(r.take('b').length, 1);
  assert.equal(r.take('c').length, 1, 'B is unknown yet: flooded');
  assert.equal(r.take('a').length, 0, 'never back out of the port it came from');
  await r.send('b', frame(A, B, { body: 2 }));
  assert.equal(r.take('a')[0][14], 2, 'A was learned on port a');
  assert.equal(r.take('c').length, 0);
  await r.send('a', frame(B, A, { body: 3 }));
  assert.equal(r.take('b')[0][14], 3);
  assert.equal(r.take('c').length, 0, 'B is known now: not flooded');
  await r.send('c', frame(BCAST, C));
  assert.equal(r.take('a').length + r.take('b').length, 2, 'broadcast reaches everyone else');
  assert.deepEqual(r.sw.macTable().map((e) => `${e.mac}@${e.port}`).sort(), ['52:54:00:00:00:01@a', '52:54:00:00:00:02@b', '52:54:00:00:00:03@c']);
  assert.deepEqual([r.port('a').counters.rxFrames, r.port('a').counters.txFrames], [2, 2]);
});

test('flooded copies are separate: a receiver that changes its frame changes no other', async () => {
  const sw = new EthernetSwitch('copies');
  const seen: Uint8Array[] = [];
  for (const name of ['x', 'y', 'z']) sw.addPort({ name }).connect({ deliver: (f) => { seen.push(f); f.fill(0xee); } });
  sw.ports[0].deliver(frame(BCAST, A, { body: 7 }));
  await Promise.resolve();
  assert.equal(seen.length, 2);
  assert.notEqual(seen[0].buffer, seen[1].buffer);
});

test('addresses age out, move at once to a new port, and the table is bounded', async () => {
  const r = rig(['a', 'b', 'c'], { ageMs: 10_000, macTableSize: 3 });
  await r.send('a', frame(BCAST, A));
  r.take('b'); r.take('c');
  // A moves to port c (a migrated guest announcing itself): the next frame for A goes there.
  await r.send('c', frame(BCAST, A));
  await r.send('b', frame(A, B));
  assert.equal(r.take('c').length, 1);
  assert.equal(r.take('a').length, 1, 'only the broadcast from c');
  assert.equal(r.sw.stats.macMoves, 1);
  // Ageing: 11 s without a frame from A, and a frame for A is flooded again.
  r.tick(11_000);
  r.take('a'); r.take('b'); r.take('c');
  await r.send('b', frame(A, B));
  assert.equal(r.take('a').length + r.take('c').length, 2, 'A forgotten: flooded');
  // A flood of source addresses evicts the oldest and never grows the table past 3.
  for (let i = 0; i < 100; i++) await r.send('a', frame(BCAST, 0x020000000000 + i));
  assert.equal(r.sw.macTable().length, 3);
  assert.ok(r.sw.stats.macEvictions >= 97);
});

test('VLANs: access ports only reach their VLAN; trunks carry tags and untag the native VLAN', async () => {
  const r = rig([
    { name: 'red1', vlan: { mode: 'access', vid: 10 } },
    { name: 'red2', vlan: { mode: 'access', vid: 10 } },
    { name: 'blue', vlan: { mode: 'access', vid: 20 } },
    { name: 'trunk', vlan: { mode: 'trunk', allowed: [10, 30], native: 20 } },
  ]);
  await r.send('red1', frame(BCAST, A, { body: 1 }));
  assert.equal(r.take('red2').length, 1);
  assert.equal(r.take('blue').length, 0, 'another VLAN never sees it');
  const t = r.take('trunk');
  assert.equal(t.length, 1);
  assert.deepEqual([...t[0].subarray(12, 16)], [0x81, 0x00, 0x00, 10], 'tagged 10 on the trunk');
  assert.equal(t[0][18], 1, 'payload after the tag');
  // Unicast across VLANs does not happen even to a learned address.
  await r.send('blue', frame(A, B));
  assert.equal(r.take('red1').length, 0);
  assert.equal(r.take('trunk')[0][12], 0x08, 'VLAN 20 is native on the trunk: untagged');
  // From the trunk: a tag of 10 reaches red ports untagged; an untagged frame is VLAN 20.
  await r.send('trunk', frame(A, C, { vid: 10, body: 5 }));
  const red = r.take('red1');
  assert.equal(red.length, 1);
  assert.equal(red[0].length, 60 - 4);
  assert.deepEqual([red[0][12], red[0][13], red[0][14]], [0x08, 0x00, 5]);
  await r.send('trunk', frame(BCAST, C));
  assert.equal(r.take('blue').length, 1);
  assert.equal(r.take('red2').length, 0);
  // A VLAN the trunk does not carry, and a tagged frame on an access port: dropped, counted.
  await r.send('trunk', frame(BCAST, C, { vid: 99 }));
  await r.send('red1', frame(BCAST, A, { vid: 20 }));
  assert.equal(r.take('blue').length + r.take('red2').length, 0);
  assert.equal(r.port('trunk').counters.drops.vlan, 1);
  assert.equal(r.port('red1').counters.drops.vlan, 1);
});

test('bad frames are dropped and counted: runts, oversized, nested tags, group sources, spoofed sources', async () => {
  const r = rig([{ name: 'guest', macs: [A], vlan: { mode: 'trunk', allowed: [5] } }, 'other']);
  await r.send('guest', new Uint8Array(13));
  await r.send('guest', frame(BCAST, A, { vid: 5 }).slice(0, 17));
  await r.send('guest', frame(BCAST, A, { vid: 5, size: 1519 }));
  await r.send('guest', frame(BCAST, A, { vid: 5, inner: 0x8100 }));
  await r.send('guest', frame(BCAST, A, { vid: 5, tpid: 0x88a8 }));
  await r.send('guest', frame(BCAST, 0x010000000001, { vid: 5 }));
  await r.send('guest', frame(BCAST, B, { vid: 5 }));
  const d = r.port('guest').counters.drops;
  assert.deepEqual([d.runt, d.oversize, d['nested-tag'], d['group-source'], d['spoofed-source']], [2, 1, 2, 1, 1]);
  assert.equal(r.take('other').length, 0);
  await r.send('guest', frame(BCAST, A, { vid: 5, size: 1518 }));
  assert.equal(r.take('other').length, 0, 'VLAN 5 is not on port other');
  assert.equal(r.port('guest').counters.rxFrames, 1, 'a full-size tagged frame is legal');
});

test('a port flooding the switch cannot crowd out another port or grow memory', () => {
  const sw = new EthernetSwitch('fair');
  const flood = sw.addPort({ name: 'flood', queueFrames: 64 });
  const quiet = sw.addPort({ name: 'quiet', queueFrames: 64 });
  const sink = sw.addPort({ name: 'sink' });
  const order: number[] = [];
  sink.connect({ deliver: (f) => order.push(f[14]) });
  // Synchronously, before the switch's microtask runs: 1000 frames from one port, 10 from another.
  for (let i = 0; i < 1000; i++) flood.deliver(frame(BCAST, A, { body: 1 }));
  for (let i = 0; i < 10; i++) quiet.deliver(frame(BCAST, B, { body: 2 }));
  assert.equal(flood.queue.length, 64, 'the queue is bounded');
  assert.equal(flood.counters.drops['queue-full'], 936);
  sw.drain();
  assert.equal(order.length, 74);
  // The quiet port's frames are not stuck behind the flood: all 10 arrive within the first
  // two rounds of bursts.
  const lastQuiet = order.lastIndexOf(2);
  assert.ok(lastQuiet < 40, `quiet frames forwarded by position ${lastQuiet}`);
});

test('a closed port forgets its addresses and takes no frames', async () => {
  const r = rig(['a', 'b', 'c']);
  await r.send('a', frame(BCAST, A));
  r.port('a').close();
  assert.equal(r.sw.macTable().length, 0);
  await r.send('a', frame(BCAST, A));
  assert.equal(r.port('a').counters.drops.closed, 1);
  assert.equal(r.sw.ports.length, 2);
  assert.throws(() => r.sw.addPort({ name: 'b' }), /already has a port b/);
  assert.throws(() => r.sw.addPort({ name: 'v', vlan: { mode: 'access', vid: 4095 } }), /VLAN ID from 1 to 4094/);
});

test('fuzz: random frames into every kind of port never throw and never leave their VLAN', async () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const sw = new EthernetSwitch('fuzz', { macTableSize: 64 });
  const vlanOf = new Map<string, number[]>();
  const got: { port: string; f: Uint8Array }[] = [];
  const specs: PortOptions[] = [
    { name: 'acc10', vlan: { mode: 'access', vid: 10 } },
    { name: 'acc20', vlan: { mode: 'access', vid: 20 } },
    { name: 'trunk', vlan: { mode: 'trunk', allowed: [10, 20], native: 10 } },
    { name: 'locked', vlan: { mode: 'access', vid: 20 }, macs: [A] },
  ];
  for (const s of specs) {
    const p = sw.addPort(s);
    vlanOf.set(s.name, s.vlan!.mode === 'access' ? [s.vlan!.vid] : [10, 20]);
    p.connect({ deliver: (f) => got.push({ port: s.name, f }) });
  }
  for (let i = 0; i < 20_000; i++) {
    const len = Math.floor(rnd() * 1600);
    const f = new Uint8Array(len);
    for (let j = 0; j < len; j++) f[j] = rnd() * 256;
    // Often make it look like a frame: a tag, a sane EtherType, a known address.
    if (len > 18 && rnd() < 0.5) { f[12] = 0x81; f[13] = 0; f[14] = 0; f[15] = rnd() < 0.5 ? 10 : 20; }
    if (len > 12 && rnd() < 0.3) f.set([0x52, 0x54, 0, 0, 0, 1], 6);
    sw.ports[Math.floor(rnd() * 4)].deliver(f);
    if (i % 50 === 0) await Promise.resolve();
  }
  await Promise.resolve();
  assert.ok(got.length > 1000, `some frames forwarded (${got.length})`);
  for (const { port, f } of got) {
    assert.ok(f.length >= 14 && f.length <= 1518);
    const tagged = f[12] === 0x81 && f[13] === 0;
    if (port.startsWith('acc') || port === 'locked') assert.ok(!tagged, 'access ports get untagged frames');
  }
  assert.ok(sw.macTable().length <= 64);
  const locked = sw.ports.find((p) => p.name === 'locked')!;
  assert.ok(locked.counters.drops['spoofed-source'] > 0);
});
