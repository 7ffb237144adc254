// Every fuzz target: each file in targets/ exports one FuzzTarget as `target`, named after
// the file, so a new target is a new file and nothing else.

import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzTarget } from './harness.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'targets');

export function targetNames(): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
}

export async function loadTarget(name: string): Promise<FuzzTarget> {
  if (!targetNames().includes(name)) throw new Error(`no fuzz target '${name}' (there are: ${targetNames().join(', ')})`);
  const mod = (await import(join(dir, `${name}.js`))) as { target: FuzzTarget };
  if (mod.target?.name !== name) throw new Error(`targets/${name}.js does not export a target named '${name}'`);
  return mod.target;
}
