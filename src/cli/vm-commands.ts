// The VM commands (`rvisor create`, `start`, `ps`, `console`...): the host daemon's VMs
// through its REST API, in the habits of docker and virsh. Each takes --host unix:PATH
// (else $RVISOR_HOST, else the daemon's default socket). Commands naming many VMs do
// each, print the name of each one done, and report each refusal without stopping.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import type { CreateRequest, ImageView, MigrationPrediction, MigrationReport, VmActionRequest, VmView } from '../host/daemon/model.js';
import { ApiClient, DaemonError, report, socketPathOf, vmPath } from './api-client.js';
import { parseDuration } from './duration.js';
import { UsageError } from './errors.js';
import { MACHINE_OPTIONS, specFromFlags, splitCommand, withAbsolutePaths } from './run-spec.js';
import { attachConsole } from './vm-console.js';
import { expiredTable, expiry, psTable } from './vm-list.js';

export const VM_USAGE = `rvisor create --name NAME [IMAGE] [OPTIONS] [--owner O] [--label K=V]... [--ttl DURATION]
              [-- CMD ARGS...]     define a VM, stopped (prints its id); OPTIONS are run's
                                   machine and device options (paths are made absolute)
rvisor start|stop|pause|resume|reset|powerdown NAME...
rvisor rm [-f] NAME...                 remove (-f: stop it first if it runs)
rvisor ps [-a] [--idle DURATION] [--label K=V]... [--owner O] [--json]
                                       VMs with a worker (-a: every VM)
rvisor inspect NAME                    the VM as JSON
rvisor console NAME                    its serial console (Ctrl-A X detaches)
rvisor snapshot create|revert NAME SNAP   save a snapshot of the VM, or go back to one
rvisor template NAME                   turn a stopped VM into a template
rvisor clone TEMPLATE NEWNAME [--owner O] [--label K=V]...
rvisor migrate NAME TARGET [--token-file F] [--downtime-limit MS] [--dry-run]
                                       move a running VM, live, to the daemon at TARGET
                                       (unix:PATH or http://HOST:PORT); its writable
                                       disks must be on NBD. --dry-run: only say whether
                                       it would converge, in how long, with what downtime
rvisor gc [--yes]                      list VMs whose TTL has expired; --yes removes them
rvisor images                          the images the daemon has
  --host unix:PATH  the daemon's socket (default: $RVISOR_HOST, else
                    $XDG_RUNTIME_DIR/rvisor/api.sock)
  DURATION is like 90s, 30m, 1h30m or 2d. Exit status: 1 when the daemon refuses
  (no such VM, a state that does not allow it); 2 for a bad request or flag, or
  when no daemon runs.`;

const HOST_OPTION = { host: { type: 'string' } } as const;

/** The command's flags (strict), its names, and the client its --host names. */
function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  const { values, positionals } = parseArgs({ args, options: { ...options, ...HOST_OPTION }, allowPositionals: true, strict: true });
  return { values, positionals, client: new ApiClient(socketPathOf((values as { host?: string }).host)) };
}

/** Names given as an exact count, or a UsageError saying what the command takes. */
function exactly(positionals: string[], what: string, ...names: string[]): string[] {
  if (positionals.length === names.length) return positionals;
  throw new UsageError(names.length ? `${what} takes ${names.join(' ')}` : `${what}: unexpected argument '${positionals[0]}'`);
}

