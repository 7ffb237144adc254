// Loads the GNU binutils goldens made by scripts/gen-isa-fixtures.sh.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

const DIR = new URL('../../../test/fixtures/isa/', import.meta.url);

export const fixtureText = (name: string): string => readFileSync(new URL(name, DIR), 'utf8');
export const fixtureBytes = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, DIR)));
export const fixtureGzipText = (name: string): string => gunzipSync(readFileSync(new URL(name, DIR))).toString('utf8');

export interface ListingLine {
  addr: bigint;
  word: number;
  /** objdump's text with symbol decorations normalised to our style. */
  text: string;
}

/**
 * objdump decorates targets as "80000010 <sym+0x10>" and adds "# ..." notes
 * about values it tracked across instructions; our single-instruction
 * disassembler prints plain 0x-prefixed targets and no notes.
 */
export function normaliseObjdump(text: string): string {
  return text.replace(/\s+#.*$/, '').replace(/\b([0-9a-f]+) <[^>]*>/, '0x$1');
}

export function readListing(name: string): ListingLine[] {
  return fixtureText(name).trim().split('\n').map((l) => {
    const [addr, enc, ...rest] = l.split('\t');
    return { addr: BigInt('0x' + addr), word: parseInt(enc, 16), text: normaliseObjdump(rest.join('\t')) };
  });
}

/** GNU pads the end of a section to its alignment; only nops or zeros may follow our bytes. */
export function isCodePadding(section: Uint8Array, from: number): boolean {
  let i = from;
  // An odd start is first padded with one zero byte.
  if (i % 2 === 1 && section[i++] !== 0) return false;
  const bytes = section;
  for (; i < bytes.length; i += 2) {
    const h = bytes[i] | ((bytes[i + 1] ?? 0) << 8);
    if (h === 0 || h === 0x0001) continue;
    if (h === 0x0013 && bytes[i + 2] === 0 && bytes[i + 3] === 0) {
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}
