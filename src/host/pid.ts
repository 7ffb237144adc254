// Whether a process still exists: for lock and scratch files named after their owner's pid.

/** True if `pid` names a live process (EPERM: it exists but is another user's). A zombie
 *  counts as alive until its parent reaps it. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
