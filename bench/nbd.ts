// NBD benchmark: the guest's disk throughput (the I/O bench's dd) with the disk a local
// raw file, and on an NBD server over loopback: rvisor's (`rvisor nbd serve`) and
// Debian's qemu-nbd, each under rvisor and under qemu-system-riscv64, on the same kernel
// and initramfs, in the same run.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { debianImageFor, freePort, guestOutput } from './guest-timing.js';
import { guestScript, measure, report } from './io.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';

async function startServer(kind: 'rvisor' | 'qemu-nbd', disk: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = kind === 'rvisor'
    ? spawn(process.execPath, [CLI, 'nbd', 'serve', disk, '-f', 'raw', '--export', 'd', '--port', String(port)], { stdio: 'ignore' })
    : spawn('qemu-nbd', ['-f', 'raw', '-x', 'd', '-b', '127.0.0.1', '-p', String(port), '-t', '--cache=none', disk], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return { port, child };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${kind} never listened`);
}

export async function nbdBench(): Promise<void> {
  const image = await debianImageFor('nbd');
  if (!image) return;
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-nbd-bench-'));
  const { kernelPath, initrdPath } = image.info;
  const rvisor = (file: string) => (disk: string, port: number) => guestOutput(process.execPath, [CLI, 'run', 'debian', '--disk', file || `file=${disk},format=raw`, '--', ...guestScript(port)]);
  const qemu = (file: string) => (disk: string, port: number) => guestOutput(QEMU, ['-M', 'virt', '-m', '512M', '-nographic', '-kernel', kernelPath, '-initrd', initrdPath,
    '-append', `console=ttyS0 quiet ${guestCommandLine(guestScript(port))}`,
    '-drive', `file=${file || disk},format=raw,if=virtio`, '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0']);
  try {
    console.log('\nNBD on Debian\'s kernel: the I/O bench\'s dd on a local raw disk and on NBD over loopback (MB/s)');
    const haveQemu = existsSync(QEMU);
    for (const vmm of ['rvisor', 'qemu TCG'] as const) {
      if (vmm === 'qemu TCG' && !haveQemu) {
        console.log(`(${QEMU} not found: install qemu-system-misc for the comparison)`);
        break;
      }
      const start = vmm === 'rvisor' ? rvisor : qemu;
      report(`${vmm} local`.padEnd(24), await measure(start(''), dir, 'local'));
      for (const server of ['rvisor', 'qemu-nbd'] as const) {
        let s: { port: number; child: ChildProcess } | undefined;
        const r = await measure(async (disk, port) => {
          s = await startServer(server, disk);
          return start(`nbd://127.0.0.1:${s.port}/d`)(disk, port);
        }, dir, `nbd-${server}`);
        s?.child.kill('SIGTERM');
        report(`${vmm} nbd (${server})`.padEnd(24), r);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
