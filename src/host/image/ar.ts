// The Unix `ar` archive, as a .deb is one (deb(5)): the magic "!<arch>\n", then each
// member as a 60-byte ASCII header (name 16, mtime 12, uid 6, gid 6, mode 8, size 10,
// "`\n") and its data, padded to an even offset with "\n". Debian's members have short
// names (debian-binary, control.tar.xz, data.tar.xz), so neither GNU's nor BSD's long
// name scheme is needed: a longer name is refused rather than misread.
//
// No Node API here, so it can move below the host layer later.

export interface ArMember {
  name: string;
  data: Uint8Array;
}

const MAGIC = '!<arch>\n';
const HEADER = 60;

export class ArError extends Error {
  override name = 'ArError';
}

export function readAr(bytes: Uint8Array): ArMember[] {
  const ascii = (from: number, len: number) => String.fromCharCode(...bytes.subarray(from, from + len));
  if (bytes.length < MAGIC.length || ascii(0, MAGIC.length) !== MAGIC) throw new ArError('not an ar archive');
  const out: ArMember[] = [];
  let at = MAGIC.length;
  while (at < bytes.length) {
    if (at + HEADER > bytes.length) throw new ArError(`truncated member header at byte ${at}`);
    if (ascii(at + 58, 2) !== '`\n') throw new ArError(`bad member header at byte ${at}`);
    // GNU ar ends names with '/', deb(5) allows either.
    const name = ascii(at, 16).trimEnd().replace(/\/$/, '');
    const sizeText = ascii(at + 48, 10).trim();
    if (!/^\d+$/.test(sizeText)) throw new ArError(`bad size ${JSON.stringify(sizeText)} for member ${name}`);
    const size = Number(sizeText);
    const start = at + HEADER;
    if (start + size > bytes.length) throw new ArError(`member ${name} runs past the end of the archive`);
    out.push({ name, data: bytes.subarray(start, start + size) });
    at = start + size + (size & 1);
  }
  return out;
}

/** An archive of `members` with zero times and owners and mode 100644, as dpkg-deb writes. */
export function writeAr(members: readonly ArMember[]): Uint8Array {
  const total = members.reduce((n, m) => n + HEADER + m.data.length + (m.data.length & 1), MAGIC.length);
  const out = new Uint8Array(total);
  const put = (text: string, at: number) => {
    for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  };
  put(MAGIC, 0);
  let at = MAGIC.length;
  for (const m of members) {
    if (m.name.length > 15 || !/^[\x21-\x7e]+$/.test(m.name)) throw new ArError(`member name ${JSON.stringify(m.name)} does not fit an ar header`);
    const field = (value: string, width: number) => value.padEnd(width, ' ');
    put(field(`${m.name}/`, 16) + field('0', 12) + field('0', 6) + field('0', 6) + field('100644', 8) + field(String(m.data.length), 10) + '`\n', at);
    out.set(m.data, at + HEADER);
    at += HEADER + m.data.length;
    if (m.data.length & 1) out[at++] = 0x0a;
  }
  return out;
}