/** `--label K=V` as the API takes it; the daemon checks what keys and values may be. */
function labelsOf(list: string[]): Record<string, string> | undefined {
  if (!list.length) return undefined;
  return Object.fromEntries(list.map((kv) => {
    const at = kv.indexOf('=');
    if (at <= 0) throw new UsageError(`--label ${kv}: expected KEY=VALUE`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  }));
}

async function eachVm(names: string[], what: string, act: (vm: string) => Promise<unknown>): Promise<number> {
  if (!names.length) throw new UsageError(`${what} needs at least one NAME`);
  let status = 0;
  for (const vm of names) {
    try {
      await act(vm);
      process.stdout.write(`${vm}\n`);
    } catch (e) {
      if (!(e instanceof DaemonError)) throw e;
      status = Math.max(status, report(e));
    }
  }
  return status;
}

const json = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

async function create(args: string[]): Promise<number> {
  const { flags, command } = splitCommand(args);
  const { values: v, positionals, client } = parse(flags, {
    ...MACHINE_OPTIONS, name: { type: 'string' }, owner: { type: 'string' }, label: { type: 'string', multiple: true, default: [] as string[] }, ttl: { type: 'string' },
  });
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  if (v.bios === 'none') throw new UsageError('--bios none (bare metal) is for rvisor run only: the daemon runs virt boards');
  const req: CreateRequest = {
    spec: withAbsolutePaths(specFromFlags(v, positionals[0], command, v.name)),
    // Fields left undefined are left out of the JSON: the daemon's defaults apply.
    owner: v.owner,
    labels: labelsOf(v.label),
    ttlSeconds: v.ttl === undefined ? undefined : parseDuration(v.ttl, '--ttl'),
  };
  process.stdout.write(`${((await client.call('POST', '/v1/vms', req)) as VmView).id}\n`);
  return 0;
}

function action(type: Exclude<VmActionRequest, { name: string }>['type']) {
  return async (args: string[]) => {
    const { positionals, client } = parse(args, {});
    return eachVm(positionals, type, (vm) => client.call('POST', vmPath(vm, '/actions'), { type }));
  };
}

async function rm(args: string[]): Promise<number> {
  const { values, positionals, client } = parse(args, { force: { type: 'boolean', short: 'f' } });
  return eachVm(positionals, 'rm', (vm) => client.call('DELETE', vmPath(vm, values.force ? '?force=true' : '')));
}

async function ps(args: string[]): Promise<number> {
  const { values: v, positionals, client } = parse(args, {
    all: { type: 'boolean', short: 'a' }, idle: { type: 'string' }, label: { type: 'string', multiple: true, default: [] as string[] },
    owner: { type: 'string' }, json: { type: 'boolean' },
  });
  exactly(positionals, 'ps');
  const query = new URLSearchParams();
  if (v.all) query.set('all', 'true');
  if (v.owner !== undefined) query.set('owner', v.owner);
  for (const [k, value] of Object.entries(labelsOf(v.label) ?? {})) query.append('label', `${k}=${value}`);
  if (v.idle !== undefined) query.set('idle', String(parseDuration(v.idle, '--idle')));
  const q = String(query);
  const vms = (await client.call('GET', `/v1/vms${q ? `?${q}` : ''}`)) as VmView[];
  if (v.json) json(vms);
  else process.stdout.write(psTable(vms));
  return 0;
}

async function inspect(args: string[]): Promise<number> {
  const { positionals, client } = parse(args, {});
  const [vm] = exactly(positionals, 'inspect', 'NAME');
  json(await client.call('GET', vmPath(vm)));
  return 0;
}

async function consoleCmd(args: string[]): Promise<number> {
  const { positionals, client } = parse(args, {});
  const [vm] = exactly(positionals, 'console', 'NAME');
  return attachConsole(client, vm);
}

/** `snapshot create|revert VM SNAP`; the other `snapshot` forms are QMP's (snapshot-cmd.ts). */
export async function daemonSnapshot(args: string[]): Promise<number> {
  const { positionals, client } = parse(args, {});
  const [sub, vm, name] = exactly(positionals, 'snapshot create|revert', 'create|revert', 'NAME', 'SNAP');
  await client.call('POST', vmPath(vm, '/actions'), { type: sub === 'create' ? 'snapshot' : 'restore', name });
  process.stdout.write(`${name}\n`);
  return 0;
}

async function template(args: string[]): Promise<number> {
  const { positionals, client } = parse(args, {});
  return eachVm(positionals, 'template', (vm) => client.call('POST', vmPath(vm, '/template')));
}

async function clone(args: string[]): Promise<number> {
  const { values: v, positionals, client } = parse(args, { owner: { type: 'string' }, label: { type: 'string', multiple: true, default: [] as string[] } });
  const [source, name] = exactly(positionals, 'clone', 'TEMPLATE', 'NEWNAME');
  const req = { name, owner: v.owner, labels: labelsOf(v.label) };
  process.stdout.write(`${((await client.call('POST', vmPath(source, '/clones'), req)) as VmView).id}\n`);
  return 0;
}

/** Live migration to another daemon, as `virsh migrate --live` does: the daemon here
 *  drives it and answers once the VM runs there. */
async function migrate(args: string[]): Promise<number> {
  const { values: v, positionals, client } = parse(args, { 'token-file': { type: 'string' }, 'downtime-limit': { type: 'string' }, 'dry-run': { type: 'boolean' } });
  const [vm, target] = exactly(positionals, 'migrate', 'NAME', 'TARGET');
  let token: string | undefined;
  if (v['token-file'] !== undefined) {
    try {
      token = readFileSync(v['token-file'], 'utf8').trim();
    } catch (e) {
      throw new UsageError(`--token-file ${v['token-file']}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const limit = v['downtime-limit'];
  if (limit !== undefined && !/^[1-9]\d{0,6}$/.test(limit)) throw new UsageError(`--downtime-limit ${limit}: expected milliseconds (1 to 9999999)`);
  const req = { target, ...(token && { token }), ...(limit && { downtimeLimitMs: Number(limit) }), ...(v['dry-run'] && { dryRun: true }) };
  const answer = await client.call('POST', vmPath(vm, '/migrate'), req);
  if (v['dry-run']) {
    const p = answer as MigrationPrediction;
    const ms = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
    process.stdout.write(p.converges
      ? `${p.vm} would migrate to ${p.target} in about ${ms(p.expectedTotalMs)} (${p.rounds} round(s)${p.throttle ? `, vCPUs throttled ${Math.round(p.throttle * 100)}%` : ''}) with about ${ms(p.expectedDowntimeMs)} of downtime\n`
      : `${p.vm} would not converge to ${p.target}: ${p.reason ?? 'no reason given'}\n`);
    process.stdout.write(`  dirtying ${(p.dirtyRate / 1e6).toFixed(1)} MB/s, link ${(p.bandwidth / 1e6).toFixed(0)} MB/s, round trip ${ms(p.rttMs)}, restore there ${ms(p.restoreMs)}\n`);
    return p.converges ? 0 : 1;
  }
  const r = answer as MigrationReport;
  process.stdout.write(`${r.vm} migrated to ${r.target}: ${Math.round(r.totalMs)} ms, downtime ${Math.round(r.downtimeMs)} ms, ${r.rounds} round(s), ${(r.transferredBytes / 1e6).toFixed(1)} MB\n`);
  return 0;
}

/** Expired-TTL VMs, templates left out: clones' disks are overlays on a template's. A
 *  running one is refused by the daemon (not forced): the daemon stops expired VMs
 *  itself, so one still running is worth a look before it goes. */
async function gc(args: string[]): Promise<number> {
  const { values, positionals, client } = parse(args, { yes: { type: 'boolean', short: 'y' } });
  exactly(positionals, 'gc');
  const now = Date.now();
  const expired = ((await client.call('GET', '/v1/vms?all=true')) as VmView[]).filter((vm) => !vm.template && (expiry(vm) ?? Infinity) <= now);
  if (!expired.length) {
    process.stderr.write('rvisor: no VM has outlived its TTL\n');
    return 0;
  }
  if (values.yes) return eachVm(expired.map((vm) => vm.name), 'gc', (vm) => client.call('DELETE', vmPath(vm)));
  process.stdout.write(expiredTable(expired, now));
  process.stderr.write('rvisor: `rvisor gc --yes` removes them\n');
  return 0;
}

/** One image as `rvisor image ls` and `rvisor images` show it. */
export const imageLine = (name: string, kernelVersion: string, size: number, created: string) =>
  `${name.padEnd(14)} ${kernelVersion.padEnd(22)} ${(size / 2 ** 20).toFixed(1).padStart(7)} MiB  ${created}\n`;

async function images(args: string[]): Promise<number> {
  const { positionals, client } = parse(args, {});
  exactly(positionals, 'images');
  for (const i of (await client.call('GET', '/v1/images')) as ImageView[]) process.stdout.write(imageLine(i.name, i.kernelVersion, i.size, i.created));
  return 0;
}

export const VM_COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  create, rm, ps, inspect, console: consoleCmd, template, clone, migrate, gc, images,
  start: action('start'), stop: action('stop'), pause: action('pause'), resume: action('resume'), reset: action('reset'), powerdown: action('powerdown'),
};
