// virtio-net, virtio-9p, virtio-rng and virtio-console on the real Debian guest: the
// guest fetches a page from the host through the NAT, serves one that the host fetches
// through --publish, and reads and writes a shared host directory that it cannot escape.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureImage, freePort, rvisor } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-net-boot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}


function fetchText(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/hello.txt', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

test('the guest reaches the host through NAT, is reached through --publish, and shares folders safely', async () => {
  const share = join(dir, 'share');
  const ro = join(dir, 'ro');
  mkdirSync(share);
  mkdirSync(ro);
  writeFileSync(join(share, 'from-host.txt'), 'written by the host\n');
  writeFileSync(join(ro, 'keep.txt'), 'read only\n');
  symlinkSync('/etc', join(share, 'escape'));

  // The host side: a page for the guest to fetch, and /done, which answers 200 only once
  // the host has fetched the guest's page through the published port.
  let guestPage: string | undefined;
  const guestPort = await freePort();
  const server = createServer((req, res) => {
    if (req.url === '/page') res.end('page-from-the-host\n');
    else if (req.url === '/done') {
      res.statusCode = guestPage === undefined ? 404 : 200;
      res.end(guestPage === undefined ? 'not yet\n' : 'done\n');
    } else res.writeHead(404).end();
  });
  const hostPort = await listen(server);
  after(() => server.close());
  const poll = setInterval(async () => {
    // Polls overlap when a fetch takes longer than the interval (5 s timeout): one that
    // fails late must not erase the page an earlier one got.
    if (guestPage !== undefined) return;
    const text = await fetchText(guestPort);
    if (text !== undefined) guestPage ??= text;
  }, 1000);
  after(() => clearInterval(poll));

  const r = await rvisor(['run', 'debian', '--publish', `${guestPort}:80`, '--share', `${share}:hostshare`, '--share', `${ro}:ro,ro`, '--', 'sh', '-c', [
    `wget -q -O - http://10.0.2.2:${hostPort}/page`,
    'mkdir /www && echo served-by-the-guest > /www/hello.txt && httpd -p 80 -h /www',
    `until wget -q -O /dev/null http://10.0.2.2:${hostPort}/done; do sleep 1; done`,
    'cat /mnt/hostshare/from-host.txt',
    'echo written-by-the-guest > /mnt/hostshare/from-guest.txt',
    'cat /mnt/hostshare/escape/passwd | head -1 | sed "s/^/escape: /"',
    'if echo x > /mnt/ro/new.txt; then echo ro-writable; fi',
    'if rm /mnt/ro/keep.txt; then echo ro-removable; fi',
    'cat /mnt/ro/keep.txt',
    'cat /sys/class/misc/hw_random/rng_current',
    'head -c 64 /dev/hwrng | wc -c | sed "s/^/hwrng bytes: /"',
    'echo on-the-virtio-console > /dev/hvc0',
  ].join('\n')]);
  assert.equal(r.status, 0, r.stderr + r.stdout.slice(-3000));
  assert.match(r.stdout, /^page-from-the-host$/m);
  assert.equal(guestPage, 'served-by-the-guest\n');
  assert.match(r.stdout, /^written by the host$/m);
  assert.equal(readFileSync(join(share, 'from-guest.txt'), 'utf8'), 'written-by-the-guest\n');
  // The guest resolves the symlink in its own namespace: it sees its own /etc/passwd,
  // never the host's.
  const escaped = /^escape: (.*)$/m.exec(r.stdout)?.[1];
  assert.notEqual(escaped, readFileSync('/etc/passwd', 'utf8').split('\n')[0]);
  assert.doesNotMatch(r.stdout, /ro-writable|ro-removable/);
  assert.match(r.stdout, /^read only$/m);
  assert.deepEqual(readdirSync(ro), ['keep.txt']);
  assert.match(r.stdout, /^virtio_rng\.\d+$/m);
  assert.match(r.stdout, /^hwrng bytes: 64$/m);
  assert.match(r.stdout, /^on-the-virtio-console$/m);
});
