// The host side of the 9p fuzz target: a base directory holding the exported share/ and
// a sibling outside/ the guest must never reach. outside/ holds a file whose content is
// a random secret and a file with a random name: neither may ever appear in a reply. The
// share holds links out (relative, absolute, to the outside file), so escapes are tried
// with real targets behind them.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

/** Names of what the fresh share holds, for the generator to aim at. */
export const SHARE_NAMES = ['d', 'f', 'inner', 'up', 'esc', 'abs', 'file-esc', 'keep', 'outside', 'share'];

export class Sandbox {
  readonly base: string;
  readonly share: string;
  readonly outside: string;
  /** Bytes that exist only in outside/keep and in the name of outside's hidden file. */
  readonly secret: Buffer;
  readonly hiddenName: Buffer;
  private before = '';

  constructor() {
    // tmpfs when there is one: a million inputs rewrite the tree many times, and Tfsync
    // on it costs nothing.
    const parent = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    this.base = mkdtempSync(join(parent, 'rvisor-fuzz9p-'));
    this.share = join(this.base, 'share');
    this.outside = join(this.base, 'outside');
    this.secret = Buffer.from(`SECRET-${randomBytes(12).toString('hex')}`);
    this.hiddenName = Buffer.from(`hidden-${randomBytes(12).toString('hex')}`);
    mkdirSync(this.outside);
    writeFileSync(join(this.outside, 'keep'), this.secret);
    writeFileSync(join(this.outside, this.hiddenName.toString()), 'x');
    mkdirSync(join(this.outside, 'sub'));
    this.rebuild();
    // Listing a directory may update its atime once (relatime); do it before the baseline.
    this.fingerprint();
    this.before = this.fingerprint();
  }

  /** Puts the share back as the first input found it. */
  rebuild(): void {
    unlock(Buffer.from(this.share));
    rmSync(this.share, { recursive: true, force: true });
    mkdirSync(join(this.share, 'd'), { recursive: true });
    writeFileSync(join(this.share, 'f'), 'file');
    writeFileSync(join(this.share, 'd', 'inner'), 'inner');
    symlinkSync('..', join(this.share, 'up'));
    symlinkSync('../outside', join(this.share, 'esc'));
    symlinkSync(this.outside, join(this.share, 'abs'));
    symlinkSync(join(this.outside, 'keep'), join(this.share, 'file-esc'));
  }

  /** Everything observable about the base directory and outside/ without reading file
   *  contents (which would move their atime): names, types, sizes, link counts, times.
   *  A read through an escape moves keep's atime; a write moves its mtime. */
  private fingerprint(): string {
    const lines: string[] = [];
    // Names as bytes (latin1 keeps them apart when shown): a guest that got out could
    // make names that are not UTF-8.
    const slash = Buffer.from('/');
    const list = (dir: Buffer) => readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
    const walk = (dir: Buffer, rel: string, depth: number) => {
      for (const name of list(dir)) {
        const p = Buffer.concat([dir, slash, name]);
        const st = lstatSync(p, { bigint: true });
        const at = `${rel}/${name.toString('latin1')}`;
        lines.push(`${at} mode ${st.mode} ino ${st.ino} nlink ${st.nlink} size ${st.size} times ${st.atimeNs} ${st.mtimeNs} ${st.ctimeNs}`);
        if (st.isDirectory() && depth > 0) walk(p, at, depth - 1);
      }
    };
    // The share is rebuilt between inputs (which moves the base's mtime): only the names
    // and types in the base directory are compared.
    const base = Buffer.from(this.base);
    for (const name of list(base)) {
      const st = lstatSync(Buffer.concat([base, slash, name]), { bigint: true });
      lines.push(`${name.toString('latin1')} type ${st.mode & 0o170000n}`);
    }
    walk(Buffer.from(this.outside), 'outside', 2);
    return lines.join('\n');
  }

  /** Asserts nothing outside the share changed since the sandbox was made. */
  checkOutside(): void {
    assert.equal(this.fingerprint(), this.before, 'something outside the share changed');
  }

  /** Asserts a reply carries nothing only the outside could have given. */
  checkNoLeak(reply: Uint8Array): void {
    const b = Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength);
    assert.equal(b.indexOf(this.secret), -1, 'a reply holds the outside file\'s secret');
    assert.equal(b.indexOf(this.hiddenName), -1, 'a reply names a file of outside/');
  }

  remove(): void {
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Gives back to us every directory the guest chmod'ed shut, so that an unprivileged
 *  fuzzer can remove them. Paths as bytes (the guest's names need not be UTF-8); never
 *  follows a symlink. */
function unlock(dir: Buffer): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir, { encoding: 'buffer' })) unlock(Buffer.concat([dir, Buffer.from('/'), name]));
}
