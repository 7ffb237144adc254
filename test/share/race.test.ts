// Races the guest cannot cause but a host process could: the object is swapped in the
// instant between the server's lstat check and its open(). A ShareRoot whose verify()
// performs the swap puts the change exactly there, so each later layer (O_NOFOLLOW, the
// fstat identity check, the realpath check) is shown to catch it on its own.

import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Fid } from '../../src/share/fids.js';
import { ShareRoot } from '../../src/share/paths.js';
import { fidFor } from '../../src/share/session.js';
import { DirectoryShare } from '../../src/share/index.js';
import { Client, O, tempDir } from './client.js';

class RacyRoot extends ShareRoot {
  swap: (() => void) | null = null;
  override verify(f: Fid) {
    const st = super.verify(f);
    const s = this.swap;
    this.swap = null;
    s?.();
    return st;
  }
}

function setup(t: { after(fn: () => void): void }) {
  const base = tempDir(t, 'rvisor-race-');
  const root = join(base, 'share');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'd'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'd', 'f'), 'inside');
  writeFileSync(join(outside, 'f'), 'SECRET');
  const share = new RacyRoot(root);
  const fid = (...path: string[]) => fidFor(path.map((p) => Buffer.from(p)), share.lstat(path.map((p) => Buffer.from(p))), -1);
  return { base, root, outside, share, fid };
}

const code = (fn: () => unknown) => {
  try { fn(); } catch (e) { return (e as { errno?: number; code?: string }).code ?? (e as { errno: number }).errno; }
  return 'no error';
};

test('file replaced by a symlink after the check: O_NOFOLLOW refuses it', (t) => {
  const { root, outside, share, fid } = setup(t);
  const f = fid('d', 'f');
  share.swap = () => { rmSync(join(root, 'd', 'f')); symlinkSync(join(outside, 'f'), join(root, 'd', 'f')); };
  assert.equal(code(() => share.open(f, 0)), 'ELOOP');
});

test('file replaced by another file after the check: fstat identity refuses it', (t) => {
  const { root, share, fid } = setup(t);
  const f = fid('d', 'f');
  share.swap = () => { renameSync(join(root, 'd', 'f'), join(root, 'old')); writeFileSync(join(root, 'd', 'f'), 'other'); };
  assert.equal(code(() => share.open(f, 0)), 116 /* ESTALE */);
});

test('parent replaced by a symlink to the moved directory: realpath check refuses it', (t) => {
  const { root, base, share, fid } = setup(t);
  const f = fid('d', 'f');
  // Same file (same inode) afterwards, but reached through a link to outside the root.
  share.swap = () => { renameSync(join(root, 'd'), join(base, 'away')); symlinkSync(join(base, 'away'), join(root, 'd')); };
  assert.equal(code(() => share.open(f, 0)), 13 /* EACCES */);
});

test('a refused open leaves no fd behind; close() releases every fd', { skip: !existsSync('/proc/self/fd') }, (t) => {
  const { root, share, fid } = setup(t);
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  for (let i = 0; i < 20; i++) {
    const f = fid('d', 'f');
    share.swap = () => { renameSync(join(root, 'd', 'f'), join(root, `old${i}`)); writeFileSync(join(root, 'd', 'f'), 'x'); };
    assert.equal(code(() => share.open(f, 0)), 116);
  }
  assert.equal(fds(), before);
  const ds = new DirectoryShare({ root, tag: 't' });
  const c = new Client(ds);
  c.version();
  c.attach(0);
  for (let i = 0; i < 30; i++) { c.walk(0, i + 1, ['d', 'f']); c.lopen(i + 1, O.RDONLY); }
  assert.equal(fds(), before + 30);
  c.clunk(1);
  assert.equal(fds(), before + 29);
  ds.close();
  assert.equal(fds(), before);
  assert.ok(lstatSync(join(root, 'd', 'f')).isFile());
});
