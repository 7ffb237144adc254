// `rvisor serve`: the host daemon. Its inventory lives under the state directory
// ($RVISOR_STATE), its API on a Unix socket (and, with a token, on TCP); every VM runs in
// its own worker thread. SIGTERM or SIGINT stops the VMs and exits; after a kill -9 the
// next daemon finds every VM it knew, stopped.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startApi } from '../host/api/server.js';
import { Host } from '../host/daemon/host.js';
import { Inventory } from '../host/daemon/inventory.js';
import { Networks } from '../host/daemon/networks.js';
import { stateRoot } from '../host/daemon/paths.js';
import { UsageError } from './errors.js';

export const SERVE_USAGE = `rvisor serve [--socket PATH] [--listen HOST:PORT --token-file FILE] [--cpus N]
                                 the host daemon (API on $XDG_RUNTIME_DIR/rvisor/api.sock)`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: { 'socket': { type: 'string' }, 'listen': { type: 'string' }, 'token-file': { type: 'string' }, 'cpus': { type: 'string' } },
  });
  if (positionals.length) throw new UsageError(`serve: unexpected argument '${positionals[0]}'`);
  let listen: { host: string; port: number } | undefined;
  if (values.listen !== undefined) {
    const m = /^(.+):(\d{1,5})$/.exec(values.listen);
    if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen ${values.listen}: expected HOST:PORT`);
    listen = { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
    if (values['token-file'] === undefined) throw new UsageError('--listen needs --token-file: TCP clients must send a bearer token');
  }
  const cpus = values.cpus === undefined ? undefined : Number(values.cpus);
  if (cpus !== undefined && !(cpus > 0 && cpus <= 1024)) throw new UsageError(`--cpus ${values.cpus}: a number of host cores, more than 0`);
  const log = (line: string) => process.stderr.write(`rvisor serve: ${line}\n`);
  const root = stateRoot();
  const inventory = Inventory.open(join(root, 'vms'), { root, warn: log });
  let networks: Networks;
  try {
    networks = await Networks.open(join(root, 'networks'), log);
  } catch (e) {
    inventory.close();
    throw new UsageError(`serve: ${(e as Error).message}`);
  }
  // Guests migrating in over TCP arrive where the API listens on TCP.
  const host = new Host({ inventory, networks, stateDir: root, version: version(), testHooks: process.env.RVISOR_TEST_HOOKS === '1', cpus, log, migrationHost: listen?.host });
  let api;
  try {
    api = await startApi(host, { socketPath: values.socket, listen, tokenFile: values['token-file'], log });
  } catch (e) {
    await host.close();
    throw new UsageError(`serve: ${(e as Error).message}`);
  }
  log(`listening on ${api.socketPath}${api.port !== undefined ? ` and ${listen?.host}:${api.port}` : ''}; state in ${root}`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log('stopping');
  await api.close();
  await host.close();
  return 0;
}
