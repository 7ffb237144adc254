// CPU-bound work inside the Debian guest, timed by the guest's own clock: a BusyBox shell
// loop, and sha256sum and gzip of a generated 4 MiB file. Run on the interpreter, on the
// translator, and on qemu-system-riscv64 (TCG) with the same kernel and initramfs.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { debianImageFor, guestOutput, timed, timedValue } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';

const SCRIPT = ['sh', '-c', [
  'dd if=/dev/urandom of=/tmp/data bs=1M count=4 2>/dev/null',
  timed('shell-loop', 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done'),
  timed('sha256sum', 'sha256sum /tmp/data >/dev/null'),
  timed('gzip', 'gzip -c /tmp/data >/dev/null'),
].join('; ')];
const WORKLOADS = ['shell-loop', 'sha256sum', 'gzip'];

/** Seconds per workload, from the guest's "LABEL VALUE" lines. */
async function run(cmd: string, args: string[]): Promise<Record<string, number>> {
  const out = await guestOutput(cmd, args);
  const r: Record<string, number> = {};
  for (const w of WORKLOADS) {
    const v = timedValue(out, w);
    if (v !== undefined) r[w] = v;
  }
  return r;
}

export async function guestCpuBench(): Promise<void> {
  const image = await debianImageFor('guest workloads');
  if (!image) return;
  console.log('\nCPU-bound work in the Debian guest (seconds, guest clock): interpreter, translator, QEMU TCG');
  const rows: [string, Record<string, number>][] = [];
  for (const exec of ['interp', 'jit']) rows.push([exec, await run(process.execPath, [CLI, 'run', 'debian', '--no-boot-snapshot', '--net', 'none', '--exec', exec, '--', ...SCRIPT])]);
  if (existsSync(QEMU)) {
    const { kernelPath, initrdPath } = image.info;
    rows.push(['qemu', await run(QEMU, ['-M', 'virt', '-m', '512M', '-nographic', '-kernel', kernelPath, '-initrd', initrdPath,
      '-append', `console=ttyS0 quiet ${guestCommandLine(SCRIPT)}`])]);
  }
  const f = (x?: number) => (x === undefined ? '   n/a' : x.toFixed(2).padStart(7));
  for (const w of WORKLOADS) {
    const [i, j, q] = rows.map(([, r]) => r[w]);
    const speedup = i && j ? `  translator ${(i / j).toFixed(1)}x the interpreter` : '';
    const vsQemu = j && q ? `, ${(j / q).toFixed(1)}x QEMU's time` : '';
    console.log(`${w.padEnd(11)} interp ${f(i)}   jit ${f(j)}   qemu ${f(q)}${speedup}${vsQemu}`);
  }
}
