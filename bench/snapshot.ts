// Snapshot benchmark: savevm and loadvm of a booted 512 MiB Debian guest through QMP's
// human-monitor-command, and the size of the machine state file.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hmpOverQmp } from '../src/cli/snapshot-cmd.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

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
    const hmp = async (line: string) => {
      const out = await hmpOverQmp(`unix:${sock}`, line);
      if (out.trim()) throw new Error(`${line}: ${out.trim()}`);
    };
    let t = performance.now();
    await hmp('savevm bench');
    const save = (performance.now() - t) / 1000;
    t = performance.now();
    await hmp('loadvm bench');
    const load = (performance.now() - t) / 1000;
    const size = statSync(join(dir, 'snapshots', 'bench', 'vm.rvsnap')).size;
    console.log(`\nsnapshot of a booted 512 MiB Debian guest: savevm ${save.toFixed(2)} s, loadvm ${load.toFixed(2)} s, state file ${(size / 2 ** 20).toFixed(1)} MiB`);
    await hmp('quit').catch(() => undefined); // the VM may close the socket first
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
