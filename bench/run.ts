// `npm run bench`: guest instructions per second of the interpreter and of the
// WebAssembly translator (src/jit) on CPU-bound programs, side by side with Debian's
// qemu-riscv64 (user mode) on the same instructions.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '../src/isa/asm.js';
import { writeElf } from '../src/isa/elf.js';
import { BareMetalMachine } from '../src/machine/baremetal.js';
import { bootBench } from './boot.js';
import { daemonBench } from './daemon.js';
import { guestCpuBench } from './guest-cpu.js';
import { ioBench } from './io.js';
import { migrationBench } from './migration.js';
import { nbdBench } from './nbd.js';
import { idleBench } from './idle.js';
import { instantBench } from './instant.js';
import { smpBench } from './smp.js';
import { snapshotBench } from './snapshot.js';
import { switchBench } from './switch.js';
import { systemBench } from './system.js';
import { PROGRAMS, source } from './programs.js';

const QEMU = '/usr/bin/qemu-riscv64';
const RUNS = 3;

interface Row {
  name: string;
  instructions: number;
  rvisorMips: number;
  jitMips: number;
  qemuMips?: number;
}

function runRvisor(elf: Uint8Array, exec: 'interp' | 'jit' = 'interp'): { instructions: number; seconds: number; code: number } {
  let out = '';
  const m = new BareMetalMachine(elf, { memSize: 8 << 20, output: (b) => { out += new TextDecoder().decode(b); }, exec });
  const t0 = performance.now();
  const r = m.runSync();
  const seconds = (performance.now() - t0) / 1000;
  if (r.kind !== 'exit') throw new Error(`benchmark did not exit: ${r.kind} ${out}`);
  return { instructions: r.instructions, seconds, code: r.code };
}

function runQemu(path: string): { seconds: number; code: number } {
  const t0 = performance.now();
  const r = spawnSync(QEMU, [path], { stdio: 'ignore' });
  return { seconds: (performance.now() - t0) / 1000, code: r.status ?? -1 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main(): Promise<void> {
  // `npm run bench -- --idle-only` / `--smp-only` / `--net-only` / `--nbd-only` /
  // `--migration-only`: the idle-guest, vCPU-thread, guest-to-guest network, NBD or
  // live-migration figures alone.
  if (process.argv.includes('--idle-only')) {
    await idleBench();
    return;
  }
  if (process.argv.includes('--net-only')) {
    await switchBench();
    return;
  }
  if (process.argv.includes('--nbd-only')) {
    await nbdBench();
    return;
  }
  if (process.argv.includes('--instant-only')) {
    await instantBench();
    return;
  }
  if (process.argv.includes('--system-only')) {
    await systemBench();
    return;
  }
  if (process.argv.includes('--migration-only')) {
    await migrationBench();
    return;
  }
  if (process.argv.includes('--smp-only')) {
    await smpBench();
    await idleBench();
    return;
  }
  const haveQemu = existsSync(QEMU);
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-bench-'));
  const rows: Row[] = [];
  try {
    for (const p of PROGRAMS) {
      const bare = writeElf(assemble(source(p, 'htif')));
      const times: number[] = [];
      let instructions = 0, code = 0;
      for (let i = 0; i < RUNS; i++) {
        const r = runRvisor(bare);
        times.push(r.seconds);
        instructions = r.instructions;
        code = r.code;
      }
      const jitTimes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = runRvisor(bare, 'jit');
        if (r.code !== code || r.instructions !== instructions) throw new Error(`${p.name}: the translator disagrees with the interpreter`);
        jitTimes.push(r.seconds);
      }
      const row: Row = { name: p.name, instructions, rvisorMips: instructions / median(times) / 1e6, jitMips: instructions / median(jitTimes) / 1e6 };
      if (haveQemu) {
        const path = join(dir, `${p.name}.elf`);
        // qemu-user refuses files without execute permission.
        writeFileSync(path, writeElf(assemble(source(p, 'linux'))), { mode: 0o755 });
        const q = [];
        for (let i = 0; i < RUNS; i++) {
          const r = runQemu(path);
          if (r.code !== code) throw new Error(`${p.name}: qemu exit ${r.code}, rvisor ${code}: the programs disagree`);
          q.push(r.seconds);
        }
        row.qemuMips = instructions / median(q) / 1e6;
      }
      rows.push(row);
      printRow(row);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const geo = (xs: number[]) => Math.exp(xs.reduce((a, b) => a + Math.log(b), 0) / xs.length);
  console.log(`\ninterpreter geometric mean: ${geo(rows.map((r) => r.rvisorMips)).toFixed(1)} M instr/s`);
  console.log(`translator geometric mean:  ${geo(rows.map((r) => r.jitMips)).toFixed(1)} M instr/s (${geo(rows.map((r) => r.jitMips / r.rvisorMips)).toFixed(1)}x)`);
  if (!haveQemu) console.log(`(${QEMU} not found: install Debian's qemu-user for the comparison)`);
  if (!process.argv.includes('--cpu-only')) {
    await bootBench();
    await instantBench();
    await guestCpuBench();
    await smpBench();
    await idleBench();
    await ioBench();
    await nbdBench();
    await migrationBench();
    await switchBench();
    await snapshotBench();
    await daemonBench();
    await systemBench();
  }
}

function printRow(r: Row): void {
  const q = r.qemuMips === undefined ? '' : `   qemu-riscv64 ${r.qemuMips.toFixed(1).padStart(7)} M/s   rvisor/qemu ${(r.rvisorMips / r.qemuMips).toFixed(3)}`;
  const jit = `   jit ${r.jitMips.toFixed(1).padStart(7)} M/s (${(r.jitMips / r.rvisorMips).toFixed(1)}x)`;
  console.log(`${r.name.padEnd(8)} ${(r.instructions / 1e6).toFixed(1).padStart(6)} M instr   rvisor ${r.rvisorMips.toFixed(1).padStart(6)} M/s${jit}${q}`);
}

await main();
