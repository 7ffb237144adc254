// debian-system: a root disk of Debian's own packages, installed by dpkg inside rvisor at
// `image pull`, booted to systemd. Logged in on the serial console through a
// pseudo-terminal (util-linux's `script`) as a person would; a command run on it; what a
// run writes kept on a --root-disk for the next; the same disk booted by QEMU.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { CLI, ensureImage, rvisor } from './support.js';
import { cacheRoot } from '../../src/host/image/store.js';
import { Daemon } from '../host/daemon-fixture.js';

/** The pull installs some 160 packages inside rvisor: tens of minutes on this host. */
const PULL_TIMEOUT_MS = 75 * 60_000;
/** A boot of systemd to the login prompt (some 3.5 min on a quiet 2-core host, more
 *  beside the rest of the suite), and each step after it. */
const BOOT_MS = 10 * 60_000;
const STEP_MS = 2 * 60_000;

const IMAGE_DIR = join(cacheRoot(), 'images', 'debian-system');

function haveImage(): boolean {
  return /^debian-system\s/m.test(spawnSync(process.execPath, [CLI, 'image', 'ls'], { encoding: 'utf8' }).stdout);
}

before(async () => {
  // The debian image first, under the lock the other suites take (its kernel boots the system).
  ensureImage();
  if (haveImage()) return;
  const r = await rvisor(['image', 'pull', 'debian-system'], { timeoutMs: PULL_TIMEOUT_MS });
  assert.equal(r.status, 0, `image pull debian-system failed:\n${r.stderr.slice(-4000)}`);
}, { timeout: PULL_TIMEOUT_MS });

const ESC = String.fromCharCode(27), BEL = String.fromCharCode(7);
/** OSC ... (BEL or ST), DCS ... ST, CSI sequences, and ESC 7 / ESC 8. */
const CONTROLS = new RegExp(`${ESC}\\][^${BEL}${ESC}]*(?:${BEL}|${ESC}\\\\)|${ESC}P[^${ESC}]*${ESC}\\\\|${ESC}\\[[0-9;?:!]*[ -/]*[@-~]|${ESC}[78]`, 'g');

