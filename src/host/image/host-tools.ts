// The host programs a pull leans on: dpkg-deb to unpack packages, xz and zstd to
// decompress modules and data.tar members (Node's zlib has neither), mke2fs for a system
// image's filesystem, and SHA-256 for the manifest.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ImageError } from './errors.js';

/** Unpack a .deb's files into `dir`, as `dpkg -i` would lay them out. */
export async function unpackDeb(deb: string, dir: string): Promise<void> {
  await runTool('dpkg-deb', ['-x', deb, dir], 'the dpkg package');
}

/** A kernel module's bytes, decompressed if its name says it is compressed. */
export async function readModule(path: string): Promise<Uint8Array> {
  if (path.endsWith('.ko')) return readFile(path);
  if (path.endsWith('.ko.xz')) return runTool('xz', ['-dc', '--', path], 'xz-utils');
  if (path.endsWith('.ko.zst')) return runTool('zstd', ['-dcq', '--', path], 'zstd');
  if (path.endsWith('.ko.gz')) return runTool('gzip', ['-dc', '--', path], 'gzip');
  throw new ImageError(`unknown module compression: ${path}`);
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Run a host tool with `input` on its stdin; its stdout, or an ImageError naming the package to install. */
export function runTool(tool: string, args: string[], pkg: string, input?: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => chunks.push(c));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new ImageError(`${tool} not found: install ${pkg} on the host`) : e));
    child.on('close', (status) => {
      if (status === 0) resolve(Buffer.concat(chunks));
      else reject(new ImageError(`${tool} ${args.join(' ')} failed: ${stderr.trim().split('\n').at(-1) || `status ${status}`}`));
    });
    if (child.stdin) {
      child.stdin.on('error', () => { /* the close handler reports it */ });
      child.stdin.end(input);
    }
  });
}
