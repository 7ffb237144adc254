// Shared helpers for the storage tests: scratch files and QEMU's tools as the oracle.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export function scratch(prefix: string): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), `rvisor-${prefix}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return (name) => join(dir, name);
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, ...args: string[]): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a QEMU tool and insists it succeeds. */
export function qemu(tool: 'qemu-img' | 'qemu-io', ...args: string[]): string {
  const r = run(tool, ...args);
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: status ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export const HAVE_QEMU = spawnSync('qemu-img', ['--version']).status === 0;
/** Options for tests that need qemu-img (installed in CI: Debian's qemu-utils). */
export const needsQemu = { skip: HAVE_QEMU ? false : 'qemu-img not installed' };

/** `qemu-img check`'s verdict: 0 clean, 2 corrupt, 3 leaks only. */
export function qemuCheck(file: string): Run {
  return run('qemu-img', 'check', file);
}

/** The guest-visible bytes of any image, as QEMU reads them. */
export function qemuRaw(file: string, out: string): Uint8Array {
  qemu('qemu-img', 'convert', '-O', 'raw', file, out);
  return new Uint8Array(readFileSync(out));
}

/** Deterministic pseudo-random numbers (xorshift32), so a failure can be replayed. */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}
