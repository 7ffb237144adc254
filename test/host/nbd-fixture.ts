// NBD servers for tests, as processes (`rvisor nbd serve` or qemu-nbd): a test's own
// thread blocks in NbdBackend, so its server cannot share that thread.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after } from 'node:test';
import { sleep } from '../boot/support.js';

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * After a migration test's counter (which writes /mnt/n-$i on an ext2 disk): the image
 * is clean by `qemu-img check`, and holds the files of each count in `numbers` (those
 * written on either side of the switch-over). `scratch` takes a raw copy.
 */
export function assertCounterFiles(image: string, scratch: string, numbers: number[]): void {
  execFileSync('qemu-img', ['check', '-q', image]);
  execFileSync('qemu-img', ['convert', '-O', 'raw', image, scratch]);
  const ls = execFileSync('debugfs', ['-R', 'ls -p /', scratch], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  for (const n of numbers) assert.match(ls, new RegExp(`/n-${n}/`), `n-${n} on the disk`);
}

/** Starts a server process and waits until its TCP port, or socket file, answers. */
export async function serveNbd(cmd: string, args: string[], at: { port: number } | { socket: string }): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${cmd} exited: ${stderr}`);
    const up = await new Promise<boolean>((resolve) => {
      if ('socket' in at && !existsSync(at.socket)) return resolve(false);
      const s = 'socket' in at ? connect(at.socket) : connect(at.port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return child;
    await sleep(50);
  }
  throw new Error(`${cmd} never listened: ${stderr}`);
}

/** Starts a server without waiting for it (for a thread that is about to block). */
export function spawnNbd(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  children.push(child);
  return child;
}

/** SIGTERM, then the exit status. */
export function stopNbd(child: ChildProcess): Promise<number | null> {
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return done;
}
