// A daemon network with a firewall: every VM port gets the rules (a port allowed, another
// blocked, replies of allowed flows passing), guests cannot send from each other's IPv4
// addresses, the counters show in the network's view, and rules that do not parse are
// refused with a 422 and leave nothing behind.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Networks } from '../../src/host/daemon/networks.js';
import { HostError } from '../../src/host/daemon/model.js';
import { PortLink } from '../../src/host/net/port-link.js';
import { parseFirewall } from '../../src/cli/network-commands.js';
import { UsageError } from '../../src/cli/errors.js';

const bytes = (text: string, sep: string, base: number) => text.split(sep).map((h) => parseInt(h, base));
/** A TCP segment's first 4 header bytes are enough for the firewall (ports). */
function tcp(srcMac: string, dstMac: string, src: string, dst: string, sport: number, dport: number): Uint8Array {
  const f = new Uint8Array(54);
  f.set(bytes(dstMac, ':', 16), 0);
  f.set(bytes(srcMac, ':', 16), 6);
  f[12] = 0x08; f[14] = 0x45; f[17] = 40; f[22] = 64; f[23] = 6;
  f.set(bytes(src, '.', 10), 26);
  f.set(bytes(dst, '.', 10), 30);
  f[34] = sport >> 8; f[35] = sport & 0xff; f[36] = dport >> 8; f[37] = dport & 0xff;
  return f;
}

const until = async (what: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !what(); await new Promise((r) => setTimeout(r, 5))) if (Date.now() > end) throw new Error('timed out');
};
const settle = () => new Promise((r) => setTimeout(r, 50));

test('a network\'s firewall lets port 80 in, keeps 81 out, passes replies, and stops IP spoofing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-fw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const nets = await Networks.open(dir, () => {});
  t.after(() => nets.close());
  await nets.create({ name: 'dmz', firewall: parseFirewall(['allow,in,tcp,port=80']) });
  const vm = (name: string, mac: string) => {
    const got: Uint8Array[] = [];
    const a = nets.attach(name, 0, { network: 'switch', switch: 'dmz', mac });
    const link = new PortLink(a.end, 'worker');
    link.connect({ deliver: (f) => got.push(f) });
    t.after(() => { link.close(); a.detach(); });
    return { got, send: (f: Uint8Array) => link.deliver(f) };
  };
  const MA = '52:54:00:00:0e:01', MB = '52:54:00:00:0e:02';
  const a = vm('web', MA), b = vm('client', MB);
  b.send(tcp(MB, MA, '10.9.0.2', '10.9.0.1', 40000, 80));
  await until(() => a.got.length === 1);
  a.send(tcp(MA, MB, '10.9.0.1', '10.9.0.2', 80, 40000));
  await until(() => b.got.length === 1);
  b.send(tcp(MB, MA, '10.9.0.2', '10.9.0.1', 40001, 81));
  b.send(tcp(MB, MA, '10.9.0.1', '10.9.0.1', 40002, 80)); // from web's address
  await settle();
  assert.equal(a.got.length, 1, 'nothing but the port-80 segment reached web');
  const ports = Object.fromEntries(nets.get('dmz').ports.map((p) => [p.name, p]));
  assert.deepEqual(ports.web.firewall, { rules: [1], policy: { in: { allowed: 0, denied: 1 }, out: { allowed: 0, denied: 0 } }, established: 1, filtered: 1 });
  assert.equal(ports.client.drops['spoofed-ip'], 1);
  assert.deepEqual(nets.get('dmz').firewall, { rules: [{ action: 'allow', direction: 'in', proto: 'tcp', port: '80' }] });

  // New rules reach the running ports at once, and are kept with the network.
  nets.setFirewall('dmz', parseFirewall(['allow,in,tcp,port=81']));
  b.send(tcp(MB, MA, '10.9.0.2', '10.9.0.1', 40003, 81));
  await until(() => a.got.length === 2);
  b.send(tcp(MB, MA, '10.9.0.2', '10.9.0.1', 40004, 80));
  await settle();
  assert.equal(a.got.length, 2, 'port 80 is closed now');
  nets.setFirewall('dmz', null);
  b.send(tcp(MB, MA, '10.9.0.2', '10.9.0.1', 40005, 9999));
  await until(() => a.got.length === 3);
  assert.equal(nets.get('dmz').ports.find((p) => p.name === 'web')?.firewall, undefined);
  assert.throws(() => nets.setFirewall('dmz', { rules: [{ action: 'allow', direction: 'in', port: '1' }] }), /a port needs tcp or udp/);
  assert.equal(nets.get('dmz').firewall, undefined, 'a refused firewall changes nothing');
});

test('firewall rules that do not parse get a clear error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-fw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const nets = await Networks.open(dir, () => {});
  t.after(() => nets.close());
  await assert.rejects(nets.create({ name: 'bad', firewall: { rules: [{ action: 'allow', direction: 'in', cidr: '10.0.0.0/40' }] } }),
    (e: unknown) => e instanceof HostError && e.status === 422 && /network bad firewall: rule 0: '10\.0\.0\.0\/40' is not an IPv4 or IPv6 CIDR/.test(e.message));
  assert.equal(existsSync(join(dir, 'bad.json')), false);
  assert.deepEqual(parseFirewall(['deny,out,udp,cidr=10.0.0.0/8,port=53'], 'in=allow'), { rules: [{ action: 'deny', direction: 'out', proto: 'udp', cidr: '10.0.0.0/8', port: '53' }], policy: { in: 'allow' } });
  for (const [rules, policy] of [[['permit,in']], [['allow,sideways']], [['allow,in,tcp,port=ssh']], [[], 'in=drop']] as [string[], string?][]) {
    assert.throws(() => parseFirewall(rules, policy), UsageError);
  }
});
