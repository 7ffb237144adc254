// Boot benchmark: wall time from process start to the guest's /init and to the end of
// `-- true`, for rvisor and for qemu-system-riscv64 -M virt on the same kernel and
// initramfs (the Debian image from `rvisor image pull debian`).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import { debianImageFor } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const APPEND = 'console=ttyS0';

export interface BootTiming {
  toInit: number;
  total: number;
  status: number | null;
}

function timeBoot(cmd: string, args: string[]): Promise<BootTiming> {
  return new Promise((resolve) => {
    const start = performance.now();
    let toInit = NaN;
    let out = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.on('data', (d) => {
      out += d;
      if (Number.isNaN(toInit) && out.includes('Run /init as init process')) toInit = (performance.now() - start) / 1000;
      if (out.length > 1 << 20) out = out.slice(-4096);
    });
    child.on('close', (status) => resolve({ toInit, total: (performance.now() - start) / 1000, status }));
  });
}

export async function bootBench(): Promise<void> {
  const image = await debianImageFor('boot');
  if (!image) return;
  const { kernelPath, initrdPath } = image.info;
  console.log(`\nboot of Debian ${image.info.manifest.kernelVersion} with the image's initramfs, 512 MiB, 1 hart, -- true`);
  const interp = await timeBoot(process.execPath, [CLI, 'run', 'debian', '--no-boot-snapshot', '--exec', 'interp', '--append', APPEND, '--', 'true']);
  report('interp', interp);
  const rv = await timeBoot(process.execPath, [CLI, 'run', 'debian', '--no-boot-snapshot', '--exec', 'jit', '--append', APPEND, '--', 'true']);
  report('jit', rv);
  if (!existsSync(QEMU)) {
    console.log(`(${QEMU} not found: install qemu-system-misc for the comparison)`);
    return;
  }
  const q = await timeBoot(QEMU, ['-M', 'virt', '-m', '512M', '-smp', '1', '-nographic', '-kernel', kernelPath, '-initrd', initrdPath, '-append', `${APPEND} -- true`]);
  report('qemu TCG', q);
  console.log(`translator/qemu: to /init ${(rv.toInit / q.toInit).toFixed(1)}x, whole run ${(rv.total / q.total).toFixed(1)}x the time`);
  console.log(`interpreter/qemu: to /init ${(interp.toInit / q.toInit).toFixed(1)}x, whole run ${(interp.total / q.total).toFixed(1)}x the time`);
}

function report(name: string, t: BootTiming): void {
  console.log(`${name.padEnd(9)} to /init ${t.toInit.toFixed(1).padStart(6)} s   -- true done ${t.total.toFixed(1).padStart(6)} s   (exit ${t.status})`);
}

