// Kernel module bookkeeping for the initramfs: module names, modules.dep, the dependency
// closure in load order, and the `depends=` list a .ko carries in its .modinfo section.
// No Node API here.

/** The kernel's name for a module file: basename without .ko[.xz|.zst|.gz], '-' → '_'. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/**
 * modules.dep maps each module path to the paths it needs ("kernel/fs/ext4/ext4.ko.xz:
 * kernel/fs/jbd2/jbd2.ko.xz ..."). Returns module name → dependency names, plus each
 * name's path.
 */
export function parseModulesDep(text: string): { deps: Map<string, string[]>; paths: Map<string, string> } {
  const deps = new Map<string, string[]>();
  const paths = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const name = moduleName(path);
    paths.set(name, path);
    deps.set(name, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName));
  }
  return { deps, paths };
}

/**
 * Every module `wanted` needs, dependencies before their users (the order insmod must
 * load them in). `depsOf` answers for one module; names in `builtin` are skipped.
 */
export function dependencyClosure(
  wanted: readonly string[],
  depsOf: (name: string) => readonly string[],
  builtin: ReadonlySet<string> = new Set(),
): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]) => {
    if (builtin.has(name) || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`module dependency cycle: ${[...chain, name].join(' → ')}`);
    state.set(name, 'visiting');
    for (const dep of depsOf(name)) visit(moduleName(dep), [...chain, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of wanted) visit(moduleName(name), []);
  return order;
}

/**
 * modules.dep text for `names`, as depmod writes it: each module's whole dependency
 * closure, in reverse load order (modprobe loads the list from the end), with paths as
 * they are inside the image.
 */
export function formatModulesDep(
  names: readonly string[],
  depsOf: (name: string) => readonly string[],
  pathOf: (name: string) => string,
  builtin: ReadonlySet<string> = new Set(),
): string {
  return names
    .map((name) => {
      const needs = dependencyClosure([name], depsOf, builtin).slice(0, -1).reverse();
      return `${pathOf(name)}:${needs.map((d) => ' ' + pathOf(d)).join('')}\n`;
    })
    .join('');
}

/**
 * The `depends=` entry of an (uncompressed) module's .modinfo section: modpost's list of
 * the modules it takes symbols from — the same edges depmod would compute, available
 * without running depmod (Debian's package ships no modules.dep; depmod writes it at
 * install time).
 */
export function modinfoDepends(ko: Uint8Array): string[] {
  for (const entry of modinfo(ko)) {
    if (entry.startsWith('depends=')) return entry.slice('depends='.length).split(',').filter(Boolean);
  }
  return [];
}

function modinfo(ko: Uint8Array): string[] {
  const view = new DataView(ko.buffer, ko.byteOffset, ko.byteLength);
  const bad = (why: string) => new Error(`not a 64-bit little-endian ELF module: ${why}`);
  if (ko.length < 64 || view.getUint32(0) !== 0x7f454c46) throw bad('no ELF magic');
  if (ko[4] !== 2 || ko[5] !== 1) throw bad('not ELFCLASS64/ELFDATA2LSB');
  const shoff = Number(view.getBigUint64(0x28, true));
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  const shstrndx = view.getUint16(0x3e, true);
  if (shentsize < 64 || shoff + shnum * shentsize > ko.length || shstrndx >= shnum) throw bad('bad section table');
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: view.getUint32(at, true),
      offset: Number(view.getBigUint64(at + 0x18, true)),
      size: Number(view.getBigUint64(at + 0x20, true)),
    };
  };
  const strtab = section(shstrndx);
  const decoder = new TextDecoder();
  const cstring = (at: number) => {
    let end = at;
    while (end < ko.length && ko[end] !== 0) end++;
    return decoder.decode(ko.subarray(at, end));
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (cstring(strtab.offset + s.name) !== '.modinfo') continue;
    if (s.offset + s.size > ko.length) throw bad('.modinfo outside the file');
    return decoder.decode(ko.subarray(s.offset, s.offset + s.size)).split('\0').filter(Boolean);
  }
  return [];
}
