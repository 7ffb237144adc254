// Listening addresses for the monitors, in QEMU's option syntax:
//   --qmp unix:/run/vm.sock | --qmp tcp:HOST:PORT | --qmp tcp::PORT
//   --gdb tcp::1234 | --gdb :1234 | --gdb 1234 | --gdb unix:PATH
// A TCP address without a host listens on 127.0.0.1 only: a monitor can read and write
// all guest memory, so exposing it beyond the machine must be asked for explicitly.

import { lstatSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:net';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export class AddressError extends Error {}

function tcp(hostPort: string, what: string): ListenAddress {
  // The port is after the last ':' so that bracketed IPv6 hosts ([::1]:4444) work.
  const colon = hostPort.lastIndexOf(':');
  const hostPart = colon < 0 ? '' : hostPort.slice(0, colon);
  const portText = colon < 0 ? hostPort : hostPort.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new AddressError(`${what}: '${portText}' is not a port number`);
  const host = hostPart.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return { kind: 'tcp', host, port };
}

/** Parses QEMU's chardev-style socket address (`unix:PATH`, `tcp:HOST:PORT`), ignoring
 *  the `,server=on,wait=off` style suffixes QEMU users habitually add. */
export function parseListenAddress(text: string, what = 'address'): ListenAddress {
  const spec = text.split(',')[0];
  if (spec.startsWith('unix:')) {
    const path = spec.slice(5);
    if (!path) throw new AddressError(`${what}: unix: needs a path`);
    return { kind: 'unix', path };
  }
  if (spec.startsWith('tcp:')) return tcp(spec.slice(4), what);
  throw new AddressError(`${what}: '${text}': use unix:PATH or tcp:[HOST]:PORT`);
}

/** `--gdb` also accepts a bare `:PORT` or `PORT` as gdb users write it (and -s's 1234). */
export function parseGdbAddress(text: string): ListenAddress {
  if (/^:?\d+$/.test(text)) return tcp(text.replace(/^:/, ''), '--gdb');
  return parseListenAddress(text, '--gdb');
}

/** Starts `server` on the address; resolves once it listens (rejects on EADDRINUSE etc.). */
export function listen(server: Server, addr: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => reject(e);
    server.once('error', fail);
    const done = () => {
      server.off('error', fail);
      resolve();
    };
    if (addr.kind === 'unix') {
      // A socket left by a VMM that died is replaced, as QEMU does; other files are not.
      try {
        if (lstatSync(addr.path).isSocket()) unlinkSync(addr.path);
      } catch {
        // Nothing there.
      }
      server.listen(addr.path, done);
    }
    else server.listen(addr.port, addr.host, done);
  });
}

export function describeAddress(addr: ListenAddress): string {
  return addr.kind === 'unix' ? `unix:${addr.path}` : `tcp:${addr.host}:${addr.port}`;
}
