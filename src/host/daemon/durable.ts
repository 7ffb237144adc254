// Files that survive a crash of the daemon or the host: a file is replaced whole or not at
// all, and once a call returns its change is on disk. And the lock file that makes one
// process the only writer of a directory.

import { closeSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../pid.js';

/** Temporary files start with '.' (never taken for a definition) and end in '.tmp' (so a
 *  restarted owner can sweep up what a crash left). */
export const TEMP_FILE = /^\..*\.tmp$/;

/** A rename or unlink is durable only once the directory holding it is synced. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeSynced(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    const bytes = Buffer.from(text);
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `dir/name` atomically: written and synced beside it, then renamed over it (a
 *  rename within one filesystem is atomic), then the directory synced. A crash leaves
 *  the old file or the new one, and at worst a temporary file. */
export function writeDurable(dir: string, name: string, text: string): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  try {
    writeSynced(tmp, text);
    renameSync(tmp, join(dir, name));
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dir);
}

export function removeDurable(dir: string, name: string): void {
  rmSync(join(dir, name), { force: true });
  syncDir(dir);
}

/** Who holds `lock`: its pid, or undefined if the file is missing or unreadable (a crash
 *  between creating it and writing the pid). */
function holder(lock: string): number | undefined {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The locks this process holds, by path: its pid in a lock means ours only if listed. */
const held = new Set<string>();

/**
 * Makes this process the one owner of `dir` through `dir/.lock`, which holds its pid, and
 * returns the function that releases it. A lock whose process is gone (killed, crashed)
 * is taken over; a live one is an error naming it. The lock file appears with the pid
 * already in it (linked from a synced temporary), so a reader never sees it empty.
 *
 * One window remains: two daemons that both find the same stale lock at the same moment
 * can both take it over. Starting two daemons on one state directory at once after a
 * crash is the only way to get there.
 */
export function lockDir(dir: string): () => void {
  const lock = join(dir, '.lock');
  const tmp = join(dir, `.lock.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  writeSynced(tmp, `${process.pid}\n`);
  try {
    for (let tries = 0; ; tries++) {
      try {
        linkSync(tmp, lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 3) throw e;
      }
      const pid = holder(lock);
      if (held.has(lock)) throw new Error(`${dir} is already open in this process (an Inventory not closed?)`);
      // Our own pid but not held by us: a lock from before a reboot whose pid came back.
      if (pid !== undefined && pid !== process.pid && processAlive(pid)) {
        throw new Error(`another rvisor daemon (pid ${pid}) uses ${dir} (if that process is not rvisor, remove ${lock})`);
      }
      rmSync(lock, { force: true });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  syncDir(dir);
  held.add(lock);
  return () => {
    held.delete(lock);
    // Only our own lock: never one a later owner took over after deciding we were gone.
    if (holder(lock) === process.pid) rmSync(lock, { force: true });
  };
}
