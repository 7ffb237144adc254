// I/O benchmark: virtio-blk sequential write and read (busybox dd in the guest, on a raw
// image) and TCP throughput from the guest to the host through user-mode networking,
// for rvisor and for qemu-system-riscv64 -M virt (-drive if=virtio, -netdev user) booting
// the same kernel and initramfs.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guestCommandLine } from '../src/host/index.js';
import { debianImageFor, guestOutput, timed, timedValue } from './guest-timing.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const QEMU = '/usr/bin/qemu-system-riscv64';
const MIB = 32;

interface IoResult {
  writeMBs?: number;
  readMBs?: number;
  tcpMBs?: number;
}

/** A host TCP sink: MB/s from the first byte to the end of the guest's stream. */
async function tcpSink(): Promise<{ port: number; rate: () => number | undefined; close: () => void }> {
  let bytes = 0, first = 0, last = 0;
  const server = createServer((s) => {
    s.on('data', (d) => {
      if (!first) first = performance.now();
      bytes += d.length;
      last = performance.now();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    rate: () => (bytes && last > first ? bytes / 1e6 / ((last - first) / 1000) : undefined),
    close: () => server.close(),
  };
}

export function guestScript(port: number): string[] {
  return ['sh', '-c', [
    timed('write', `dd if=/dev/zero of=/dev/vda bs=1M count=${MIB} conv=fsync 2>/dev/null`, `${MIB} * 1.048576 / s`),
    'echo 3 > /proc/sys/vm/drop_caches',
    timed('read', `dd if=/dev/vda of=/dev/null bs=1M count=${MIB} 2>/dev/null`, `${MIB} * 1.048576 / s`),
    `dd if=/dev/zero bs=64k count=${MIB * 16} 2>/dev/null | nc 10.0.2.2 ${port}`,
  ].join('; ')];
}

export async function measure(start: (disk: string, port: number) => Promise<string>, dir: string, name: string): Promise<IoResult> {
  const disk = join(dir, `${name}.img`);
  writeFileSync(disk, new Uint8Array((MIB + 16) << 20));
  const sink = await tcpSink();
  try {
    const out = await start(disk, sink.port);
    return { writeMBs: timedValue(out, 'write'), readMBs: timedValue(out, 'read'), tcpMBs: sink.rate() };
  } finally {
    sink.close();
  }
}

export async function ioBench(): Promise<void> {
  const image = await debianImageFor('io');
  if (!image) return;
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-io-'));
  try {
    console.log(`\nI/O on Debian's kernel: dd ${MIB} MiB to and from a raw virtio disk, ${MIB} MiB over TCP to the host (MB/s)`);
    const rv = await measure((disk, port) => guestOutput(process.execPath, [CLI, 'run', 'debian', '--disk', `file=${disk},format=raw`, '--', ...guestScript(port)]), dir, 'rvisor');
    report('rvisor', rv);
    if (!existsSync(QEMU)) {
      console.log(`(${QEMU} not found: install qemu-system-misc for the comparison)`);
      return;
    }
    const { kernelPath, initrdPath } = image.info;
    const q = await measure((disk, port) => guestOutput(QEMU, ['-M', 'virt', '-m', '512M', '-nographic', '-kernel', kernelPath, '-initrd', initrdPath,
      '-append', `console=ttyS0 quiet ${guestCommandLine(guestScript(port))}`,
      '-drive', `file=${disk},format=raw,if=virtio`, '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0']), dir, 'qemu');
    report('qemu TCG', q);
    const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : 'n/a');
    console.log(`rvisor/qemu: write ${ratio(rv.writeMBs, q.writeMBs)}, read ${ratio(rv.readMBs, q.readMBs)}, tcp ${ratio(rv.tcpMBs, q.tcpMBs)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function report(name: string, r: IoResult): void {
  const f = (x?: number) => (x === undefined ? '   n/a' : x.toFixed(1).padStart(6));
  console.log(`${name.padEnd(9)} blk write ${f(r.writeMBs)}   blk read ${f(r.readMBs)}   tcp guest->host ${f(r.tcpMBs)}`);
}
