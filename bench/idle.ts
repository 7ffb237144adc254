// Host CPU per idle guest: N Debian guests boot, print READY and sleep; once all are up,
// the CPU time of all their processes is sampled over 20 s (/proc/PID/stat, user + system)
// and divided by N. rvisor with its hart on the VM's thread and on a thread of its own,
// and qemu-system-riscv64 with the same kernel and initramfs.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { debianImageFor } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const SAMPLE_MS = 20_000;
/** After READY: the guest's last boot work (module loads, the shell) settles. */
const SETTLE_MS = 5_000;
const BOOT_TIMEOUT_MS = 15 * 60_000;
const GUEST = ['sh', '-c', 'echo READY; sleep 3600'];
const CLK_TCK = 100;

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
  return Number(fields[11]) + Number(fields[12]);
}

/** Starts N guests, waits until each printed READY, samples; returns % of a core per guest. */
async function idleCost(n: number, start: () => ChildProcess): Promise<number> {
  const guests: ChildProcess[] = [];
  try {
    const ready = Array.from({ length: n }, () => {
      const g = start();
      guests.push(g);
      return new Promise<void>((resolve, reject) => {
        let out = '';
        g.stdout?.on('data', (d) => {
          out += d;
          if (out.includes('READY')) resolve();
        });
        g.on('exit', (code) => reject(new Error(`a guest ended before it was ready (status ${code})`)));
      });
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ready), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('guests did not boot in time')), BOOT_TIMEOUT_MS)))]);
    clearTimeout(timer);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const pids = guests.map((g) => g.pid as number);
    const t0 = pids.reduce((s, p) => s + cpuTicks(p), 0);
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    const t1 = pids.reduce((s, p) => s + cpuTicks(p), 0);
    return ((t1 - t0) / CLK_TCK) / (SAMPLE_MS / 1000) * 100 / n;
  } finally {
    for (const g of guests) g.kill('SIGKILL');
  }
}

export async function idleBench(counts = [1, 10]): Promise<void> {
  const image = await debianImageFor('idle guests');
  if (!image) return;
  console.log(`\nHost CPU per idle Debian guest (256 MiB, 1 hart; % of a core, ${SAMPLE_MS / 1000} s sample after boot)`);
  const { kernelPath, initrdPath } = image.info;
  const kinds: [string, () => ChildProcess][] = [
    ['rvisor (hart on the VM thread)', () => spawn(process.execPath, [CLI, 'run', 'debian', '--mem', '256M', '--net', 'none', '--', ...GUEST], { stdio: ['ignore', 'pipe', 'ignore'] })],
    ['rvisor --threads multi', () => spawn(process.execPath, [CLI, 'run', 'debian', '--mem', '256M', '--net', 'none', '--threads', 'multi', '--', ...GUEST], { stdio: ['ignore', 'pipe', 'ignore'] })],
  ];
  if (existsSync(QEMU)) {
    kinds.push(['qemu-system-riscv64', () => spawn(QEMU, ['-M', 'virt', '-m', '256M', '-nographic', '-kernel', kernelPath, '-initrd', initrdPath,
      '-append', `console=ttyS0 quiet ${guestCommandLine(GUEST)}`], { stdio: ['ignore', 'pipe', 'ignore'] })]);
  }
  for (const [name, start] of kinds) {
    const cells: string[] = [];
    for (const n of counts) cells.push(`${n} guest${n > 1 ? 's' : ''}: ${(await idleCost(n, start)).toFixed(2)}%`);
    console.log(`${name.padEnd(32)} ${cells.join('   ')}`);
  }
}
