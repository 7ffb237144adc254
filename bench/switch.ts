// Guest-to-guest networking: TCP throughput (32 MiB with nc) and ping latency between two
// Debian guests on one segment, for two rvisor guests on a daemon's switch (each joins
// through the switch's socket), on a point-to-point socket wire (QEMU's stream protocol)
// and on a VXLAN tunnel over loopback, and for two qemu-system-riscv64 guests on QEMU's
// own socket network, all booting the same kernel and initramfs.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { debianImageFor, freePort, guestOutput, timed, timedValue } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const MIB = 32;
const A = '10.0.9.1', B = '10.0.9.2';

/** A: takes the stream and ends. B: waits for A, measures ping, then sends. */
const serverScript = ['sh', '-c', 'nc -l -p 7000 > /dev/null; echo served'];
const clientScript = ['sh', '-c', [
  `n=0; until ping -c 1 -W 1 ${A} >/dev/null || [ $n -gt 120 ]; do n=$((n+1)); done`,
  `ping -c 10 ${A} | awk -F/ '/round-trip/ { print "rtt " $4 }'`,
  timed('tcp', `dd if=/dev/zero bs=64k count=${MIB * 16} 2>/dev/null | nc -w 5 ${A} 7000`, `${MIB} * 1.048576 / s`),
].join('; ')];

interface PairResult { tcpMBs?: number; rttMs?: number }

async function pair(start: (role: 'a' | 'b') => Promise<string>): Promise<PairResult> {
  const a = start('a');
  // A listens first: B's wire connects to it (a socket connect fails if nobody listens).
  await new Promise((r) => setTimeout(r, 3000));
  const [, out] = await Promise.all([a, start('b')]);
  return { tcpMBs: timedValue(out, 'tcp'), rttMs: timedValue(out, 'rtt') };
}

const append = (ip: string) => `console=ttyS0 quiet rvisor.ip=${ip}/24`;
const mac = (role: 'a' | 'b') => `52:54:00:00:09:0${role === 'a' ? 1 : 2}`;

export async function switchBench(): Promise<void> {
  const image = await debianImageFor('guest-to-guest network');
  if (!image) return;
  console.log(`\nGuest to guest on one segment: ${MIB} MiB over TCP (MB/s) and ping round trip (ms)`);
  const rvisor = (net: (role: 'a' | 'b') => string, env?: NodeJS.ProcessEnv) => (role: 'a' | 'b') => guestOutput(process.execPath, [CLI, 'run', 'debian', '--mem', '256M',
    '--net', `${net(role)},mac=${mac(role)}`, '--append', append(role === 'a' ? A : B), '--', ...(role === 'a' ? serverScript : clientScript)], env);
  await withDaemonNetwork(async (env) => report('rvisor switch', await pair(rvisor(() => 'switch=bench', env))));
  const port = await freePort();
  report('rvisor socket', await pair(rvisor((role) => (role === 'a' ? `socket,listen=127.0.0.1:${port}` : `socket,connect=127.0.0.1:${port}`))));
  const [pa, pb] = [await freePort(), await freePort()];
  report('rvisor vxlan', await pair(rvisor((role) => (role === 'a'
    ? `vxlan,vni=9,remote=127.0.0.1:${pb},local=127.0.0.1:${pa}` : `vxlan,vni=9,remote=127.0.0.1:${pa},local=127.0.0.1:${pb}`))));
  if (!existsSync(QEMU)) {
    console.log(`(${QEMU} not found: install qemu-system-misc for the comparison)`);
    return;
  }
  const { kernelPath, initrdPath } = image.info;
  const qport = await freePort();
  report('qemu socket', await pair((role) => guestOutput(QEMU, ['-M', 'virt', '-m', '256M', '-nographic', '-kernel', kernelPath, '-initrd', initrdPath,
    '-append', `${append(role === 'a' ? A : B)} ${guestCommandLine(role === 'a' ? serverScript : clientScript)}`,
    '-netdev', `socket,id=n0,${role === 'a' ? 'listen' : 'connect'}=127.0.0.1:${qport}`, '-device', `virtio-net-device,netdev=n0,mac=${mac(role)}`])));
}

/** A daemon (`rvisor serve`) of its own with network `bench`, for the while of `use`. */
async function withDaemonNetwork(use: (env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const state = mkdtempSync(join(tmpdir(), 'rvisor-bench-net-'));
  const env = { ...process.env, RVISOR_STATE: state, RVISOR_HOST: `unix:${join(state, 'api.sock')}` };
  const daemon = spawn(process.execPath, [CLI, 'serve', '--socket', join(state, 'api.sock')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let log = '';
    await new Promise<void>((resolve, reject) => {
      daemon.stderr.on('data', (d) => { log += d; if (/listening on/.test(log)) resolve(); });
      daemon.on('exit', () => reject(new Error(`rvisor serve exited: ${log}`)));
    });
    const created = await new Promise<number | null>((resolve) => spawn(process.execPath, [CLI, 'network', 'create', 'bench'], { env, stdio: 'ignore' }).on('exit', resolve));
    if (created !== 0) throw new Error('rvisor network create bench failed');
    await use(env);
  } finally {
    daemon.kill();
    rmSync(state, { recursive: true, force: true });
  }
}

function report(name: string, r: PairResult): void {
  const f = (x?: number, d = 1) => (x === undefined ? '   n/a' : x.toFixed(d).padStart(6));
  console.log(`${name.padEnd(14)} tcp ${f(r.tcpMBs)} MB/s   rtt ${f(r.rttMs, 2)} ms`);
}
