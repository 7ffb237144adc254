// The debian-system image booted to systemd: seconds to the serial console's login
// prompt, and to `systemctl is-system-running --wait` answering after a root login,
// for rvisor and for qemu-system-riscv64 (TCG) on the same disk, kernel and initramfs,
// each on a throwaway overlay of the image's disk. One boot each: a boot takes minutes.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from '../src/host/image/store.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const LIMIT_MS = 15 * 60_000;

interface Times { login: number; running: number; state: string }

const ESC = String.fromCharCode(27), BEL = String.fromCharCode(7);
/** Terminal controls (OSC 3008 marks, agetty's queries, CSI) and CRs, dropped before matching. */
const CONTROLS = new RegExp(`${ESC}\\][^${BEL}${ESC}]*(?:${BEL}|${ESC}\\\\)|${ESC}P[^${ESC}]*${ESC}\\\\|${ESC}\\[[0-9;?:!]*[ -/]*[@-~]|${ESC}[78]|\r`, 'g');

/** Boots with `cmd args`, logs in as root at the prompt, asks systemd; the two times. */
function boot(cmd: string, args: string[]): Promise<Times> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let login = 0;
    let asked = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd}: no answer in ${LIMIT_MS / 60_000} min:\n${out.slice(-1500)}`));
    }, LIMIT_MS);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString().replace(CONTROLS, '');
      // ttyS0's prompt (rvisor's virtio console has a getty too, on hvc0; typing goes to ttyS0).
      if (!login && / ttyS0\n\n?\S+ login: $/m.test(out)) {
        login = (performance.now() - start) / 1000;
        child.stdin.write('root\n');
      } else if (login && !asked && /# $/m.test(out)) {
        asked = true;
        child.stdin.write('systemctl is-system-running --wait | sed "s/^/state=/"\n');
      }
      // After bash's OSC 3008 mark, not at a line's start; the echoed command has 'state=/'.
      const m = /state=(\w+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ login, running: (performance.now() - start) / 1000, state: m[1] });
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
  });
}

export async function systemBench(): Promise<void> {
  const image = join(cacheRoot(), 'images', 'debian-system');
  console.log('\ndebian-system booted to systemd (seconds from start; one boot each):');
  if (!existsSync(join(image, 'disk.qcow2'))) {
    console.log('  (no debian-system image: rvisor image pull debian-system)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-bench-system-'));
  try {
    const r = await boot(process.execPath, [CLI, 'run', 'debian-system', '--no-boot-snapshot']);
    console.log(`  rvisor         login prompt ${r.login.toFixed(1).padStart(6)} s   is-system-running ${r.running.toFixed(1).padStart(6)} s (${r.state})`);
    if (!existsSync(QEMU)) {
      console.log(`  (${QEMU} not found: install qemu-system-misc for the comparison)`);
      return;
    }
    const overlay = join(dir, 'qemu.qcow2');
    spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(image, 'disk.qcow2'), '-F', 'qcow2', overlay]);
    const q = await boot(QEMU, [
      '-M', 'virt', '-m', '512M', '-nographic', '-no-reboot',
      '-kernel', join(image, 'kernel'), '-initrd', join(image, 'initrd'),
      '-append', 'console=ttyS0 quiet earlycon=sbi panic=-1 root=/dev/vda',
      '-drive', `file=${overlay},format=qcow2,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0',
      '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0',
    ]);
    console.log(`  QEMU TCG       login prompt ${q.login.toFixed(1).padStart(6)} s   is-system-running ${q.running.toFixed(1).padStart(6)} s (${q.state})`);
    console.log(`  rvisor/QEMU    login ${(r.login / q.login).toFixed(2)}x, running ${(r.running / q.running).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
