// Shared by the boot tests: the CLI, and the Debian image pulled once into the user's
// cache (the same place `rvisor run` uses), so every test boots the real kernel.

import { spawn, spawnSync } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from '../../src/host/index.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli/main.js');
/** A Debian boot takes a couple of minutes on the interpreter. */
export const BOOT_TIMEOUT_MS = 10 * 60_000;

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let pulled = false;

/** Pulls the Debian image if the cache lacks it (the first boot would do it too, but
 *  then its time would count against that boot's timeout). */
export function ensureImage(): void {
  if (pulled) return;
  const have = () => /^debian\s/m.test(spawnSync(process.execPath, [CLI, 'image', 'ls'], { encoding: 'utf8' }).stdout);
  // Test files may run in parallel: one pulls while the others wait for its lock.
  const lock = join(cacheRoot(), 'test-pull.lock');
  mkdirSync(cacheRoot(), { recursive: true });
  for (const deadline = Date.now() + BOOT_TIMEOUT_MS; !have(); ) {
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > deadline) throw new Error(`waited too long for another test's pull (${lock})`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
      continue;
    }
    try {
      if (!have()) {
        const r = spawnSync(process.execPath, [CLI, 'image', 'pull', 'debian'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        if (r.status !== 0) throw new Error(`rvisor image pull debian failed: ${r.stderr}`);
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  pulled = true;
}

/** Runs the CLI to completion without blocking the event loop. */
export function rvisor(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rvisor ${args.join(' ')} timed out\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? BOOT_TIMEOUT_MS);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds, or fails naming `what`. */
export async function until(what: string, check: () => boolean, timeoutMs = BOOT_TIMEOUT_MS): Promise<void> {
  for (const end = Date.now() + timeoutMs; !check(); await sleep(200)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** A loopback TCP port nobody listens on right now (for --publish, --gdb). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Runs iproute2's `ip`; its output, or an Error with what it said. */
export function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A server in network namespace `ns` at HOST:PORT for a guest to reach: it takes one
 *  connection, prints 'server got: ' and the line it read, and ends. `finished` waits
 *  for that, at most 10 s (call it once the guest has sent), with what it printed. */
export function namespaceServer(ns: string, host: string, port: number): { finished: () => Promise<{ status: number | null; output: string }>; kill: () => void } {
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `
    const s = require('node:net').createServer((c) => {
      let got = '';
      c.on('data', (d) => { got += d; });
      c.on('end', () => { console.log('server got: ' + got.trim()); c.end(); s.close(); });
    });
    s.listen(${port}, ${JSON.stringify(host)}, () => console.log('listening'));
    setTimeout(() => process.exit(2), 540000).unref();`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (d) => (output += d));
  server.stderr.on('data', (d) => (output += d));
  const closed = new Promise<number | null>((r) => server.on('close', r));
  const kill = () => server.kill('SIGKILL');
  return {
    finished: async () => {
      const timer = setTimeout(kill, 10_000);
      const status = await closed;
      clearTimeout(timer);
      return { status, output };
    },
    kill,
  };
}

/** The guest's side of a namespace test, for `sh -c`: waits up to a minute for HOST to
 *  answer a ping, pings it 3 times (exit 3 when they fail), then sends LINE to HOST:PORT. */
export function pingThenSend(host: string, port: number, line: string): string {
  return `n=0; until ping -c 1 -W 1 ${host} >/dev/null || [ $n -gt 60 ]; do n=$((n+1)); done; ping -c 3 -W 5 ${host} || exit 3; echo ${line} | nc -w 5 ${host} ${port}; echo sent`;
}
