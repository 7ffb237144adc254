// The host programs a pull leans on: dpkg-deb to unpack packages, xz and zstd to
// decompress modules (Node's zlib has neither), and SHA-256 for the manifest.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ImageError } from './errors.js';

/** Unpack a .deb's files into `dir`, as `dpkg -i` would lay them out. */
export async function unpackDeb(deb: string, dir: string): Promise<void> {
  await run('dpkg-deb', ['-x', deb, dir], 'the dpkg package');
}

/** A kernel module's bytes, decompressed if its name says it is compressed. */
export async function readModule(path: string): Promise<Uint8Array> {
  if (path.endsWith('.ko')) return readFile(path);
  if (path.endsWith('.ko.xz')) return run('xz', ['-dc', '--', path], 'xz-utils');
  if (path.endsWith('.ko.zst')) return run('zstd', ['-dcq', '--', path], 'zstd');
  if (path.endsWith('.ko.gz')) return run('gzip', ['-dc', '--', path], 'gzip');
  throw new ImageError(`unknown module compression: ${path}`);
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function run(tool: string, args: string[], pkg: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { encoding: 'buffer', maxBuffer: 1 << 30 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new ImageError(`${tool} not found: install ${pkg} on the host`));
      }
      const why = stderr.toString().trim().split('\n').at(-1) || err.message;
      reject(new ImageError(`${tool} ${args.join(' ')} failed: ${why}`));
    });
  });
}
