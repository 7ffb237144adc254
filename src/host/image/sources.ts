// Finding the Debian archive the host already uses, from its apt sources: one-line
// sources.list entries and deb822 .sources stanzas. The mirror is read at run time so
// the project never names one. No Node API here: callers pass the files' text.

export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  options: Record<string, string>;
  /** Which file it came from, for error messages. */
  origin: string;
}

/** `deb [opt=val ...] uri suite component...` lines; deb-src and comments ignored. */
export function parseSourcesList(text: string, origin = 'sources.list'): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.replace(/#.*/, '').trim();
    const type = line.split(/\s+/)[0];
    if (type !== 'deb' && type !== 'deb-src') continue;
    line = line.slice(type.length).trim();
    const options: Record<string, string> = {};
    if (line.startsWith('[')) {
      const end = line.indexOf(']');
      if (end < 0) continue;
      for (const opt of line.slice(1, end).trim().split(/\s+/).filter(Boolean)) {
        const eq = opt.indexOf('=');
        if (eq > 0) options[opt.slice(0, eq).toLowerCase()] = opt.slice(eq + 1);
      }
      line = line.slice(end + 1).trim();
    }
    const [uri, suite, ...components] = line.split(/\s+/);
    if (!uri || !suite) continue;
    out.push({ types: [type], uris: [uri], suites: [suite], components, options, origin });
  }
  return out;
}

/** deb822 stanzas (`Types:`, `URIs:`, `Suites:`, `Components:`, ...); `Enabled: no` ones are dropped. */
export function parseDeb822Sources(text: string, origin = 'debian.sources'): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of stanzas(text)) {
    if ((stanza.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const list = (key: string) => (stanza.get(key) ?? '').split(/\s+/).filter(Boolean);
    const options: Record<string, string> = {};
    for (const [key, value] of stanza) {
      if (!['types', 'uris', 'suites', 'components', 'enabled'].includes(key)) options[key] = value.trim();
    }
    const source = { types: list('types'), uris: list('uris'), suites: list('suites'), components: list('components'), options, origin };
    if (source.types.length && source.uris.length && source.suites.length) out.push(source);
  }
  return out;
}

function stanzas(text: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let lastKey = '';
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#')) continue;
    if (!raw.trim()) {
      if (current.size) out.push(current);
      current = new Map();
      lastKey = '';
      continue;
    }
    if (/^\s/.test(raw)) {
      // A continuation line (multi-line Signed-By keys, long URI lists).
      if (lastKey) current.set(lastKey, current.get(lastKey) + '\n' + raw.trim());
      continue;
    }
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    lastKey = raw.slice(0, colon).trim().toLowerCase();
    current.set(lastKey, raw.slice(colon + 1).trim());
  }
  if (current.size) out.push(current);
  return out;
}

// Debian's release names, past and announced, and its aliases. A suite outside this list
// (a third-party repo's "nodistro", "cloud-sdk-bookworm", an Ubuntu "noble") is not the
// Debian archive; nor are -security, -updates, -backports (other archives or partial).
const DEBIAN_SUITES = new Set([
  'buzz', 'rex', 'bo', 'hamm', 'slink', 'potato', 'woody', 'sarge', 'etch', 'lenny', 'squeeze',
  'wheezy', 'jessie', 'stretch', 'buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'duke',
  'sid', 'unstable', 'testing', 'stable', 'oldstable', 'oldoldstable', 'experimental',
]);

/**
 * The URI of the host's Debian archive: the first `deb` entry (in apt's reading order)
 * with component main serving a Debian release suite over http(s). `hostCodename` (from
 * /etc/os-release) also counts as a Debian suite, for releases newer than this list.
 */
export function pickDebianArchive(sources: readonly AptSource[], hostCodename?: string): string | undefined {
  const suites = new Set(DEBIAN_SUITES);
  if (hostCodename) suites.add(hostCodename);
  for (const s of sources) {
    if (!s.types.includes('deb') || !s.components.includes('main')) continue;
    if (!s.suites.some((suite) => suites.has(suite))) continue;
    const uri = s.uris.find((u) => /^https?:\/\//.test(u));
    if (uri) return uri.replace(/\/+$/, '');
  }
  return undefined;
}