/** A terminal session with rvisor: what it printed, typing, waiting for text. */
function terminal(args: string[]) {
  const command = [process.execPath, CLI, ...args].map((a) => JSON.stringify(a)).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  // Matched against the text without terminal controls: systemd and bash mark prompts and
  // commands with OSC 3008 sequences, agetty queries the terminal (DCS, CSI); and no CRs.
  const text = () => out.replace(CONTROLS, '').replace(/\r/g, '');
  let at = 0;
  return {
    type: (text: string) => child.stdin.write(text),
    /** Waits for `re` after what the last wait matched. */
    waitFor: (re: RegExp, ms = STEP_MS) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; the terminal showed:\n${text().slice(-3000)}`)), ms);
        const check = () => {
          const m = re.exec(text().slice(at));
          if (!m) return;
          clearTimeout(timer);
          child.stdout.off('data', check);
          at += m.index + m[0].length;
          resolve(m);
        };
        child.stdout.on('data', check);
        check();
      }),
    exited: (ms = STEP_MS) =>
      new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`rvisor did not exit; the terminal showed:\n${out.slice(-3000)}`)), ms);
        void closed.then((s) => {
          clearTimeout(timer);
          resolve(s);
        });
      }),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    output: () => out,
  };
}

test('systemd boots to a serial login; root logs in, the system is running, and poweroff ends rvisor with status 0', { timeout: 2 * BOOT_MS + 4 * STEP_MS }, async (t) => {
  const term = terminal(['run', 'debian-system']);
  t.after(() => term.kill());
  // The serial console's prompt: the virtio console (hvc0) has a getty of its own, whose
  // prompt shows on the same terminal, but what is typed goes to ttyS0.
  await term.waitFor(/ ttyS0\n\n?\S+ login: $/m, BOOT_MS);
  term.type('root\r');
  await term.waitFor(/# $/m);
  // --wait: until the boot's jobs are done; it prints running or degraded (with the
  // failed units listed after it, which the assertion shows).
  term.type('systemctl is-system-running --wait; systemctl --failed --no-legend --plain; cat /proc/1/comm; echo done-$((6*7))\r');
  const m = await term.waitFor(/^(\w+)\n((?:.*\n)*?)systemd\ndone-42/m, BOOT_MS);
  assert.equal(m[1], 'running', `systemctl is-system-running said ${m[1]}; failed units:\n${m[2]}`);
  term.type('poweroff\r');
  assert.equal(await term.exited(), 0, term.output().slice(-2000));
});

test('run debian-system -- CMD runs one command on the system disk and exits with its status', { timeout: BOOT_MS }, async () => {
  const r = await rvisor(['run', 'debian-system', '--', 'sh', '-c', "dpkg-query -W -f '${Package}\\n' systemd openssh-server apt; exit 7"]);
  assert.equal(r.status, 7, r.stderr);
  assert.match(r.stdout, /^systemd\r?$/m);
  assert.match(r.stdout, /^openssh-server\r?$/m);
  assert.match(r.stdout, /^apt\r?$/m);
});

test('a --root-disk keeps what one run wrote for the next, and qemu-img finds it clean', { timeout: 3 * BOOT_MS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-sys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const disk = join(dir, 'mine.qcow2');
  const first = await rvisor(['run', 'debian-system', '--root-disk', disk, '--', 'sh', '-c', 'echo kept-$((40+2)) > /root/note']);
  assert.equal(first.status, 0, first.stderr);
  const second = await rvisor(['run', 'debian-system', '--root-disk', disk, '--', 'cat', '/root/note']);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /^kept-42\r?$/m);
  const check = spawnSync('qemu-img', ['check', disk], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  // The image's own disk was only read.
  const base = spawnSync('qemu-img', ['check', join(IMAGE_DIR, 'disk.qcow2')], { encoding: 'utf8' });
  assert.equal(base.status, 0, base.stdout + base.stderr);
});

test('QEMU boots the same disk and kernel to the same login prompt', { timeout: 2 * BOOT_MS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-sys-qemu-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const overlay = join(dir, 'qemu.qcow2');
  const made = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', join(IMAGE_DIR, 'disk.qcow2'), '-F', 'qcow2', overlay], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const qemu = spawn('qemu-system-riscv64', [
    '-M', 'virt', '-m', '512M', '-nographic', '-no-reboot',
    '-kernel', join(IMAGE_DIR, 'kernel'), '-initrd', join(IMAGE_DIR, 'initrd'),
    '-append', 'console=ttyS0 quiet panic=-1 root=/dev/vda',
    '-drive', `file=${overlay},format=qcow2,if=none,id=d0`, '-device', 'virtio-blk-device,drive=d0',
    '-netdev', 'user,id=n0', '-device', 'virtio-net-device,netdev=n0',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => qemu.kill('SIGKILL'));
  let out = '';
  qemu.stdout.on('data', (d) => (out += d));
  qemu.stderr.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`QEMU showed no login prompt:\n${out.slice(-3000)}`)), 2 * BOOT_MS - 10_000);
    const check = () => {
      if (!/Debian GNU\/Linux .*ttyS0/.test(out) || !/login: $/m.test(out)) return;
      clearTimeout(timer);
      resolve();
    };
    qemu.stdout.on('data', check);
  });
});

test("the daemon gives a debian-system VM its own root overlay, which a template's linked clone builds on", { timeout: 120_000 }, async (t) => {
  const daemon = new Daemon();
  t.after(() => daemon.cleanup());
  await daemon.start();
  const made = await daemon.ok<{ id: string }>('POST', '/v1/vms', { spec: { name: 'sys', memory: 512 << 20, boot: { image: 'debian-system' } } });
  await daemon.ok('POST', '/v1/vms/sys/template');
  const clone = await daemon.ok<{ id: string }>('POST', '/v1/vms/sys/clones', { name: 'sys-clone' });
  const chain = spawnSync('qemu-img', ['info', '--backing-chain', '--output=json', join(daemon.state, 'vms', clone.id, 'disk0.qcow2')], { encoding: 'utf8' });
  assert.equal(chain.status, 0, chain.stderr);
  const files = (JSON.parse(chain.stdout) as { filename: string }[]).map((i) => i.filename);
  assert.deepEqual(files, [
    join(daemon.state, 'vms', clone.id, 'disk0.qcow2'),
    join(daemon.state, 'vms', made.id, 'root.qcow2'),
    join(IMAGE_DIR, 'disk.qcow2'),
  ]);
  const spec = (await daemon.ok<{ spec: { boot: { append?: string } } }>('GET', '/v1/vms/sys-clone')).spec;
  assert.match(spec.boot.append ?? '', /(^|\s)root=\/dev\/vda(\s|$)/);
});

test('a system disk that fails its checksum is refused with one line, before anything boots', { timeout: 60_000 }, async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'rvisor-sys-cache-'));
  t.after(() => rmSync(cache, { recursive: true, force: true }));
  const copy = join(cache, 'images', 'debian-system');
  mkdirSync(copy, { recursive: true });
  for (const f of ['kernel', 'initrd', 'manifest.json']) copyFileSync(join(IMAGE_DIR, f), join(copy, f));
  writeFileSync(join(copy, 'disk.qcow2'), 'not the disk that was built');
  const r = await rvisor(['run', 'debian-system', '--', 'true'], { env: { ...process.env, RVISOR_CACHE: cache } });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^rvisor: image debian-system is corrupt \(disk\.qcow2 does not match its checksum\): re-run rvisor image pull debian-system\n$/);
});
