// The initramfs's file list: busybox and its applet links, the kernel modules with a
// modules.dep, device nodes the kernel needs before devtmpfs, and our /init.
// No Node API here; the caller writes it with writeCpio and compresses it.

import type { CpioEntry } from './cpio.js';
import { initScript } from './init-script.js';

export interface InitramfsParts {
  kernelVersion: string;
  busybox: Uint8Array;
  applets: readonly string[];
  /** Uncompressed modules in load order; `path` is relative to /lib/modules/<version>/. */
  modules: readonly { path: string; data: Uint8Array }[];
  modulesDep: string;
}

export function initramfsEntries(p: InitramfsParts): CpioEntry[] {
  const modDir = `lib/modules/${p.kernelVersion}`;
  const files: CpioEntry[] = [
    { kind: 'file', path: 'bin/busybox', data: p.busybox, mode: 0o755 },
    ...p.applets.filter((a) => a !== 'busybox').map((a): CpioEntry => ({ kind: 'symlink', path: `bin/${a}`, target: 'busybox' })),
    // One bin directory behind the usual names: scripts may say /sbin/x or /usr/bin/x.
    { kind: 'symlink', path: 'sbin', target: 'bin' },
    { kind: 'symlink', path: 'usr/bin', target: '../bin' },
    { kind: 'symlink', path: 'usr/sbin', target: '../bin' },
    // The kernel opens /dev/console for init's stdio before /init can mount devtmpfs.
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1, mode: 0o600 },
    { kind: 'dir', path: 'proc' },
    { kind: 'dir', path: 'sys' },
    { kind: 'dir', path: 'root', mode: 0o700 },
    { kind: 'dir', path: 'tmp', mode: 0o1777 },
    { kind: 'dir', path: 'mnt' },
    { kind: 'dir', path: 'etc' },
    { kind: 'file', path: 'etc/passwd', data: text('root:x:0:0:root:/root:/bin/sh\n') },
    { kind: 'file', path: 'etc/group', data: text('root:x:0:\n') },
    ...p.modules.map((m): CpioEntry => ({ kind: 'file', path: `${modDir}/${m.path}`, data: m.data })),
    { kind: 'file', path: `${modDir}/modules.dep`, data: text(p.modulesDep) },
    { kind: 'file', path: 'init', data: text(initScript({ modules: p.modules.map((m) => `/${modDir}/${m.path}`) })), mode: 0o755 },
  ];
  return withParentDirs(files);
}

// cpio needs each directory as an entry before anything inside it.
function withParentDirs(entries: readonly CpioEntry[]): CpioEntry[] {
  const out: CpioEntry[] = [];
  const have = new Set(entries.filter((e) => e.kind === 'dir').map((e) => e.path));
  const added = new Set<string>();
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!added.has(dir) && !have.has(dir)) {
        added.add(dir);
        out.push({ kind: 'dir', path: dir });
      }
    }
    out.push(e);
  }
  return out;
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
