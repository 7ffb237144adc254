// Two CPU-bound processes in a 2-hart Debian guest: one alone, then two at once, timed by
// the guest's clock. On rvisor with both harts on one thread (--threads single) and with a
// thread per hart (--threads multi), and on qemu-system-riscv64 -smp 2 (MTTCG, a thread
// per vCPU), same kernel and initramfs. Speed-up = 2 x one / two-at-once: 2 is perfect,
// 1 means the second process ran on no extra host CPU.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { debianImageFor, guestOutput, timed, timedValue } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const LOOP = 'i=0; while [ $i -lt 60000 ]; do i=$((i+1)); done';

const SCRIPT = ['sh', '-c', [
  // One run first, so both processes find the shell's code translated.
  `sh -c '${LOOP}'`,
  timed('one', `sh -c '${LOOP}'`),
  timed('two', `sh -c '${LOOP}' & sh -c '${LOOP}' & wait`),
].join('; ')];

async function run(cmd: string, args: string[]): Promise<{ one?: number; two?: number }> {
  const out = await guestOutput(cmd, args);
  return { one: timedValue(out, 'one'), two: timedValue(out, 'two') };
}

export async function smpBench(): Promise<void> {
  const image = await debianImageFor('vCPU threads');
  if (!image) return;
  console.log('\nTwo CPU-bound processes on a 2-hart guest (seconds, guest clock; speed-up = 2 x one / two)');
  const rows: [string, { one?: number; two?: number }][] = [];
  for (const threads of ['single', 'multi']) {
    rows.push([`rvisor --threads ${threads}`, await run(process.execPath, [CLI, 'run', 'debian', '--smp', '2', '--net', 'none', '--threads', threads, '--', ...SCRIPT])]);
  }
  if (existsSync(QEMU)) {
    const { kernelPath, initrdPath } = image.info;
    rows.push(['qemu -smp 2 (MTTCG)', await run(QEMU, ['-M', 'virt', '-smp', '2', '-accel', 'tcg,thread=multi', '-m', '512M', '-nographic',
      '-kernel', kernelPath, '-initrd', initrdPath, '-append', `console=ttyS0 quiet ${guestCommandLine(SCRIPT)}`])]);
  }
  const f = (x?: number) => (x === undefined ? '   n/a' : x.toFixed(2).padStart(6));
  for (const [name, r] of rows) {
    const speedup = r.one && r.two ? (2 * r.one / r.two).toFixed(2) : 'n/a';
    console.log(`${name.padEnd(24)} one ${f(r.one)}   two at once ${f(r.two)}   speed-up ${speedup}`);
  }
}
