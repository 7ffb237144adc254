// Which Debian mirror to pull from: $RVISOR_DEBIAN_MIRROR, else the host's own archive
// entry, read from its apt sources each time (the project never names a mirror).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from './errors.js';
import { type AptSource, parseDeb822Sources, parseSourcesList, pickDebianArchive } from './sources.js';

export interface MirrorLookup {
  env?: NodeJS.ProcessEnv;
  /** The host's apt directory; /etc/apt unless testing. */
  etcApt?: string;
  osRelease?: string;
}

export async function findDebianMirror(opts: MirrorLookup = {}): Promise<{ uri: string; from: string }> {
  const env = opts.env ?? process.env;
  if (env.RVISOR_DEBIAN_MIRROR) return { uri: env.RVISOR_DEBIAN_MIRROR.replace(/\/+$/, ''), from: 'RVISOR_DEBIAN_MIRROR' };
  const etcApt = opts.etcApt ?? '/etc/apt';
  const sources = await hostSources(etcApt);
  const uri = pickDebianArchive(sources, await hostCodename(opts.osRelease ?? '/etc/os-release'));
  if (!uri) {
    throw new ImageError(`found no Debian archive in the host's apt sources (${etcApt}): set RVISOR_DEBIAN_MIRROR to a Debian mirror's URI`);
  }
  return { uri, from: sources.find((s) => s.uris.some((u) => u.replace(/\/+$/, '') === uri))?.origin ?? etcApt };
}

// In apt's own order: sources.list, then sources.list.d/ by file name.
async function hostSources(etcApt: string): Promise<AptSource[]> {
  const out: AptSource[] = [];
  const main = join(etcApt, 'sources.list');
  const text = await readFile(main, 'utf8').catch(() => '');
  out.push(...parseSourcesList(text, main));
  const dir = join(etcApt, 'sources.list.d');
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (name.endsWith('.list')) out.push(...parseSourcesList(await readFile(path, 'utf8').catch(() => ''), path));
    else if (name.endsWith('.sources')) out.push(...parseDeb822Sources(await readFile(path, 'utf8').catch(() => ''), path));
  }
  return out;
}

// Only a Debian host's codename is a Debian suite (Ubuntu's are not).
async function hostCodename(osRelease: string): Promise<string | undefined> {
  const text = await readFile(osRelease, 'utf8').catch(() => '');
  if (!/^ID="?debian"?$/m.test(text)) return undefined;
  return /^VERSION_CODENAME="?([a-z]+)"?$/m.exec(text)?.[1];
}
