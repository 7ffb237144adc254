// Instant start: wall time of `rvisor run debian -- true` from the image's boot snapshot
// (made by a first run, not timed), with and without a NIC, and to the interactive shell's
// prompt; beside a real boot of rvisor (--no-boot-snapshot) and of qemu-system-riscv64 on
// the same kernel and initramfs, which has no boot snapshots for an initramfs guest.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { DEFAULT_APPEND } from '../src/host/vm/boot-files.js';
import { debianImageFor } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const RUNS = 5;

/** Seconds from spawn until `done(output)` holds, or until it exits (done undefined). */
function timed(cmd: string, args: string[], done?: (out: string) => boolean): Promise<{ seconds: number; status: number | null }> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    let finished = false;
    child.stdout.on('data', (d) => {
      out += d;
      if (!finished && done?.(out)) {
        finished = true;
        resolve({ seconds: (performance.now() - start) / 1000, status: 0 });
        child.kill('SIGKILL');
      }
    });
    child.on('close', (status) => { if (!finished) resolve({ seconds: (performance.now() - start) / 1000, status }); });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function medianOf(what: string, cmd: string, args: string[], done?: (out: string) => boolean, runs = RUNS): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await timed(cmd, args, done);
    if (r.status !== 0) throw new Error(`${what}: exit ${r.status}`);
    t.push(r.seconds);
  }
  const m = median(t);
  console.log(`${what.padEnd(48)} ${m.toFixed(2).padStart(6)} s  (${t.map((x) => x.toFixed(2)).join(' ')})`);
  return m;
}

/** Terminal control sequences (the shell asks for the cursor position). */
const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[a-zA-Z]`, 'g');
const prompt = (out: string) => /# $/.test(out.replace(CSI, '').trimEnd() + ' ');

export async function instantBench(): Promise<void> {
  const image = await debianImageFor('instant start');
  if (!image) return;
  const { kernelPath, initrdPath } = image.info;
  console.log(`\ninstant start: wall time, 512 MiB, 1 hart (median of ${RUNS})`);
  // The first run of these options makes their boot snapshot.
  for (const net of [[], ['--net', 'none']]) await timed(process.execPath, [CLI, 'run', 'debian', ...net, '--', 'true']);
  await timed(process.execPath, [CLI, 'run', 'debian'], prompt);
  const snap = await medianOf('rvisor run debian -- true (boot snapshot)', process.execPath, [CLI, 'run', 'debian', '--', 'true']);
  await medianOf('  the same, --net none', process.execPath, [CLI, 'run', 'debian', '--net', 'none', '--', 'true']);
  await medianOf('rvisor run debian: the shell prompt (snapshot)', process.execPath, [CLI, 'run', 'debian'], prompt);
  const real = await medianOf('rvisor run debian --no-boot-snapshot -- true', process.execPath, [CLI, 'run', 'debian', '--no-boot-snapshot', '--', 'true'], undefined, 3);
  if (!existsSync(QEMU)) {
    console.log(`(${QEMU} not found: install qemu-system-misc for the comparison)`);
    return;
  }
  const q = await medianOf('qemu-system-riscv64 (TCG) boot, -- true', QEMU, ['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-kernel', kernelPath, '-initrd', initrdPath,
    '-append', `${DEFAULT_APPEND} ${guestCommandLine(['true'])}`, '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0'], undefined, 3);
  console.log(`from a boot snapshot: ${(real / snap).toFixed(1)}x faster than rvisor's boot, ${(q / snap).toFixed(1)}x faster than QEMU's`);
}
