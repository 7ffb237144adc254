// Host CPU and memory per idle guest: N Debian guests boot, print READY and sleep; once all
// are up and have settled, the CPU time of all their processes is sampled over 20 s
// (/proc/PID/stat, user + system) and divided by N, and so is their memory (PSS).
// rvisor with its hart on the VM's thread and on a thread of its own, and
// qemu-system-riscv64 with the same kernel and initramfs. A count whose guests would not
// fit in the host's available memory (going by one guest's footprint) is skipped, saying so.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { debianImageFor } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const MEM = '128M';
const SAMPLE_MS = 20_000;
/** After READY: the guest's last boot work settles, and the translator drops the boot's
 *  code (pages out of use for a 10 s period go) and has V8 collect it. */
const SETTLE_MS = 30_000;
const BOOT_TIMEOUT_MS = 20 * 60_000;
const GUEST = ['sh', '-c', 'echo READY; sleep 3600'];
const CLK_TCK = 100;
/** Head room over N times one guest's footprint before N guests are started. */
const MEMORY_MARGIN = 1.15;

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
  return Number(fields[11]) + Number(fields[12]);
}

/** Proportional set size: resident memory with pages shared between processes (the
 *  node or qemu binary, libraries) divided among them, so N guests' sum is what they take. */
function pssBytes(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function availableBytes(): number {
  const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface IdleCost {
  /** % of a host core per guest. */
  cpu: number;
  /** Proportional resident bytes per guest. */
  pss: number;
}

/** Starts N guests, waits until each printed READY, settles, samples. */
async function idleCost(n: number, start: () => ChildProcess): Promise<IdleCost> {
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
    const pss = pids.reduce((s, p) => s + pssBytes(p), 0) / n;
    return { cpu: ((t1 - t0) / CLK_TCK) / (SAMPLE_MS / 1000) * 100 / n, pss };
  } finally {
    // Waited for, so that the next count finds their memory free again.
    await Promise.all(guests.map((g) => new Promise<void>((resolve) => {
      if (g.exitCode !== null || g.signalCode !== null) resolve();
      else {
        g.once('exit', () => resolve());
        g.kill('SIGKILL');
      }
    })));
  }
}

const MiB = 1024 * 1024;

export async function idleBench(counts = [1, 10, 50]): Promise<void> {
  const image = await debianImageFor('idle guests');
  if (!image) return;
  console.log(`\nIdle Debian guests (${MEM}, 1 hart): host CPU per guest (% of a core, ${SAMPLE_MS / 1000} s sample ${SETTLE_MS / 1000} s after boot) and memory per guest (PSS)`);
  const { kernelPath, initrdPath } = image.info;
  const rvisor = (extra: string[]) => () => spawn(process.execPath, [CLI, 'run', 'debian', '--no-boot-snapshot', '--mem', MEM, '--net', 'none', ...extra, '--', ...GUEST], { stdio: ['ignore', 'pipe', 'ignore'] });
  const kinds: [string, () => ChildProcess][] = [
    ['rvisor (hart on the VM thread)', rvisor([])],
    ['rvisor --threads multi', rvisor(['--threads', 'multi'])],
  ];
  if (existsSync(QEMU)) {
    kinds.push(['qemu-system-riscv64', () => spawn(QEMU, ['-M', 'virt', '-m', MEM, '-nographic', '-kernel', kernelPath, '-initrd', initrdPath,
      '-append', `console=ttyS0 quiet ${guestCommandLine(GUEST)}`], { stdio: ['ignore', 'pipe', 'ignore'] })]);
  }
  for (const [name, start] of kinds) {
    const cells: string[] = [];
    let oneGuest = 0;
    for (const n of counts) {
      const label = `${n} guest${n > 1 ? 's' : ''}`;
      const need = n * oneGuest * MEMORY_MARGIN;
      if (oneGuest > 0 && need > availableBytes()) {
        cells.push(`${label}: skipped (needs ${(need / 1024 / MiB).toFixed(1)} GiB, ${(availableBytes() / 1024 / MiB).toFixed(1)} GiB available)`);
        continue;
      }
      const c = await idleCost(n, start);
      if (n === 1) oneGuest = c.pss;
      cells.push(`${label}: ${c.cpu.toFixed(2)}% ${(c.pss / MiB).toFixed(0)} MiB`);
    }
    console.log(`${name.padEnd(32)} ${cells.join('   ')}`);
  }
}
