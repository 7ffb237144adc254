// Live-migration benchmark: a 512 MiB guest of the Debian image migrates over loopback
// from one process to another, idle and while it dirties memory at a fixed rate, under
// rvisor (`rvisor run --incoming`, QMP migrate) and under qemu-system-riscv64 (-incoming,
// the same QMP), on the same kernel and initramfs, in the same run. Reported from each
// source's query-migrate: total time, downtime, rounds and bytes sent; and for rvisor
// the downtime its dry run (x-rvisor-migrate-predict, run just before) predicted. QEMU
// has no dry run: its expected-downtime while active starts at the limit itself.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { QmpClient, type Msg } from '../test/vmm/qmp-client.js';
import { debianImageFor, freePort } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
/** Downtimes of a few milliseconds vary run to run (timers, collections): five runs. */
const RUNS = 5;

/** What the guest runs: nothing (idle), or 4 MiB of tmpfs rewritten every 0.2 s
 *  (about 20 MiB/s of dirtied memory over a 4 MiB working set). */
const WORKLOADS = {
  idle: 'echo READY; while :; do sleep 1; done',
  dirtying: 'dd if=/dev/zero of=/dev/shm/w bs=1M count=4 2>/dev/null; echo READY; while :; do dd if=/dev/urandom of=/dev/shm/w bs=1M count=4 conv=notrunc 2>/dev/null; sleep 0.2; done',
} as const;
type Workload = keyof typeof WORKLOADS;

interface Result {
  totalMs: number;
  /** query-migrate's downtime, as each VMM counts it: QEMU from the source's stop to
   *  its last byte sent; rvisor from the stop to the destination's word that it runs. */
  downtimeMs: number;
  /** The same for both: the source's STOP event to the destination's RESUME, by the
   *  monitors' own timestamps (one host, one clock). */
  stoppedMs: number;
  /** The dry run's expected downtime (rvisor). */
  predictedMs: number | undefined;
  rounds: number;
  transferredMB: number;
}

interface Proc { child: ChildProcess; out: string }

function launch(cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { child, out: '' };
  child.stdout?.on('data', (d) => (p.out += d));
  child.stderr?.on('data', (d) => (p.out += d));
  return p;
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Qmp = ((cmd: string, args?: unknown) => Promise<Record<string, unknown>>) & {
  /** When the monitor stamped its last event of this name (ms since the epoch). */
  lastEventAt(name: string, timeoutMs: number): Promise<number>;
};

async function qmpAt(path: string): Promise<Qmp> {
  await until(`the QMP socket ${path}`, () => existsSync(path), 120_000);
  const c = await QmpClient.open(path);
  await c.next();
  const events: Msg[] = [];
  const run = async (cmd: string, args?: unknown): Promise<Record<string, unknown>> => {
    c.send(JSON.stringify(args === undefined ? { execute: cmd } : { execute: cmd, arguments: args }));
    for (;;) {
      const m: Msg = await c.next(60_000);
      if ('event' in m) { events.push(m); continue; }
      if (m.error) throw new Error(`${cmd}: ${JSON.stringify(m.error)}`);
      return (m.return ?? {}) as Record<string, unknown>;
    }
  };
  const lastEventAt = async (name: string, timeoutMs: number): Promise<number> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const e = events.filter((m) => m.event === name).pop();
      if (e) {
        const t = e.timestamp as { seconds: number; microseconds: number };
        return t.seconds * 1000 + t.microseconds / 1000;
      }
      await run('query-status');
      if (Date.now() > end) throw new Error(`no ${name} event from ${path}`);
    }
  };
  await run('qmp_capabilities');
  return Object.assign(run, { lastEventAt });
}

