// Where the daemon keeps its state, and the check that a path it is about to write (a
// VM's disk overlay, the inventory itself) really lies under that directory.

import { lstatSync, readlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { HostError } from './model.js';

/** $RVISOR_STATE, else $XDG_STATE_HOME/rvisor, else ~/.local/state/rvisor (XDG: a
 *  relative XDG_STATE_HOME is invalid and ignored). */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.RVISOR_STATE ?? join(env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : join(homedir(), '.local/state'), 'rvisor');
}

/** Every symlink followed, '..' taken after the link it follows (as the kernel does, not
 *  lexically: `link/..` is the parent of the link's target). Components that do not
 *  exist yet are kept as written, so the path a file is about to be created at can be
 *  checked; a dangling symlink is followed too, since creating through it writes its
 *  target. */
function physical(path: string, depth = 0): string {
  if (depth > 40) throw new HostError(400, 'bad_path', `${path}: too many levels of symbolic links`);
  let at = '/';
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') { at = dirname(at); continue; }
    const next = join(at, part);
    let link = false;
    try {
      link = lstatSync(next).isSymbolicLink();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
    if (!link) { at = next; continue; }
    const target = readlinkSync(next);
    // `at` is already physical, so a relative target resolves against it.
    at = physical(isAbsolute(target) ? target : `${at}/${target}`, depth + 1);
  }
  return at;
}

/**
 * Returns `path` (relative paths are taken from `root`) with its symlinks resolved, or
 * throws a HostError if it lies outside `root`: through '..', an absolute path, or a
 * symlink anywhere along it. `root` itself counts as inside.
 */
export function insideState(root: string, path: string): string {
  const base = physical(isAbsolute(root) ? root : `${process.cwd()}/${root}`);
  const real = physical(isAbsolute(path) ? path : `${base}/${path}`);
  const rel = relative(base, real);
  if (rel === '' || (rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel))) return real;
  const via = real === resolve(base, path) ? '' : ` (it resolves to ${real})`;
  throw new HostError(400, 'outside_state', `${path} is outside the state directory ${base}${via}`);
}
