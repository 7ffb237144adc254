// A guest on a host TAP device (--net tap): once rvisor's socat helper has made the tap,
// the test moves it into a network namespace made here and gives it 192.168.77.1 there,
// and the guest pings that address and sends a line to a server running in the
// namespace. Needs root, iproute2 and socat (CI runs as root and installs them); skipped
// otherwise.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ensureImage, ip, namespaceServer, pingThenSend, rvisor, until } from './support.js';

const NS = `rvt${process.pid}`;
const TAP = `rvt${process.pid}`;
const canTap = process.getuid?.() === 0 && spawnSync('ip', ['-V']).status === 0 && spawnSync('socat', ['-V']).status === 0;

before(() => {
  if (!canTap) return;
  ensureImage();
  ip('netns', 'add', NS);
  ip('-n', NS, 'link', 'set', 'lo', 'up');
});
// The tap goes with the namespace, and with socat when rvisor ends.
after(() => {
  if (canTap) spawnSync('ip', ['netns', 'del', NS]);
});

test('a guest reaches a server in a namespace through a host tap', { timeout: 600_000, skip: canTap ? false : 'needs root, iproute2 and socat' }, async () => {
  const run = rvisor(['run', 'debian', '--mem', '256M', '--net', `tap,ifname=${TAP},mac=52:54:00:00:0d:01`,
    '--append', 'console=ttyS0 quiet rvisor.ip=192.168.77.2/24', '--', 'sh', '-c', pingThenSend('192.168.77.1', 8080, 'hello-through-tap')]);
  // The tap exists before the guest boots (devices open first), in the host's namespace.
  let ended = false;
  run.then(() => (ended = true), () => (ended = true));
  await until('the tap on the host', () => existsSync(`/sys/class/net/${TAP}`) || ended, 60_000);
  if (ended) assert.fail(`rvisor ended before making the tap: ${JSON.stringify(await run)}`);
  ip('link', 'set', TAP, 'netns', NS);
  ip('-n', NS, 'addr', 'add', '192.168.77.1/24', 'dev', TAP);
  ip('-n', NS, 'link', 'set', TAP, 'up'); // a move to another namespace takes it down
  const server = namespaceServer(NS, '192.168.77.1', 8080);
  after(() => server.kill());
  const r = await run;
  assert.equal(r.status, 0, `status ${r.status}\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}`);
  assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
  // The server has had its line by the time the guest ends.
  const served = await server.finished();
  assert.equal(served.status, 0, served.output);
  assert.match(served.output, /server got: hello-through-tap/);
  // The tap went with rvisor, from the namespace it was moved to.
  await until('the tap gone with rvisor', () => spawnSync('ip', ['-n', NS, 'link', 'show', TAP]).status !== 0, 5000);
});
