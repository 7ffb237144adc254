// Guests on one wire in QEMU's stream network protocol (--net socket): two rvisor guests
// ping each other and move a file with nc, while one of them captures the traffic to a
// pcap file that tcpdump reads; then a QEMU guest (-netdev stream, the same image) and an
// rvisor guest share a wire.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openImage } from '../../src/host/index.js';
import { CLI, ensureImage, freePort, rvisor, type Run } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-socket-net-'));
after(() => rmSync(dir, { recursive: true, force: true }));
before(() => ensureImage());

const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg]).status === 0;
const appendFor = (ip: string) => `console=ttyS0 quiet rvisor.ip=${ip}`;
/** The data B sends: `seq 1 100000`, whose digest the host knows. */
const SEQ_SHA256 = createHash('sha256').update(Array.from({ length: 100000 }, (_, i) => `${i + 1}\n`).join('')).digest('hex');

/** Shell words that wait (up to 2 minutes) for the other guest to answer a ping: the two
 *  boots take different times. */
const waitFor = (ip: string) => `n=0; until ping -c 1 -W 1 ${ip} >/dev/null || [ $n -gt 120 ]; do n=$((n+1)); done`;

function show(r: Run): string {
  return `status ${r.status}\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-1500)}`;
}

test('two rvisor guests on a socket wire ping each other, move a file with nc, and the capture reads in tcpdump', { timeout: 600_000 }, async () => {
  const port = await freePort();
  const pcap = join(dir, 'a.pcap');
  // A listens and serves; B connects once A's wire is up (B fails at once if nobody listens,
  // as QEMU's connect= does, so A starts first and B waits for A's boot to pass its devices).
  const a = rvisor(['run', 'debian', '--mem', '256M', '--net', `socket,listen=127.0.0.1:${port},mac=52:54:00:00:0a:01,capture=${pcap}`,
    '--append', appendFor('10.0.3.1/24'), '--', 'sh', '-c', 'nc -l -p 7000 | sha256sum']);
  const b = (async () => {
    for (let i = 0; ; i++) {
      const r = await rvisor(['run', 'debian', '--mem', '256M', '--net', `socket,connect=127.0.0.1:${port},mac=52:54:00:00:0a:02`,
        '--append', appendFor('10.0.3.2/24'), '--', 'sh', '-c',
        `${waitFor('10.0.3.1')}; ping -c 3 -W 5 10.0.3.1 || exit 3; for i in 1 2 3 4 5 6 7 8 9 10; do seq 1 100000 | nc -w 5 10.0.3.1 7000 && exit 0; sleep 1; done; exit 4`]);
      if (!/nobody listens there/.test(r.stderr) || i === 50) return r;
      await new Promise((res) => setTimeout(res, 200));
    }
  })();
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(rb.status, 0, show(rb));
  assert.match(rb.stdout, /3 packets transmitted, 3 packets received/);
  assert.equal(ra.status, 0, show(ra));
  assert.match(ra.stdout, new RegExp(`${SEQ_SHA256}  -`), 'A received exactly what B sent');

  if (!has('tcpdump')) return; // installed by .ci/run
  const dump = spawnSync('tcpdump', ['-n', '-r', pcap], { encoding: 'utf8' });
  assert.equal(dump.status, 0, dump.stderr);
  assert.match(dump.stdout, /ARP, Request who-has 10\.0\.3\.1 tell 10\.0\.3\.2/);
  assert.match(dump.stdout, /IP 10\.0\.3\.2 > 10\.0\.3\.1: ICMP echo request/);
  assert.match(dump.stdout, /IP 10\.0\.3\.1 > 10\.0\.3\.2: ICMP echo reply/);
  assert.match(dump.stdout, /IP 10\.0\.3\.2\.\d+ > 10\.0\.3\.1\.7000: Flags \[S\]/);
});

/** A process whose output is kept, with a promise of its first output and of its end. */
function launch(cmd: string, args: string[], timeoutMs: number) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let spoke: () => void = () => {};
  const firstOutput = new Promise<void>((res) => (spoke = res));
  child.stdout.on('data', (d) => { out += d; spoke(); });
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<number | null>((res) => child.on('close', (status) => { clearTimeout(timer); res(status); }));
  after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return { firstOutput, done, output: () => out, kill: () => child.kill('SIGKILL') };
}

test('a QEMU guest (-netdev stream) and an rvisor guest share a wire', { timeout: 600_000, skip: has('qemu-system-riscv64') ? false : 'qemu-system-riscv64 not installed' }, async () => {
  const { info } = await openImage('debian');
  const port = await freePort();
  const r = launch(process.execPath, [CLI, 'run', 'debian', '--mem', '256M', '--net', `socket,listen=127.0.0.1:${port},mac=52:54:00:00:0b:01`,
    '--append', appendFor('10.0.4.1/24'), '--', 'sh', '-c', 'nc -l -p 7000; echo served'], 540_000);
  // The kernel's first line comes after the devices are open: rvisor listens by then.
  await Promise.race([r.firstOutput, r.done]);
  const qemu = launch('qemu-system-riscv64', ['-M', 'virt', '-m', '256M', '-nographic', '-no-reboot',
    '-kernel', info.kernelPath, '-initrd', info.initrdPath,
    '-netdev', `stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port=${port}`,
    '-device', 'virtio-net-device,netdev=n0,mac=52:54:00:00:0b:02',
    '-append', `${appendFor('10.0.4.2/24')} -- sh -c "${waitFor('10.0.4.1')}; ping -c 3 -W 5 10.0.4.1 && echo hello-from-qemu | nc -w 5 10.0.4.1 7000"`], 300_000);
  const qstatus = await qemu.done;
  if (qstatus !== 0) r.kill();
  assert.equal(qstatus, 0, `QEMU: ${qemu.output().slice(-2000)}`);
  assert.match(qemu.output(), /3 packets transmitted, 3 packets received/);
  const rstatus = await r.done;
  assert.equal(rstatus, 0, `rvisor: ${r.output().slice(-2000)}`);
  assert.match(r.output(), /hello-from-qemu\r?\nserved/);
});
