// The host's own apt-get, pointed at a private configuration and state tree under the
// rvisor cache, so pulls need no root and never touch the host's apt setup.
//
// APT_CONFIG names our apt.conf, which apt reads before anything else; it moves Dir::Etc,
// so the host's apt.conf.d, sources, preferences and trusted keys are never read either
// (a host apt-file or appstream config would otherwise add Contents or DEP-11 downloads
// to our update). Only the host's choices about reaching the archive are carried over:
// its proxies, and whether to check Release dates (a host pinned to an archive snapshot
// turns Check-Valid-Until off, and the same mirror then needs it off for us too).

import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from './errors.js';

export const ARCH = 'riscv64';

export interface AptTree {
  root: string;
  conf: string;
  /** The environment apt runs in (PATH finds apt-get; http_proxy and the like pass through). */
  env: NodeJS.ProcessEnv;
}

export interface AptSetup {
  mirror: string;
  suite: string;
  keyring: string;
}

export async function prepareApt(root: string, setup: AptSetup, env: NodeJS.ProcessEnv = process.env): Promise<AptTree> {
  for (const dir of ['etc/apt.conf.d', 'etc/sources.list.d', 'etc/preferences.d', 'etc/trusted.gpg.d', 'state/lists/partial', 'cache/archives/partial', 'log']) {
    await mkdir(join(root, dir), { recursive: true });
  }
  await writeFile(join(root, 'state/status'), '');
  const conf = join(root, 'apt.conf');
  await writeFile(conf, aptConf(root, env));
  await writeFile(join(root, 'etc/sources.list'), `deb [arch=${ARCH} signed-by=${setup.keyring}] ${setup.mirror} ${setup.suite} main\n`);
  return { root, conf, env };
}

function aptConf(root: string, env: NodeJS.ProcessEnv): string {
  const q = (s: string) => {
    if (/["\n]/.test(s)) throw new ImageError(`cannot use ${JSON.stringify(s)} in an apt configuration`);
    return `"${s}"`;
  };
  const lines = [
    `Dir ${q('/')};`,
    `Dir::Etc ${q(join(root, 'etc'))};`,
    `Dir::State ${q(join(root, 'state'))};`,
    `Dir::State::status ${q(join(root, 'state/status'))};`,
    `Dir::Cache ${q(join(root, 'cache'))};`,
    `Dir::Log ${q(join(root, 'log'))};`,
    `APT::Architecture ${q(ARCH)};`,
    `APT::Architectures { ${q(ARCH)}; };`,
    `Acquire::Languages ${q('none')};`,
    // Keep the Packages index as downloaded (22 MB, not 60) and skip apt's binary caches
    // (another 90 MB): a pull makes only a handful of apt calls.
    `Acquire::GzipIndexes ${q('true')};`,
    `Dir::Cache::pkgcache ${q('')};`,
    `Dir::Cache::srcpkgcache ${q('')};`,
    // A failed index download must fail the update, not leave yesterday's lists in use.
    `APT::Update::Error-Mode ${q('any')};`,
  ];
  // As root, apt downloads as the _apt user, who cannot enter a private ~/.cache.
  if (process.getuid?.() === 0) lines.push(`APT::Sandbox::User ${q('root')};`);
  for (const [key, value] of Object.entries(hostAcquireSettings(env))) lines.push(`${key} ${q(value)};`);
  return lines.join('\n') + '\n';
}

const CARRIED_OVER = ['Acquire::http::Proxy', 'Acquire::https::Proxy', 'Acquire::Check-Valid-Until', 'Acquire::Check-Date'];

function hostAcquireSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const keys = CARRIED_OVER;
  const r = spawnSync('apt-config', ['shell', ...keys.flatMap((k, i) => [`P${i}`, k])], { encoding: 'utf8', env });
  const out: Record<string, string> = {};
  if (r.status !== 0) return out;
  for (const line of r.stdout.split('\n')) {
    const m = /^P(\d)='(.*)'$/.exec(line);
    if (m && m[2]) out[keys[Number(m[1])]] = m[2];
  }
  return out;
}

/** The suite is missing from the mirror: the caller may try the fallback suite. */
export class SuiteUnavailable extends ImageError {}

/** A package (or version) is not in the suite: the caller may try the fallback suite. */
export class PackageMissing extends ImageError {}

/** Run apt-get (or apt-cache) in the private tree; stdout lines go to `progress`. */
export async function apt(
  tree: AptTree,
  tool: 'apt-get' | 'apt-cache',
  args: readonly string[],
  opts: { cwd?: string; progress?: (line: string) => void; mirror: string },
): Promise<string> {
  const child = spawn(tool, args, {
    cwd: opts.cwd,
    env: { ...tree.env, APT_CONFIG: tree.conf, LC_ALL: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (!opts.progress) return;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) opts.progress(line);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new ImageError(`${tool} not found: pulling a Debian image needs the host's apt (a Debian or Ubuntu host)`) : e),
    );
    child.on('close', resolve);
  });
  if (status !== 0) throw explain(tool, args, stdout + stderr, opts.mirror);
  return stdout;
}

// apt's output, turned into one line saying what went wrong and what to do.
function explain(tool: string, args: readonly string[], output: string, mirror: string): ImageError {
  const has = (re: RegExp) => re.test(output);
  if (has(/Could not resolve|Temporary failure resolving|Could not connect|Connection failed|Connection timed out|Network is unreachable|No route to host|Unable to connect/)) {
    return new ImageError(`cannot reach the Debian mirror ${mirror} (no network?); set RVISOR_DEBIAN_MIRROR to use another`);
  }
  if (has(/NO_PUBKEY|EXPKEYSIG|signatures couldn't be verified|is not signed/)) {
    return new ImageError(
      `the Debian archive signature does not verify with the host's keyring: update the debian-archive-keyring package or set RVISOR_DEBIAN_KEYRING`,
    );
  }
  if (has(/does not have a Release file|404\s+Not Found/)) {
    return new SuiteUnavailable('no Release file');
  }
  if (has(/No packages found|Unable to locate package|Can't select (any )?versions?|Version '.*' for '.*' was not found/)) {
    return new PackageMissing(`package not found: ${args.slice(1).filter((a) => !a.startsWith('-')).join(', ')}`);
  }
  return new ImageError(`${tool} ${args[0] ?? ''} failed: ${lastError(output) ?? 'see the output above'}`);
}

function lastError(output: string): string | undefined {
  const lines = output.split('\n').filter((l) => /^(E|W|N): /.test(l));
  return lines.at(-1)?.slice(3);
}
