// A daemon network's NAT router port: it answers DHCP on its own VLAN only, is kept in the
// network's file and comes back with it, and a bad VLAN is refused leaving nothing behind.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Networks } from '../../src/host/daemon/networks.js';
import { HostError } from '../../src/host/daemon/model.js';
import { PortLink } from '../../src/host/net/port-link.js';
import { dhcpMessage } from '../net/frames.js';

const until = async (what: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !what(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) throw new Error('timed out');
};
const macBytes = (m: string) => Uint8Array.from(m.split(':'), (h) => parseInt(h, 16));

test('the router serves DHCP on its VLAN, not on another, and survives the daemon', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-nat-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let nets = await Networks.open(dir, () => {});
  t.after(() => nets.close());
  await nets.create({ name: 'lan', nat: { vlan: 3 } });

  const vm = (name: string, mac: string, vlan: number) => {
    const got: Uint8Array[] = [];
    const a = nets.attach(name, 0, { network: 'switch', switch: 'lan', mac, vlan });
    const link = new PortLink(a.end, 'worker');
    link.connect({ deliver: (f) => got.push(f) });
    t.after(() => { link.close(); a.detach(); });
    return { got, send: () => link.deliver(dhcpMessage(macBytes(mac), 1)) };
  };
  const on3 = vm('a', '52:54:00:00:0e:01', 3), on1 = vm('b', '52:54:00:00:0e:02', 1);
  on1.send();
  on3.send();
  await until(() => on3.got.length === 1);
  const offer = on3.got[0];
  assert.deepEqual(Array.from(offer.subarray(6, 12)), [0x52, 0x55, 10, 0, 2, 2], 'from the router');
  assert.deepEqual(Array.from(offer.subarray(42 + 16, 42 + 20)), [10, 0, 2, 15], 'yiaddr');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(on1.got.length, 0, 'VLAN 1 has no router');
  const view = nets.get('lan');
  assert.deepEqual(view.nat?.hosts, [{ ip: '10.0.2.15', mac: '52:54:00:00:0e:01', leased: true }]);
  assert.equal(view.nat?.vlan, 3);

  nets.close();
  nets = await Networks.open(dir, () => {});
  assert.equal(nets.get('lan').nat?.vlan, 3, 'the router comes back');
  nets.remove('lan');
});

test('a router on a VLAN that cannot be is refused, and no file is left', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-nat-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const nets = await Networks.open(dir, () => {});
  t.after(() => nets.close());
  await assert.rejects(nets.create({ name: 'bad', nat: { vlan: 0 } }), (e: HostError) => e.status === 422 && /nat: vlan 0 is not 1\.\.4094/.test(e.message));
  assert.equal(existsSync(join(dir, 'bad.json')), false);
});
