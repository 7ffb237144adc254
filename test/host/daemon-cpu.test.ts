// The daemon's CPU scheduler with real Debian guests: on a host share of one core, three
// busy guests get CPU by their weights (2:1) and a capped one stays under its cap; the
// time withheld from them is reported as their steal time.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ensureImage, sleep } from '../boot/support.js';
import { Daemon } from './daemon-fixture.js';

const daemon = new Daemon();

before(async () => {
  ensureImage();
  await daemon.start(['--cpus', '1']);
});
after(() => daemon.cleanup());

type View = { name: string; status: string; cpuSeconds: number; cpu?: { used: number; wanted: number; allowance: number; stolenSeconds: number } };

test('shares 2:1 and a cap, when the VMs want more than the host gives', { timeout: 900_000 }, async (t) => {
  const vms = { heavy: { shares: 512 }, light: { shares: 256 }, capped: { cap: 25 } };
  for (const [name, cpu] of Object.entries(vms)) {
    await daemon.ok('POST', '/v1/vms', { spec: { name, memory: 256 << 20, boot: { image: 'debian' }, nics: [], cpu } });
  }
  // Too much for the board: refused, nothing made.
  assert.equal((await daemon.api('POST', '/v1/vms', { spec: { name: 'x', memory: 256 << 20, cpu: { cap: 0 } } })).status, 400);
  await Promise.all(Object.keys(vms).map((n) => daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'start' })));
  const consoles = await Promise.all(Object.keys(vms).map((n) => daemon.shell(n)));
  for (const c of consoles) c.send('(while :; do :; done) &\n');
  // Let the scheduler settle, then measure over ten seconds.
  await sleep(5000);
  const cpu = async () => Object.fromEntries((await daemon.ok<View[]>('GET', '/v1/vms')).map((v) => [v.name, v]));
  const a = await cpu();
  await sleep(10_000);
  const b = await cpu();
  const used = (n: string) => (b[n].cpuSeconds - a[n].cpuSeconds) / 10;
  const ratio = used('heavy') / used('light');
  t.diagnostic(`of one core: heavy ${used('heavy').toFixed(2)}, light ${used('light').toFixed(2)}, capped ${used('capped').toFixed(2)}`);
  assert.ok(ratio > 1.5 && ratio < 2.7, `heavy:light = ${ratio.toFixed(2)} (${used('heavy').toFixed(2)} / ${used('light').toFixed(2)} of a core)`);
  assert.ok(used('capped') < 0.33, `capped used ${used('capped').toFixed(2)} of a core`);
  assert.ok(used('heavy') + used('light') + used('capped') < 1.25, 'more than the one core handed out');
  for (const n of ['light', 'capped']) assert.ok((b[n].cpu?.stolenSeconds ?? 0) > (a[n].cpu?.stolenSeconds ?? 0) + 3, `${n} was not charged steal time`);
  for (const c of consoles) c.close();
  for (const n of Object.keys(vms)) await daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'stop' });
});

test('partition mode: a dedicated VM holds its core; another is refused; the rest share nothing', { timeout: 300_000 }, async () => {
  const make = (name: string, cpu: Record<string, unknown>) => daemon.ok('POST', '/v1/vms', { spec: { name, memory: 256 << 20, boot: { image: 'debian' }, nics: [], cpu } });
  await make('own1', { dedicated: true });
  await make('own2', { dedicated: true });
  await daemon.ok('POST', '/v1/vms/own1/actions', { type: 'start' });
  const refused = await daemon.api('POST', '/v1/vms/own2/actions', { type: 'start' });
  assert.equal(refused.status, 409, refused.text);
  assert.match(refused.text, /dedicated core.*1 of the host's 1 are dedicated/);
  assert.equal((await daemon.ok<View>('GET', '/v1/vms/own2')).status, 'stopped', 'the refused VM changed');
  // A shared VM gets no share of the dedicated core (it crawls on the floor allowance).
  await daemon.ok('POST', '/v1/vms/heavy/actions', { type: 'start' });
  await sleep(3000);
  const views = Object.fromEntries((await daemon.ok<View[]>('GET', '/v1/vms')).map((v) => [v.name, v]));
  assert.equal(views.own1.cpu?.allowance, 1);
  assert.ok((views.heavy.cpu?.allowance ?? 1) <= 0.011, `heavy's allowance ${views.heavy.cpu?.allowance}`);
  // Once the dedicated VM stops, its core is free for another.
  await daemon.ok('POST', '/v1/vms/own1/actions', { type: 'stop' });
  await daemon.ok('POST', '/v1/vms/own2/actions', { type: 'start' });
  for (const n of ['own2', 'heavy']) await daemon.ok('POST', `/v1/vms/${n}/actions`, { type: 'stop' });
});
