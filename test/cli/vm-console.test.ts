// `rvisor console` from a pipe, end to end: stdin reaches the guest (the double's
// inputs), what the guest writes reaches stdout, and the console ends with stdin.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, beforeEach, test } from 'node:test';
import { Daemon, refusal } from './daemon-fixture.js';

let d: Daemon;
beforeEach(async () => {
  d = await Daemon.start();
});
afterEach(() => d.stop());

const running = async (name: string) => Object.assign(await d.host.create({ spec: { name, memory: 64 << 20 } }), { status: 'running' as const });
const typed = (id: string) => Buffer.concat(d.host.inputs.get(id) ?? []).toString();

test("guest output reaches stdout and stdin reaches the guest; the end of stdin detaches", { timeout: 30_000 }, async () => {
  const { id } = await running('web');
  const attached = once(d.host.watch, 'attached');
  const run = d.attach('web');
  await attached;
  let out = '';
  const seen = new Promise<void>((resolve) => run.child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.endsWith('login: ')) resolve();
  }));
  d.host.output('web', Buffer.from('Debian GNU/Linux\nweb login: '));
  await seen;
  const detached = once(d.host.watch, 'detached');
  run.child.stdin?.end('root\nuname -a\n');
  const r = await run;
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'Debian GNU/Linux\nweb login: ');
  await detached;
  assert.equal(typed(id), 'root\nuname -a\n');
  assert.equal(d.host.get('web').status, 'running', 'detaching leaves the VM running');
});

test('input already waiting on stdin when the console opens is sent, in order, before it ends', { timeout: 30_000 }, async () => {
  const { id } = await running('web');
  const run = d.attach('web');
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join('');
  run.child.stdin?.end(lines);
  const r = await run;
  assert.equal(r.status, 0, r.stderr);
  await (d.host.attachments.get(id)?.size ? once(d.host.watch, 'detached') : undefined);
  assert.equal(typed(id), lines);
});

test('a VM with no console is refused with the daemon message', async () => {
  await d.host.create({ spec: { name: 'off', memory: 64 << 20 } });
  const run = d.attach('off');
  run.child.stdin?.end();
  const r = await run;
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `rvisor: ${await refusal(() => d.host.console('off'))}\n`);
});

test('the daemon going away ends the console with a failure', { timeout: 30_000 }, async () => {
  await running('web');
  const attached = once(d.host.watch, 'attached');
  const run = d.attach('web');
  await attached;
  await d.api.close();
  const r = await run;
  assert.equal(r.status, 1);
  assert.match(r.stderr, /console of web closed/);
});
