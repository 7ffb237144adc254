// The daemon's networks with VXLAN uplinks: two networks (two daemons' state, one host)
// joined by a tunnel on loopback carry a VM port's frames to the other's; uplinks are
// kept in the network's file and come back with it; bad uplinks are refused with a
// clear error and leave nothing behind; an uplink alone does not keep a network in use.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freeUdpPort } from '../net/udp-support.js';
import { Networks } from '../../src/host/daemon/networks.js';
import { HostError } from '../../src/host/daemon/model.js';
import { PortLink } from '../../src/host/net/port-link.js';
import { parseUplink } from '../../src/cli/network-commands.js';
import { UsageError } from '../../src/cli/errors.js';

function frame(dst: string, src: string, body: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dst.split(':').map((h) => parseInt(h, 16)), 0);
  f.set(src.split(':').map((h) => parseInt(h, 16)), 6);
  f[12] = 0x08;
  f[14] = body;
  return f;
}

const until = async (what: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !what(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) throw new Error('timed out');
};

test('two daemons\' networks joined by a VXLAN uplink carry VM frames both ways', async (t) => {
  const [d1, d2] = [mkdtempSync(join(tmpdir(), 'rvisor-net1-')), mkdtempSync(join(tmpdir(), 'rvisor-net2-'))];
  t.after(() => { rmSync(d1, { recursive: true, force: true }); rmSync(d2, { recursive: true, force: true }); });
  const [p1, p2] = [await freeUdpPort(), await freeUdpPort()];
  const log: string[] = [];
  let n1 = await Networks.open(d1, (l) => log.push(l));
  const n2 = await Networks.open(d2, (l) => log.push(l));
  t.after(() => { n1.close(); n2.close(); });
  await n1.create({ name: 'lan', vxlan: [parseUplink(`vni=7,remote=127.0.0.1:${p2},local=127.0.0.1:${p1}`)] });
  await n2.create({ name: 'lan', vxlan: [{ vni: 7, remote: `127.0.0.1:${p1}`, local: `127.0.0.1:${p2}` }] });

  const vm = (nets: Networks, name: string, mac: string) => {
    const got: Uint8Array[] = [];
    const a = nets.attach(name, 0, { network: 'switch', switch: 'lan', mac });
    const link = new PortLink(a.end, 'worker');
    link.connect({ deliver: (f) => got.push(f) });
    t.after(() => { link.close(); a.detach(); });
    return { got, send: (f: Uint8Array) => link.deliver(f), detach: a.detach };
  };
  const MA = '52:54:00:00:0d:01', MB = '52:54:00:00:0d:02';
  const a = vm(n1, 'a', MA), b = vm(n2, 'b', MB);
  a.send(frame('ff:ff:ff:ff:ff:ff', MA, 1));
  await until(() => b.got.length === 1);
  b.send(frame(MA, MB, 2));
  await until(() => a.got.length === 1);
  assert.equal(a.got[0][14], 2);
  const view = n1.get('lan');
  assert.deepEqual(view.vxlan, [{ vni: 7, remote: `127.0.0.1:${p2}`, local: `127.0.0.1:${p1}` }]);
  assert.deepEqual(view.macTable.map((e) => [e.mac, e.port]).sort(), [[MA, 'a'], [MB, 'vxlan:0']]);
  assert.equal(view.ports.find((p) => p.name === 'vxlan:0')?.rxFrames, 1);

  // The uplink is part of the network's definition: a daemon that starts again has it.
  a.detach();
  n1.close();
  n1 = await Networks.open(d1, (l) => log.push(l));
  const again = vm(n1, 'a', MA);
  b.send(frame(MA, MB, 3));
  await until(() => again.got.length === 1);
  assert.equal(again.got[0][14], 3);
  again.detach();
  n1.remove('lan'); // only its uplink left: not in use
  const named = n2.attach('vxlan-1', 0, { network: 'switch', switch: 'lan', mac: '52:54:00:00:0d:03' });
  assert.throws(() => n2.remove('lan'), /has ports attached: b, vxlan-1/, 'a VM is attached whatever its name');
  named.detach();
  assert.equal(existsSync(join(d1, 'lan.json')), false);
  assert.deepEqual(log, []);
});

test('bad uplinks are refused with a clear error and leave no network behind', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-net3-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const nets = await Networks.open(dir, () => {});
  t.after(() => nets.close());
  const refused = async (vxlan: never, why: RegExp) => {
    await assert.rejects(nets.create({ name: 'bad', vxlan }), (e: unknown) => e instanceof HostError && e.status === 422 && why.test(e.message));
    assert.equal(existsSync(join(dir, 'bad.json')), false);
    assert.throws(() => nets.get('bad'), /no network named bad/);
  };
  await refused([{ vni: 1, remote: 'example.org' }] as never, /vxlan\.0: remote 'example\.org' is not IP\[:PORT\]/);
  await refused([{ vni: 1 << 24, remote: '10.0.0.1' }] as never, /vni 16777216 is not 0\.\.16777215/);
  const busy = dgram.createSocket('udp4');
  await new Promise<void>((r) => busy.bind(0, '127.0.0.1', r));
  t.after(() => busy.close());
  await refused([{ vni: 1, remote: '127.0.0.1', local: `127.0.0.1:${busy.address().port}` }] as never, /cannot bind VXLAN endpoint .*already in use/);
  for (const bad of ['vni=1', 'remote=10.0.0.1', 'vni=1,remote=10.0.0.1,ttl=3', 'vni=1,remote=10.0.0.1,vlan=5000']) assert.throws(() => parseUplink(bad), UsageError, bad);
});
