// The ar container of a .deb: what we write, dpkg-deb reads (the oracle), and what
// dpkg-deb builds, we read; a .deb rewritten with its data.tar uncompressed lists the
// same files; damaged archives are refused with a reason.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ArError, readAr, writeAr } from '../../src/host/image/ar.js';
import { writePlainDeb } from '../../src/host/image/system-packages.js';

const text = (s: string) => new TextEncoder().encode(s);

/** A small .deb built by dpkg-deb itself, with an xz-compressed data.tar. */
function buildDeb(dir: string): string {
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(join(pkg, 'usr/share/doc/hello-rvisor'), { recursive: true });
  writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: hello-rvisor\nVersion: 1.0-1\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n');
  writeFileSync(join(pkg, 'usr/share/doc/hello-rvisor/odd-length'), 'x'.repeat(1001));
  const deb = join(dir, 'hello.deb');
  const r = spawnSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', pkg, deb], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return deb;
}

test("dpkg-deb's archive reads as its three members, and writing them back gives the same bytes", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-ar-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = readFileSync(buildDeb(dir));
  const members = readAr(bytes);
  assert.deepEqual(members.map((m) => m.name), ['debian-binary', 'control.tar.xz', 'data.tar.xz']);
  assert.equal(new TextDecoder().decode(members[0].data), '2.0\n');
  assert.deepEqual(readAr(writeAr(members)).map((m) => [m.name, m.data.length]), members.map((m) => [m.name, m.data.length]));
});

test('a .deb with its data.tar uncompressed is read by dpkg-deb with the same files and fields', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-ar-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const deb = buildDeb(dir);
  const plain = join(dir, 'plain.deb');
  await writePlainDeb(deb, plain);
  assert.deepEqual(readAr(readFileSync(plain)).map((m) => m.name), ['debian-binary', 'control.tar.xz', 'data.tar']);
  const list = (f: string) => spawnSync('dpkg-deb', ['--contents', f], { encoding: 'utf8' });
  assert.equal(list(plain).status, 0, list(plain).stderr);
  assert.equal(list(plain).stdout, list(deb).stdout);
  assert.match(spawnSync('dpkg-deb', ['--field', plain, 'Version'], { encoding: 'utf8' }).stdout, /^1\.0-1$/m);
});

test('damaged archives are refused with a reason', () => {
  assert.throws(() => readAr(text('not an archive')), (e: unknown) => e instanceof ArError && /not an ar archive/.test(e.message));
  const good = writeAr([{ name: 'debian-binary', data: text('2.0\n') }]);
  assert.throws(() => readAr(good.subarray(0, good.length - 2)), /runs past the end/);
  assert.throws(() => readAr(good.subarray(0, 30)), /truncated member header/);
  const bad = good.slice();
  bad[8 + 48] = 0x78; // 'x' in the size field
  assert.throws(() => readAr(bad), /bad size/);
  assert.throws(() => writeAr([{ name: 'a-name-longer-than-fifteen', data: text('') }]), /does not fit/);
});
