// `rvisor snapshot ls|rm|save|restore`: the snapshot store on this host, and saving or
// loading a snapshot of a running VM through its QMP socket (as `virsh snapshot-create`
// talks to QEMU), so any rvisor started with --qmp can be snapshotted from outside.
// (`snapshot create|revert`, for the daemon's VMs, are in vm-commands.ts: other verbs,
// so that neither form is told from the other by how many names it has.)

import { connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { parseListenAddress } from '../vmm/address.js';
import { UsageError } from './errors.js';
import { FileSnapshotStore } from '../host/vm/snapshot-store.js';

export const SNAPSHOT_USAGE = `rvisor snapshot ls                         snapshots on this host
rvisor snapshot rm NAME
rvisor snapshot save NAME --qmp ADDR       snapshot a running VM (rvisor run --qmp ADDR)
rvisor snapshot restore NAME --qmp ADDR    load it back into that VM
                                           (or start a new one: rvisor run ... --loadvm NAME)
  (for the daemon's VMs: rvisor snapshot create|revert VM SNAP)`;

export async function snapshotCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { qmp: { type: 'string' } }, strict: true });
  const [sub, name, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  switch (sub) {
    case 'ls':
      for (const s of new FileSnapshotStore().list()) process.stdout.write(`${s.name.padEnd(20)} ${(s.size / 2 ** 20).toFixed(1).padStart(8)} MiB  ${s.created}\n`);
      return 0;
    case 'rm':
      if (!name) throw new UsageError('snapshot rm needs a NAME');
      new FileSnapshotStore().remove(name);
      return 0;
    case 'save':
    case 'restore': {
      if (!name) throw new UsageError(`snapshot ${sub} needs a NAME`);
      if (!values.qmp) throw new UsageError(`snapshot ${sub} needs --qmp ADDR (the running VM's --qmp)`);
      const out = await hmpOverQmp(values.qmp, `${sub === 'save' ? 'savevm' : 'loadvm'} ${name}`);
      if (out.trim()) {
        process.stderr.write(`rvisor: ${out.trim()}\n`);
        return 1;
      }
      return 0;
    }
    default:
      throw new UsageError(`snapshot ${sub ?? ''}: use ls, rm, save or restore`);
  }
}

/** One human-monitor command over QMP; returns its output (empty on success). */
export async function hmpOverQmp(address: string, command: string): Promise<string> {
  const addr = parseListenAddress(address, '--qmp');
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = addr.kind === 'unix' ? connect(addr.path) : connect(addr.port, addr.host);
    s.once('connect', () => resolve(s));
    s.once('error', (e) => reject(new UsageError(`--qmp ${address}: ${e.message}`)));
  });
  try {
    const lines = jsonLines(socket);
    await lines.next(); // greeting
    socket.write(JSON.stringify({ execute: 'qmp_capabilities' }));
    await reply(lines);
    socket.write(JSON.stringify({ execute: 'human-monitor-command', arguments: { 'command-line': command } }));
    const r = await reply(lines);
    if ('error' in r) throw new UsageError(`${command}: ${(r.error as { desc?: string }).desc ?? 'failed'}`);
    return String(r.return ?? '');
  } finally {
    socket.destroy();
  }
}

async function reply(lines: AsyncIterator<Record<string, unknown>>): Promise<Record<string, unknown>> {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new UsageError('the VM closed the QMP connection');
    if (!('event' in value)) return value;
  }
}

async function* jsonLines(socket: Socket): AsyncGenerator<Record<string, unknown>> {
  let buf = '';
  for await (const chunk of socket) {
    buf += String(chunk);
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield JSON.parse(line) as Record<string, unknown>;
    }
  }
}
