// Who may talk to the daemon. On the Unix socket, whoever can open the socket file: it
// is 0600 in a 0700 directory, so only the daemon's user. Over TCP, whoever holds the
// bearer token in the token file.

import { createHash, timingSafeEqual } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { ApiError } from './errors.js';

/** $XDG_RUNTIME_DIR/rvisor/api.sock: per user, on tmpfs, gone at logout. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.XDG_RUNTIME_DIR;
  if (!dir || !isAbsolute(dir)) throw new Error('api: XDG_RUNTIME_DIR is not set (or not absolute): name the socket path');
  return join(dir, 'rvisor', 'api.sock');
}

/** Whether a daemon answers on a socket file: a refused connection means its daemon died. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? resolve(false) : reject(e)));
  });
}

/** Makes way for the socket: a dead daemon's socket file is removed; a live daemon's,
 *  or a file that is not a socket, is left alone and refused. */
async function claim(path: string): Promise<void> {
  const found = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!found) return;
  if (!found.isSocket()) throw new Error(`api: ${path} exists and is not a socket; not replacing it`);
  if (await answers(path)) throw new Error(`api: another daemon is already listening on ${path}`);
  await unlink(path);
}

/** Listens on the Unix socket (default defaultSocketPath()) and returns its path. */
export async function listenUnix(server: Server, requested?: string): Promise<string> {
  const path = requested ?? defaultSocketPath();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // The default directory is the daemon's own, whoever made it; a directory the caller
  // named (it may be shared, like /tmp) is theirs to set.
  if (requested === undefined) await chmod(dirname(path), 0o700);
  await claim(path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Bound under umask 0177 (bind happens inside listen()), the socket is 0600 from its
    // first moment, not for a while after a chmod. Worker threads cannot set the umask.
    const umask = isMainThread ? process.umask(0o177) : undefined;
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  });
  await chmod(path, 0o600);
  return path;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The check for TCP requests, over the token in `file` (read once, at start). */
export async function bearerCheck(file: string, log: (line: string) => void): Promise<(authorization: string | undefined) => void> {
  const token = (await readFile(file, 'utf8')).trim();
  if (token.length < 16) throw new Error(`api: the token in ${file} is too short (at least 16 characters)`);
  if ((await stat(file)).mode & 0o077) log(`api: warning: ${file} can be read by other users (chmod 600 it)`);
  const expected = digest(token);
  return (authorization) => {
    const given = /^Bearer +(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '';
    // Equal-length digests compared in constant time: neither the token nor its length leaks.
    if (!timingSafeEqual(digest(given), expected)) {
      throw new ApiError(401, 'unauthorized', 'a bearer token is needed: Authorization: Bearer <token>', undefined, { 'WWW-Authenticate': 'Bearer' });
    }
  };
}
