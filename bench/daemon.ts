// The host daemon: API latency (create, start, stop; p50 and p99), the time from `clone`
// to the clone's shell prompt, and the daemon's memory per idle Debian guest for 1, 4 and
// 8 guests (its RSS, and that RSS less the guest RAM the guests have touched, which is
// the figure Firecracker's "VMM overhead" is comparable with).

import { readFileSync } from 'node:fs';
import { Daemon } from '../test/host/daemon-fixture.js';

const MIB = 2 ** 20;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const spec = (name: string) => ({ spec: { name, memory: 256 * MIB, boot: { image: 'debian' }, nics: [] } });

async function prompt(d: Daemon, name: string): Promise<void> {
  (await d.shell(name)).close();
}

export async function daemonBench(): Promise<void> {
  const d = new Daemon();
  await d.start();
  try {
    const create: number[] = [], start: number[] = [], stop: number[] = [];
    for (let i = 0; i < 20; i++) create.push(await timed(() => d.ok('POST', '/v1/vms', spec(`lat${i}`))));
    // Start is the API's answer once the worker runs the guest (not the guest's boot).
    for (let i = 0; i < 10; i++) {
      start.push(await timed(() => d.ok('POST', `/v1/vms/lat${i}/actions`, { type: 'start' })));
      stop.push(await timed(() => d.ok('POST', `/v1/vms/lat${i}/actions`, { type: 'stop' })));
    }
    const row = (what: string, xs: number[]) => `${what} p50 ${percentile(xs, 0.5).toFixed(1)} ms, p99 ${percentile(xs, 0.99).toFixed(1)} ms`;
    console.log(`\ndaemon API latency (${create.length} creates, ${start.length} start/stop): ${row('create', create)}; ${row('start', start)}; ${row('stop', stop)}`);

    await d.ok('POST', '/v1/vms', spec('base'));
    await d.ok('POST', '/v1/vms/base/template');
    const t0 = performance.now();
    await d.ok('POST', '/v1/vms/base/clones', { name: 'clone' });
    const cloned = performance.now() - t0;
    await d.ok('POST', '/v1/vms/clone/actions', { type: 'start' });
    await prompt(d, 'clone');
    console.log(`clone: ${cloned.toFixed(0)} ms to clone, ${((performance.now() - t0) / 1000).toFixed(1)} s from clone to the clone's shell prompt`);
    await d.ok('POST', '/v1/vms/clone/actions', { type: 'stop' });
  } finally {
    await d.cleanup();
  }
  await memoryBench();
}

/** In a daemon of its own: the baseline is an idle daemon that has run nothing yet. */
async function memoryBench(): Promise<void> {
  const d = new Daemon();
  await d.start();
  try {
    const pid = d.pid;
    const baseline = rssOf(pid);
    let running = 0;
    for (const n of [1, 4, 8]) {
      const names = Array.from({ length: n - running }, (_, i) => `idle${running + i}`);
      for (const name of names) await d.ok('POST', '/v1/vms', spec(name));
      await Promise.all(names.map((name) => d.ok('POST', `/v1/vms/${name}/actions`, { type: 'start' })));
      await Promise.all(names.map((name) => prompt(d, name)));
      running = n;
      await new Promise((r) => setTimeout(r, 5000));
      const rss = rssOf(pid);
      const touched = [...(await d.api('GET', '/metrics')).text.matchAll(/^rvisor_vm_ram_touched_bytes\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
      console.log(`${n} idle Debian guest(s) (256 MiB each): daemon RSS ${(rss / MIB).toFixed(0)} MiB (idle daemon ${(baseline / MIB).toFixed(0)} MiB), ` +
        `${((rss - baseline) / n / MIB).toFixed(1)} MiB per guest, of which guest RAM touched ${(touched / n / MIB).toFixed(1)} MiB: ` +
        `overhead ${((rss - baseline - touched) / n / MIB).toFixed(1)} MiB per guest (Firecracker: at most 5 MiB)`);
    }
  } finally {
    await d.cleanup();
  }
}
