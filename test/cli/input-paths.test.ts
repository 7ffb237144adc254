// Every host path `rvisor run` takes (--kernel, --initrd, --bios, --disk, --share) that is
// missing, a directory, not a regular file or unreadable gets one line naming the option
// and the path, status 2, before anything runs (none of these runs needs an image).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'rvisor-paths-'));
chmodSync(dir, 0o755);
const file = join(dir, 'file');
writeFileSync(file, 'x');
const subdir = join(dir, 'subdir');
mkdirSync(subdir);
const missing = join(dir, 'missing');

/** Root reads everything: the unreadable cases then run as nobody, through setpriv. */
const asRoot = process.getuid?.() === 0;
const SETPRIV = '/usr/bin/setpriv';

function rvisor(args: string[], opts: { unprivileged?: boolean } = {}) {
  const [cmd, argv] = opts.unprivileged && asRoot
    ? [SETPRIV, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

function oneLine(r: ReturnType<typeof rvisor>, ...parts: (string | RegExp)[]) {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  for (const p of parts) assert.match(r.stderr, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')) : p);
}

// Given alongside the option under test, so that no run needs the Debian image.
const KERNEL = ['--kernel', file];

test('a directory, a missing file or a device as a kernel, initrd or firmware', () => {
  for (const option of ['--kernel', '--initrd', '--bios']) {
    const rest = option === '--kernel' ? [] : KERNEL;
    oneLine(rvisor(['run', ...rest, option, subdir]), `rvisor: ${option} ${subdir}: is a directory`);
    oneLine(rvisor(['run', ...rest, option, missing]), `rvisor: ${option} ${missing}: no such file or directory`);
    oneLine(rvisor(['run', ...rest, option, '/dev/zero']), `rvisor: ${option} /dev/zero: not a regular file`);
    oneLine(rvisor(['run', ...rest, option, join(file, 'x')]), `${option} ${join(file, 'x')}: a component of the path is not a directory`);
  }
  const empty = join(dir, 'empty');
  writeFileSync(empty, '');
  oneLine(rvisor(['run', '--kernel', empty]), `rvisor: --kernel ${empty}: the file is empty`);
  oneLine(rvisor(['run', ...KERNEL, '--bios', empty]), `rvisor: --bios ${empty}: the file is empty`);
  // The bare-metal board reads its program the same way.
  oneLine(rvisor(['run', '--bios', 'none', '--kernel', subdir]), `rvisor: --kernel ${subdir}: is a directory`);
});

test('a disk that is a directory or missing, a share that is a file or missing', () => {
  oneLine(rvisor(['run', ...KERNEL, '--disk', `file=${subdir}`]), `rvisor: --disk ${subdir}: is a directory`);
  oneLine(rvisor(['run', ...KERNEL, '--disk', `file=${missing},ro`]), `rvisor: --disk ${missing}: no such file or directory`);
  oneLine(rvisor(['run', ...KERNEL, '--share', `${file}:tag`]), `rvisor: --share ${file}: not a directory`);
  oneLine(rvisor(['run', ...KERNEL, '--share', `${missing}:tag`]), `rvisor: --share ${missing}: no such file or directory`);
});

test('unreadable files and directories, and a disk that is not writable', { skip: asRoot && !existsSync(SETPRIV) && 'running as root without setpriv' }, () => {
  const secret = join(dir, 'secret');
  writeFileSync(secret, 'x');
  chmodSync(secret, 0o000);
  const locked = join(dir, 'locked');
  mkdirSync(locked, { mode: 0o000 });
  const readOnly = join(dir, 'read-only.img');
  writeFileSync(readOnly, Buffer.alloc(4096));
  chmodSync(readOnly, 0o444);
  chmodSync(file, 0o644);
  const unprivileged = true;
  for (const option of ['--kernel', '--initrd', '--bios']) {
    const rest = option === '--kernel' ? [] : KERNEL;
    oneLine(rvisor(['run', ...rest, option, secret], { unprivileged }), `rvisor: ${option} ${secret}: permission denied`);
  }
  oneLine(rvisor(['run', ...KERNEL, '--disk', `file=${secret},ro`], { unprivileged }), `rvisor: --disk ${secret}: permission denied`);
  oneLine(rvisor(['run', ...KERNEL, '--disk', `file=${readOnly}`], { unprivileged }), `rvisor: --disk ${readOnly}: not writable (add ,ro`);
  oneLine(rvisor(['run', ...KERNEL, '--share', `${locked}:tag`], { unprivileged }), `rvisor: --share ${locked}: permission denied`);
});
