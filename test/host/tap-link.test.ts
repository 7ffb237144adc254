// The host tap port: names checked, socat's failures said plainly (a fake socat stands in
// for the ones that need a host without root), and, as root with socat, a real tap in a
// network namespace carrying frames both ways, refusing what it should and going away
// with its owner however that ends.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkIfname, TapLink } from '../../src/host/net/tap-link.js';
import { ip, until } from '../boot/support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-tap-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const TAP = `rvtu${process.pid}`;
const NS = `rvtu${process.pid}`;
const canTap = process.getuid?.() === 0 && spawnSync('socat', ['-V']).status === 0 && spawnSync('ip', ['-V']).status === 0;
const rootOnly = { skip: canTap ? false : 'needs root, socat and iproute2' };

/** A stand-in for socat that runs `script`. */
function fakeSocat(name: string, script: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}

const tapExists = (name: string) => existsSync(`/sys/class/net/${name}`);
const mac = (text: string) => Buffer.from(text.split(':').map((h) => parseInt(h, 16)));

test('interface names: 1 to 15 plain characters, not . or ..', async () => {
  for (const good of ['tap0', 'rvt1234567', 'a', 'x.y_z-1', '123456789012345']) assert.equal(checkIfname(good), null, good);
  for (const bad of ['', '.', '..', 'a/b', 'a b', 'tab\t', '1234567890123456', 'tap:0', 'tâp']) assert.match(checkIfname(bad) ?? '', /is not an interface name/, bad);
  await assert.rejects(TapLink.open({ ifname: '../x' }), /^Error: tap: '\.\.\/x' is not an interface name/);
});

test('a missing socat, and socat\'s failures, are said in the user\'s terms', async () => {
  await assert.rejects(TapLink.open({ ifname: 'rvt0', socat: join(dir, 'none') }), /tap: socat is not installed \(apt-get install socat\): no executable .*none/);
  const denied = fakeSocat('denied', 'echo \'2026/12/03 11:47:16 socat[477] E open("/dev/net/tun", 02, 0666): Permission denied\' >&2; exit 1');
  await assert.rejects(TapLink.open({ ifname: 'rvt0', socat: denied }), /^Error: tap rvt0: needs root \(CAP_NET_ADMIN\) \(socat: open\("\/dev\/net\/tun", 02, 0666\): Permission denied\)$/);
  const silent = fakeSocat('silent', 'exit 4');
  await assert.rejects(TapLink.open({ ifname: 'rvt0', socat: silent }), /tap rvt0: socat ended \(socat: exited with status 4\)/);
  const stuck = fakeSocat('stuck', 'exec sleep 30');
  await assert.rejects(TapLink.open({ ifname: 'rvt0', socat: stuck, timeoutMs: 300 }), /tap rvt0: socat did not bring the tap up within 300 ms/);
});

