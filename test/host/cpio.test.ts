// The newc writer: golden bytes worked out from the format description, then GNU cpio
// reading what we write.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CpioEntry, writeCpio } from '../../src/host/image/cpio.js';

const text = (s: string) => new TextEncoder().encode(s);

const TINY: CpioEntry[] = [
  { kind: 'dir', path: 'd' },
  { kind: 'file', path: 'd/f', data: text('hi\n') },
  { kind: 'symlink', path: 'l', target: 'd/f' },
];

test('a tiny archive matches the golden bytes', () => {
  // magic, then ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
  const golden =
    '070701' + '00000001' + '000041ed' + '00000000' + '00000000' + '00000002' + '00000000' + '00000000' +
    '00000000' + '00000000' + '00000000' + '00000000' + '00000002' + '00000000' + 'd\0' +
    '070701' + '00000002' + '000081a4' + '00000000' + '00000000' + '00000001' + '00000000' + '00000003' +
    '00000000' + '00000000' + '00000000' + '00000000' + '00000004' + '00000000' + 'd/f\0' + '\0\0' + 'hi\n' + '\0' +
    '070701' + '00000003' + '0000a1ff' + '00000000' + '00000000' + '00000001' + '00000000' + '00000003' +
    '00000000' + '00000000' + '00000000' + '00000000' + '00000002' + '00000000' + 'l\0' + 'd/f' + '\0' +
    '070701' + '00000000' + '00000000' + '00000000' + '00000000' + '00000001' + '00000000' + '00000000' +
    '00000000' + '00000000' + '00000000' + '00000000' + '0000000b' + '00000000' + 'TRAILER!!!\0' + '\0\0\0';
  const out = writeCpio(TINY);
  assert.equal(new TextDecoder().decode(out), golden);
  assert.equal(out.length % 4, 0);
});

test('device nodes carry their major and minor; mtime is applied', () => {
  const out = new TextDecoder().decode(writeCpio([{ kind: 'chardev', path: '/dev/console', major: 5, minor: 1 }], { mtime: 0x5f5e100 }));
  assert.equal(out.slice(6 + 8, 6 + 16), '00002180'); // S_IFCHR | 0600
  assert.equal(out.slice(6 + 5 * 8, 6 + 6 * 8), '05f5e100');
  assert.equal(out.slice(6 + 9 * 8, 6 + 11 * 8), '0000000500000001');
  assert.equal(out.slice(110, 122), 'dev/console\0'); // leading '/' dropped
});

test('bad and duplicate paths are refused', () => {
  assert.throws(() => writeCpio([{ kind: 'dir', path: 'a/../b' }]), /bad path/);
  assert.throws(() => writeCpio([{ kind: 'dir', path: '' }]), /bad path/);
  assert.throws(() => writeCpio([{ kind: 'dir', path: 'a' }, { kind: 'dir', path: '/a/' }]), /duplicate/);
});

const hasCpio = spawnSync('cpio', ['--version']).status === 0;

test('GNU cpio lists and extracts what we write', { skip: hasCpio ? false : 'cpio not installed' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-cpio-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const big = new Uint8Array(5001).map((_, i) => (i * 7) & 0xff); // not a multiple of 4
  const archive = writeCpio([
    ...TINY,
    { kind: 'dir', path: 'bin', mode: 0o700 },
    { kind: 'file', path: 'bin/tool', data: big, mode: 0o755 },
    { kind: 'file', path: 'empty', data: new Uint8Array(0) },
    { kind: 'symlink', path: 'bin/sh', target: 'tool' },
  ]);
  writeFileSync(join(dir, 'a.cpio'), archive);

  const list = spawnSync('cpio', ['-it', '--quiet'], { input: archive, encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual(list.stdout.trim().split('\n'), ['d', 'd/f', 'l', 'bin', 'bin/tool', 'empty', 'bin/sh']);

  const out = join(dir, 'x');
  const extract = spawnSync('sh', ['-c', `mkdir ${out} && cd ${out} && cpio -idv --quiet < ../a.cpio`], { encoding: 'utf8' });
  assert.equal(extract.status, 0, extract.stderr);
  assert.equal(readFileSync(join(out, 'd/f'), 'utf8'), 'hi\n');
  assert.deepEqual(new Uint8Array(readFileSync(join(out, 'bin/tool'))), big);
  assert.equal(lstatSync(join(out, 'bin/tool')).mode & 0o777, 0o755);
  assert.equal(lstatSync(join(out, 'bin')).mode & 0o777, 0o700);
  assert.equal(readFileSync(join(out, 'empty')).length, 0);
  assert.equal(readlinkSync(join(out, 'l')), 'd/f');
  assert.equal(readlinkSync(join(out, 'bin/sh')), 'tool');
});
