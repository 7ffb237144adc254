// The device options of `rvisor run`, in QEMU's spirit: --disk file=PATH[,format=F][,ro],
// --publish [ADDR:]HOSTPORT:GUESTPORT[/udp] and --share HOSTDIR:TAG[,ro]. Parsing only:
// opening files and sockets happens when the VM is built.

import { UsageError } from './errors.js';
import { isNbdUri, parseNbdUri } from '../storage/nbd/uri.js';
import { parseVxlanAddress } from '../host/net/vxlan-link.js';
import { checkIfname } from '../host/net/tap-link.js';

// One definition of each: the VmSpec's (vmm/spec.ts), which the command line becomes.
export type { DiskSpec, NicSpec, PublishSpec, ShareSpec } from '../vmm/spec.js';
import type { DiskSpec, NicSpec, PublishSpec, ShareSpec } from '../vmm/spec.js';

/** Splits on commas; ",," is a literal comma, as in QEMU's option syntax. */
function splitOptions(text: string): string[] {
  return text.split(/(?<!,),(?!,)/).map((p) => p.replace(/,,/g, ','));
}

export function parseDisk(text: string): DiskSpec {
  const parts = splitOptions(text);
  const spec: Partial<DiskSpec> & { readOnly: boolean } = { readOnly: false };
  for (const [i, part] of parts.entries()) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? undefined : part.slice(eq + 1);
    if (i === 0 && (isNbdUri(part) || (eq < 0 && part !== 'ro'))) spec.file = part;
    else if (key === 'file' && value) spec.file = value;
    else if (key === 'format' && (value === 'raw' || value === 'qcow2')) spec.format = value;
    else if (key === 'ro' || key === 'readonly') spec.readOnly = value === undefined || value === 'on' || value === 'true';
    else if (key === 'serial' && value !== undefined && value.length <= 20) spec.serial = value;
    else throw new UsageError(`--disk ${text}: unknown or bad option '${part}' (file=PATH[,format=raw|qcow2][,ro][,serial=ID])`);
  }
  if (!spec.file) throw new UsageError(`--disk ${text}: needs file=PATH`);
  if (isNbdUri(spec.file)) {
    try {
      parseNbdUri(spec.file);
    } catch (e) {
      throw new UsageError(`--disk ${(e as Error).message}`);
    }
    if (spec.format === 'qcow2') throw new UsageError(`--disk ${text}: an NBD export is a raw disk (the server opens the qcow2 image)`);
  }
  return spec as DiskSpec;
}

function port(text: string, what: string, all: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw new UsageError(`--publish ${all}: ${what} port '${text}' is not 1-65535`);
  return n;
}