test('a tap moved into a namespace carries frames both ways and refuses what is not a frame from socat', rootOnly, async () => {
  const warnings: string[] = [];
  const link = await TapLink.open({ ifname: TAP }, (m) => warnings.push(m));
  const got: Uint8Array[] = [];
  link.connect({ deliver: (f) => got.push(f) });
  try {
    ip('netns', 'add', NS);
    ip('link', 'set', TAP, 'netns', NS);
    ip('-n', NS, 'addr', 'add', '192.168.78.1/24', 'dev', TAP);
    ip('-n', NS, 'link', 'set', TAP, 'up'); // a move to another namespace takes it down
    // A datagram to an unknown neighbour: the namespace's kernel asks for it by ARP.
    const send = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', "require('node:dgram').createSocket('udp4').send('x', 9, '192.168.78.2', () => process.exit())"], { encoding: 'utf8' });
    assert.equal(send.status, 0, send.stderr);
    const isArpRequest = (f: Uint8Array) => f[12] === 0x08 && f[13] === 0x06 && f[21] === 1 && f.subarray(38, 42).join('.') === '192.168.78.2';
    await until('the ARP request', () => got.some(isArpRequest), 5000);
    // The answer goes in through the tap, and the namespace learns the guest's address.
    const hostMac = mac(spawnSync('ip', ['netns', 'exec', NS, 'cat', `/sys/class/net/${TAP}/address`], { encoding: 'utf8' }).stdout.trim());
    const guest = mac('52:54:00:00:0d:02');
    const ipOf = (a: string) => Buffer.from(a.split('.').map(Number));
    link.deliver(Buffer.concat([hostMac, guest, Buffer.from([8, 6, 0, 1, 8, 0, 6, 4, 0, 2]), guest, ipOf('192.168.78.2'), hostMac, ipOf('192.168.78.1')]));
    await until('the namespace to learn the guest', () => ip('-n', NS, 'neigh', 'show', '192.168.78.2').includes('lladdr 52:54:00:00:0d:02'), 5000);
    assert.equal(link.stats.txFrames, 1);
    assert.ok(link.stats.rxFrames >= 1);
    // Runts and oversized frames never reach socat (a write the tap refused would end it).
    link.deliver(new Uint8Array(13));
    link.deliver(new Uint8Array(1519));
    assert.equal(link.stats.txDropped, 2);
    // Datagrams from anyone but socat are dropped and counted.
    const stranger = dgram.createSocket('udp4');
    await new Promise<void>((r) => stranger.send(new Uint8Array(60), link.localPort, '127.0.0.1', () => r()));
    stranger.close();
    await until('the stranger counted', () => link.stats.rxForeign === 1, 5000);
    assert.equal(got.filter((f) => f.length === 60 && f.every((b) => b === 0)).length, 0);
    // Deleting the tap ends socat: said once, and the link drops from then on.
    ip('-n', NS, 'link', 'del', TAP);
    await until('the warning', () => warnings.length > 0, 5000);
    assert.match(warnings[0], new RegExp(`^tap ${TAP}: the tap was deleted \\(socat: .*\\); the NIC's link is down$`));
    link.deliver(new Uint8Array(60));
    assert.equal(link.stats.txDropped, 3);
  } finally {
    link.close();
    spawnSync('ip', ['netns', 'del', NS]);
  }
});

test('a name in use, or taken by another kind of interface, is refused; a closed one is free at once', rootOnly, async () => {
  const first = await TapLink.open({ ifname: TAP });
  try {
    await assert.rejects(TapLink.open({ ifname: TAP }), new RegExp(`tap ${TAP}: in use by another process \\(socat: ioctl.*TUNSETIFF.*busy\\)`));
  } finally {
    first.close();
  }
  // A reset closes a NIC's link and opens it at once: the new socat waits for the old.
  for (let i = 0; i < 3; i++) (await TapLink.open({ ifname: TAP })).close();
  await assert.rejects(TapLink.open({ ifname: 'lo' }), /tap lo: the name is taken by an interface that is not a tap/);
  await until('the tap gone after close', () => !tapExists(TAP), 5000);
});

test('the tap goes with a killed owner (socat dies with the thread that started it)', rootOnly, async () => {
  const module = new URL('../../src/host/net/tap-link.js', import.meta.url).href;
  const owner = spawn(process.execPath, ['--input-type=module', '-e', `
    const { TapLink } = await import(${JSON.stringify(module)});
    await TapLink.open({ ifname: ${JSON.stringify(TAP)} });
    console.log('up');
    setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      owner.stdout.on('data', (d: Buffer) => String(d).includes('up') && resolve());
      owner.on('exit', (c) => reject(new Error(`the owner exited with ${c}`)));
    });
    // Down, the tap sends socat nothing, so no refused frame can be what ends socat.
    ip('link', 'set', TAP, 'down');
  } finally {
    owner.kill('SIGKILL');
  }
  await until('the tap gone with its owner', () => !tapExists(TAP), 5000);
});

test('a tap moved to another namespace the moment it appears still opens', rootOnly, async () => {
  const ns = `rvtm${process.pid}`;
  ip('netns', 'add', ns);
  try {
    // As a script would: wait for the name, move it at once, before socat's set-up is seen.
    let moved = false;
    const mover = setInterval(() => {
      if (tapExists(TAP)) {
        moved = spawnSync('ip', ['link', 'set', TAP, 'netns', ns]).status === 0;
        clearInterval(mover);
      }
    }, 1);
    try {
      const link = await TapLink.open({ ifname: TAP, timeoutMs: 3000 });
      await until('the move', () => moved, 3000);
      link.close();
    } finally {
      clearInterval(mover);
    }
    assert.ok(moved, 'the tap was moved while the link opened');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
});
