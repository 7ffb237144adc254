// Snapshot benchmark: savevm and loadvm of a booted 512 MiB Debian guest through QMP's
// human-monitor-command, and the size of the machine state file.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** Sends one QMP command after negotiation and resolves with its reply. */
function qmpSession(path: string): Promise<(cmd: object) => Promise<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    const waiting: ((m: Record<string, unknown>) => void)[] = [];
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
        const m = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        if (!('event' in m)) waiting.shift()?.(m);
      }
    });
    s.on('error', reject);
    const send = (cmd: object) => new Promise<Record<string, unknown>>((r) => { waiting.push(r); s.write(JSON.stringify(cmd)); });
    waiting.push(() => {
      void send({ execute: 'qmp_capabilities' }).then(() => resolve(send));
    });
  });
}

export async function snapshotBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-snapbench-'));
  const sock = join(dir, 'qmp.sock');
  const child = spawn(process.execPath, [CLI, 'run', 'debian', '--qmp', `unix:${sock}`, '--', 'sh', '-c', 'echo guest-ready; sleep 100000'],
    { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, RVISOR_STATE: dir } });
  try {
    await new Promise<void>((resolve) => {
      let out = '';
      child.stdout.on('data', (d) => { out += d; if (out.includes('guest-ready')) resolve(); });
    });
    const send = await qmpSession(sock);
    const hmp = (line: string) => send({ execute: 'human-monitor-command', arguments: { 'command-line': line } });
    let t = performance.now();
    await hmp('savevm bench');
    const save = (performance.now() - t) / 1000;
    t = performance.now();
    await hmp('loadvm bench');
    const load = (performance.now() - t) / 1000;
    const size = statSync(join(dir, 'snapshots', 'bench', 'vm.rvsnap')).size;
    console.log(`\nsnapshot of a booted 512 MiB Debian guest: savevm ${save.toFixed(2)} s, loadvm ${load.toFixed(2)} s, state file ${(size / 2 ** 20).toFixed(1)} MiB`);
    await send({ execute: 'quit' });
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