async function migrateOnce(vmm: 'rvisor' | 'qemu', workload: Workload, dir: string, kernel: string, initrd: string): Promise<Result> {
  const tag = `${vmm}-${workload}-${Math.random().toString(36).slice(2, 8)}`;
  const srcSock = join(dir, `${tag}-src.sock`), dstSock = join(dir, `${tag}-dst.sock`);
  const port = await freePort();
  const script = ['sh', '-c', WORKLOADS[workload]];
  const argsOf = (sock: string, incoming: boolean) => vmm === 'rvisor'
    ? [CLI, 'run', 'debian', '--qmp', `unix:${sock}`, ...(incoming ? ['--incoming', `tcp:127.0.0.1:${port}`] : []), '--', ...script]
    : ['-M', 'virt', '-m', '512M', '-nographic', '-kernel', kernel, '-initrd', initrd, '-append', `console=ttyS0 quiet ${guestCommandLine(script)}`,
      '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0', '-qmp', `unix:${sock},server=on,wait=off`,
      ...(incoming ? ['-incoming', `tcp:127.0.0.1:${port}`] : [])];
  const cmd = vmm === 'rvisor' ? process.execPath : QEMU;
  const src = launch(cmd, argsOf(srcSock, false));
  const procs = [src];
  try {
    await until(`the ${vmm} guest's READY`, () => src.out.includes('READY'), 180_000);
    // Let the workload settle into its rate.
    await new Promise((r) => setTimeout(r, 1500));
    const dst = launch(cmd, argsOf(dstSock, true));
    procs.push(dst);
    const d = await qmpAt(dstSock);
    const s = await qmpAt(srcSock);
    await s('migrate-set-parameters', { 'downtime-limit': 300 });
    let predicted: number | undefined;
    for (let attempt = 0; vmm === 'rvisor' && predicted === undefined; attempt++) {
      try {
        predicted = (await s('x-rvisor-migrate-predict', { uri: `tcp:127.0.0.1:${port}`, 'calc-time': 1 }))['expected-downtime'] as number;
      } catch (e) {
        // The destination may not listen yet.
        if (attempt > 20 || !/cannot reach/.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    let q: Record<string, unknown> = {};
    for (let attempt = 0; ; attempt++) {
      await s('migrate', { uri: `tcp:127.0.0.1:${port}` });
      do {
        await new Promise((r) => setTimeout(r, 20));
        q = await s('query-migrate');
      } while (q.status !== 'completed' && q.status !== 'failed');
      // The destination may not listen yet on the first try.
      if (q.status === 'completed' || attempt > 20) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (q.status !== 'completed') throw new Error(`${vmm} ${workload}: migration ${String(q.status)}: ${String(q['error-desc'])}`);
    const status = await d('query-status');
    if (status.status !== 'running') throw new Error(`${vmm} ${workload}: the destination is ${String(status.status)} after the migration`);
    const ram = q.ram as Record<string, number>;
    const stoppedMs = await d.lastEventAt('RESUME', 5000) - await s.lastEventAt('STOP', 5000);
    return {
      totalMs: q['total-time'] as number, downtimeMs: q.downtime as number, stoppedMs, predictedMs: predicted,
      rounds: ram['dirty-sync-count'], transferredMB: ram.transferred / 1e6,
    };
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export async function migrationBench(): Promise<void> {
  const image = await debianImageFor('migration');
  if (!image) return;
  const { kernelPath, initrdPath } = image.info;
  const haveQemu = existsSync(QEMU);
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-migration-bench-'));
  try {
    console.log(`\nLive migration of a 512 MiB Debian guest over loopback (median of ${RUNS}; query-migrate's figures)`);
    console.log('downtime: query-migrate\'s, as each VMM counts it; stopped: the source\'s STOP event to the destination\'s RESUME, the same for both');
    console.log('                       total ms  downtime ms  stopped ms  predicted ms  rounds  sent MB');
    const rows: Record<string, Result> = {};
    for (const workload of Object.keys(WORKLOADS) as Workload[]) {
      for (const vmm of ['rvisor', 'qemu'] as const) {
        if (vmm === 'qemu' && !haveQemu) {
          console.log(`(${QEMU} not found: install qemu-system-misc for the comparison)`);
          continue;
        }
        const runs: Result[] = [];
        for (let i = 0; i < RUNS; i++) runs.push(await migrateOnce(vmm, workload, dir, kernelPath, initrdPath));
        const byDowntime = [...runs].sort((a, b) => a.downtimeMs - b.downtimeMs);
        const r: Result = { ...byDowntime[RUNS >> 1], totalMs: median(runs.map((x) => x.totalMs)), stoppedMs: median(runs.map((x) => x.stoppedMs)) };
        rows[`${vmm} ${workload}`] = r;
        const p = r.predictedMs === undefined ? '-' : String(Math.round(r.predictedMs));
        console.log(`${`${vmm} ${workload}`.padEnd(22)} ${String(Math.round(r.totalMs)).padStart(8)}  ${String(Math.round(r.downtimeMs)).padStart(11)}  ${r.stoppedMs.toFixed(1).padStart(10)}  ${p.padStart(12)}  ${String(r.rounds).padStart(6)}  ${r.transferredMB.toFixed(1).padStart(7)}`);
      }
    }
    const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? `${(a / b).toFixed(2)}x` : '-');
    for (const w of Object.keys(WORKLOADS)) {
      const r = rows[`rvisor ${w}`], q = rows[`qemu ${w}`];
      if (!r) continue;
      console.log(`${w}: rvisor/QEMU total ${ratio(r.totalMs, q?.totalMs)}, downtime ${ratio(r.downtimeMs, q?.downtimeMs)}, stopped ${ratio(r.stoppedMs, q?.stoppedMs)}; rvisor measured/predicted downtime ${ratio(r.downtimeMs, r.predictedMs)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