export function parsePublish(text: string): PublishSpec {
  const m = /^(?:(.+):)?(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(text);
  if (!m) throw new UsageError(`--publish ${text}: expected [ADDRESS:]HOSTPORT:GUESTPORT[/tcp|/udp]`);
  const hostAddress = m[1]?.replace(/^\[(.*)\]$/, '$1') ?? '127.0.0.1';
  return { proto: (m[4] as 'tcp' | 'udp' | undefined) ?? 'tcp', hostAddress, hostPort: port(m[2], 'host', text), guestPort: port(m[3], 'guest', text) };
}

export function parseShare(text: string): ShareSpec {
  const [main, ...opts] = splitOptions(text);
  const colon = main.lastIndexOf(':');
  if (colon <= 0 || colon === main.length - 1) throw new UsageError(`--share ${text}: expected HOSTDIR:TAG[,ro]`);
  const tag = main.slice(colon + 1);
  // The guest sees the tag in the device's config space (at most 65535 bytes) and as a
  // directory name under /mnt.
  if (!/^[\w.-]{1,32}$/.test(tag)) throw new UsageError(`--share ${text}: the tag must be 1-32 letters, digits, '.', '_' or '-'`);
  let readOnly = false;
  for (const o of opts) {
    if (o === 'ro' || o === 'readonly') readOnly = true;
    else throw new UsageError(`--share ${text}: unknown option '${o}'`);
  }
  return { dir: main.slice(0, colon), tag, readOnly };
}

/** Distinct tags and host ports: two shares with one tag or two forwards on one port
 *  would silently shadow each other. */
export function checkUnique(shares: readonly ShareSpec[], publish: readonly PublishSpec[]): void {
  const tags = new Set<string>();
  for (const s of shares) {
    if (tags.has(s.tag)) throw new UsageError(`--share: tag '${s.tag}' is used twice`);
    tags.add(s.tag);
  }
  const ports = new Set<string>();
  for (const p of publish) {
    const key = `${p.proto}:${p.hostAddress}:${p.hostPort}`;
    if (ports.has(key)) throw new UsageError(`--publish: ${p.hostPort}/${p.proto} is published twice`);
    ports.add(key);
  }
}

/** vni=, remote= or local= of a tunnel (--net vxlan, --vxlan) into `to`; false when
 *  `key` is none of them or its value is bad. */
export function takeVxlanOption(to: { vni?: number; remote?: string; local?: string }, key: string, value: string): boolean {
  if (key === 'vni' && /^\d{1,8}$/.test(value) && +value <= 0xffffff) to.vni = +value;
  else if (key === 'remote' && parseVxlanAddress(value, true)) to.remote = value;
  else if (key === 'local' && parseVxlanAddress(value, false)) to.local = value;
  else return false;
  return true;
}

const NET_USAGE = 'user[,mac=M][,capture=FILE], socket,listen=|connect=HOST:PORT|unix:PATH[,mac=M][,capture=FILE], switch=NAME[,vlan=N][,mac=M][,capture=FILE], vxlan,vni=N,remote=IP[:PORT][,local=[IP][:PORT]][,mac=M][,capture=FILE], tap,ifname=NAME[,mac=M][,capture=FILE] or none';

/** --net: the NIC and what its frames go to, in QEMU's words (-netdev user / socket).
 *  Null for none. A socket or switch NIC without a MAC gets a random one. */
export function parseNet(text: string, random: () => number = Math.random): NicSpec | null {
  const [first, ...opts] = splitOptions(text);
  if (first === 'none' && !opts.length) return null;
  const kind = first.startsWith('switch=') ? 'switch' : first;
  if (kind !== 'user' && kind !== 'socket' && kind !== 'switch' && kind !== 'vxlan' && kind !== 'tap') throw new UsageError(`--net ${text}: use ${NET_USAGE}`);
  const nic: NicSpec = { network: kind };
  if (kind === 'switch') {
    nic.switch = first.slice(7);
    if (!/^[a-z0-9][a-z0-9_-]{0,30}$/.test(nic.switch)) throw new UsageError(`--net ${text}: '${nic.switch}' is not a network name`);
  }
  for (const o of opts) {
    const eq = o.indexOf('=');
    const key = eq < 0 ? o : o.slice(0, eq);
    const value = eq < 0 ? '' : o.slice(eq + 1);
    if (key === 'mac' && /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) {
      if (parseInt(value.slice(0, 2), 16) & 1) throw new UsageError(`--net ${text}: ${value} is a multicast address, not a NIC's`);
      nic.mac = value.toLowerCase();
    } else if (key === 'capture' && value) nic.capture = value;
    else if (kind === 'socket' && (key === 'listen' || key === 'connect') && value) nic[key] = value;
    else if (kind === 'switch' && key === 'vlan' && /^\d{1,4}$/.test(value) && +value >= 1 && +value <= 4094) nic.vlan = +value;
    else if (kind === 'vxlan' && takeVxlanOption(nic, key, value)) continue;
    else if (kind === 'tap' && key === 'ifname' && value) {
      const bad = checkIfname(value);
      if (bad) throw new UsageError(`--net ${text}: ${bad}`);
      nic.ifname = value;
    }
    else throw new UsageError(`--net ${text}: unknown or bad option '${o}' (${NET_USAGE})`);
  }
  if (kind === 'socket') {
    if ((nic.listen === undefined) === (nic.connect === undefined)) throw new UsageError(`--net ${text}: a socket needs listen=ADDRESS or connect=ADDRESS`);
    const a = nic.listen ?? nic.connect!;
    if (!/^(unix:.+|(\[[^\]]+\]|[^:]*):\d{1,5})$/.test(a)) throw new UsageError(`--net ${text}: '${a}' is not HOST:PORT or unix:PATH`);
  }
  if (kind === 'vxlan' && (nic.vni === undefined || nic.remote === undefined)) throw new UsageError(`--net ${text}: a vxlan tunnel needs vni=N and remote=IP[:PORT]`);
  if (kind === 'tap' && nic.ifname === undefined) throw new UsageError(`--net ${text}: a tap needs ifname=NAME`);
  // Two guests on one wire or switch must not share QEMU's default address.
  if (kind !== 'user') nic.mac ??= `52:54:00:${[0, 1, 2].map(() => Math.floor(random() * 256).toString(16).padStart(2, '0')).join(':')}`;
  return nic;
}
