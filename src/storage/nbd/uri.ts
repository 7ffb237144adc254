// NBD disk addresses in QEMU's URI syntax (docs/interop's nbd URIs, also libnbd's):
//   nbd://HOST[:PORT][/EXPORT]            TCP, port 10809 by default
//   nbd+unix:///EXPORT?socket=PATH        a Unix socket
// An absent export is the server's default export ('').

import { NBD_DEFAULT_PORT } from './protocol.js';

export type NbdAddress =
  | { transport: 'tcp'; host: string; port: number; export: string }
  | { transport: 'unix'; socket: string; export: string };

export function isNbdUri(text: string): boolean {
  return /^nbd(\+unix|\+tcp)?:\/\//.test(text);
}

/** Parses an nbd URI; throws an Error saying what is wrong with it. */
export function parseNbdUri(text: string): NbdAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${text}: not a URI (nbd://HOST[:PORT]/EXPORT or nbd+unix:///EXPORT?socket=PATH)`);
  }
  let name: string;
  try {
    name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  } catch {
    throw new Error(`${text}: the export name is not valid percent-encoding`);
  }
  if (name.includes('\0') || new TextEncoder().encode(name).length > 4096) throw new Error(`${text}: bad export name`);
  if (url.username || url.password || url.hash) throw new Error(`${text}: user, password and fragment are not part of an nbd URI`);
  if (url.protocol === 'nbd:' || url.protocol === 'nbd+tcp:') {
    if (url.search) throw new Error(`${text}: nbd:// takes no query (TLS is not supported)`);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!host) throw new Error(`${text}: needs a host`);
    const port = url.port === '' ? NBD_DEFAULT_PORT : Number(url.port);
    return { transport: 'tcp', host, port, export: name };
  }
  if (url.protocol === 'nbd+unix:') {
    if (url.host) throw new Error(`${text}: nbd+unix:// takes no host (nbd+unix:///EXPORT?socket=PATH)`);
    const keys = [...url.searchParams.keys()];
    const socket = url.searchParams.get('socket');
    if (!socket || keys.length !== 1) throw new Error(`${text}: needs ?socket=PATH and nothing else`);
    return { transport: 'unix', socket, export: name };
  }
  throw new Error(`${text}: unsupported scheme ${url.protocol} (nbd:// or nbd+unix://)`);
}

export function nbdUri(a: NbdAddress): string {
  const name = encodeURIComponent(a.export).replace(/%2F/g, '/');
  if (a.transport === 'unix') return `nbd+unix:///${name}?socket=${encodeURIComponent(a.socket)}`;
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `nbd://${host}${a.port === NBD_DEFAULT_PORT ? '' : `:${a.port}`}/${name}`;
}
