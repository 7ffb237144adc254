// `rvisor nbd serve FILE`: a disk image as an NBD export (qemu-nbd's job), so VMs on
// other hosts, or migrating between them, share one disk.

import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { NbdServer } from '../host/nbd/server.js';
import { DiskError, openDisk, parseFormat } from '../storage/index.js';
import { nbdUri } from '../storage/nbd/uri.js';
import { NBD_DEFAULT_PORT } from '../storage/nbd/protocol.js';
import { UsageError } from './errors.js';

export const NBD_USAGE = `rvisor nbd serve FILE [--export NAME] [-f raw|qcow2] [--read-only]
                [--bind ADDR] [--port N | --socket PATH]
  serves FILE (raw or qcow2, probed when -f is not given) as an NBD export, by default
  as its file name on 127.0.0.1:10809 (an empty export name reaches it too); runs
  until interrupted, flushing the image before it exits`;

export async function nbdCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'serve') throw new UsageError(`nbd ${sub ?? ''}: use serve\n${NBD_USAGE}`);
  const { values, positionals } = parseArgs({
    args: rest, allowPositionals: true, strict: true,
    options: {
      export: { type: 'string', short: 'x' },
      format: { type: 'string', short: 'f' },
      'read-only': { type: 'boolean', short: 'r' },
      bind: { type: 'string', short: 'b' },
      port: { type: 'string', short: 'p' },
      socket: { type: 'string', short: 'k' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(`nbd serve: needs exactly one image file\n${NBD_USAGE}`);
  const file = positionals[0];
  if (values.socket !== undefined && (values.port !== undefined || values.bind !== undefined)) {
    throw new UsageError('nbd serve: --socket or --bind/--port, not both');
  }
  const port = values.port === undefined ? NBD_DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`nbd serve: --port ${values.port}: not 0-65535`);
  const name = values.export ?? basename(file);
  if (new TextEncoder().encode(name).length > 4096 || name.includes('\0')) throw new UsageError('nbd serve: --export: bad name');
  const log = (line: string) => process.stderr.write(`rvisor nbd: ${line}\n`);
  const readOnly = values['read-only'] ?? false;
  let backend;
  try {
    backend = openDisk({ file, format: parseFormat(values.format, file), readOnly, serial: '', warn: log });
  } catch (e) {
    if (e instanceof DiskError) {
      process.stderr.write(`rvisor: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const server = new NbdServer({ exports: [{ name, backend, readOnly }], log });
  let at;
  try {
    at = await server.listen(values.socket !== undefined ? { socket: values.socket } : { host: values.bind ?? '127.0.0.1', port });
  } catch (e) {
    backend.close();
    throw new UsageError(`nbd serve: cannot listen: ${(e as Error).message}`);
  }
  const uri = at.socket !== undefined ? nbdUri({ transport: 'unix', socket: at.socket, export: name })
    : nbdUri({ transport: 'tcp', host: at.host!, port: at.port!, export: name });
  log(`serving ${file} (${backend.size} bytes${readOnly ? ', read-only' : ''}) at ${uri}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  try {
    backend.close();
  } catch (e) {
    log(`closing ${file}: ${(e as Error).message}`);
    return 1;
  }
  return 0;
}
