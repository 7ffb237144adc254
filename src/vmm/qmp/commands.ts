// QMP commands: argument checking in QEMU's words and each command's reply. Pure over
// VmControl (no sockets), so the table is the one place to read what rvisor answers.

import type { VmControl } from '../control.js';
import { errorText } from '../error-text.js';
import { Hmp, QEMU_VERSION, jitText } from '../hmp.js';
import type { JobTable } from './jobs.js';

export type ErrorClass = 'GenericError' | 'CommandNotFound';

export class QmpError extends Error {
  constructor(readonly cls: ErrorClass, desc: string) {
    super(desc);
  }
}

type ArgType = 'str' | 'bool' | 'int' | 'str-list';
interface Command extends ArgSpec {
  run(args: Record<string, unknown>, ctx: CommandContext): unknown;
}

export interface CommandContext {
  control: VmControl;
  hmp: Hmp;
  jobs: JobTable;
}

const COMMANDS: Record<string, Command> = {
  'query-status': {
    run: (_a, { control }) => {
      const status = control.status();
      return { running: status === 'running', singlestep: false, status };
    },
  },
  stop: { run: (_a, { control }) => { control.pause(); return {}; } },
  cont: { run: (_a, { control }) => { control.resume(); return {}; } },
  system_powerdown: { run: (_a, { control }) => { control.powerdown(); return {}; } },
  system_reset: { run: (_a, { control }) => { control.reset(); return {}; } },
  // quit replies before the VMM goes away: the session sends {} and then calls quit.
  quit: { run: () => ({}) },
  'query-cpus-fast': {
    run: (_a, { control }) => control.cpus().map((c) => ({
      'cpu-index': c.index,
      'qom-path': `/machine/soc0/harts[${c.index}]`,
      // With --threads single every hart runs on the VMM's one JavaScript thread; hart
      // threads are Node workers, whose OS thread ids Node does not expose.
      'thread-id': process.pid,
      props: { 'core-id': c.hartId, 'socket-id': 0, 'node-id': 0 },
      target: 'riscv',
    })),
  },
  // QEMU's statistics interface: rvisor's own provider, one entry per vCPU.
  'query-stats': {
    args: { target: 'str' },
    run: (a, { control }) => {
      if (a.target !== 'vcpu') throw new QmpError('GenericError', `Parameter 'target' does not accept value '${String(a.target)}' (rvisor has vcpu statistics only)`);
      return (control.vcpuStats?.() ?? []).map((c, i) => ({
        provider: 'rvisor',
        'qom-path': `/machine/soc0/harts[${i}]`,
        stats: [{ name: 'instructions', value: c.instructions }, { name: 'steal-time-ns', value: c.stealNs }],
      }));
    },
  },
  'query-block': {
    run: (_a, { control }) => control.blocks().map((b) => ({
      device: b.device,
      locked: false,
      removable: false,
      type: 'unknown',
      inserted: { file: b.file, ro: b.readOnly, drv: b.format, encrypted: false, 'backing_file_depth': 0, image: { filename: b.file, format: b.format } },
    })),
  },
  'query-version': { run: () => ({ qemu: { ...QEMU_VERSION }, package: 'rvisor' }) },
  // QEMU's x-query-jit answers with the text of HMP's info jit.
  'x-query-jit': { run: (_a, { control }) => ({ 'human-readable-text': jitText(control.translatorStats()).replaceAll('\r\n', '\n') }) },
  'query-commands': { run: () => [...Object.keys(COMMANDS), 'qmp_capabilities'].map((name) => ({ name })) },
  'query-jobs': { run: (_a, { jobs }) => jobs.list() },
  'job-dismiss': { args: { id: 'str' }, run: (a, { jobs }) => { jobs.dismiss(a.id as string); return {}; } },
  'human-monitor-command': {
    args: { 'command-line': 'str', 'cpu-index': 'int' },
    optional: ['cpu-index'],
    run: (a, { hmp, control }) => {
      const cpu = a['cpu-index'] as number | undefined;
      // QEMU refuses a cpu-index that names no CPU before running the line.
      if (cpu !== undefined && !control.cpus().some((c) => c.index === cpu)) throw new QmpError('GenericError', "Parameter 'cpu-index' expects a CPU number");
      return hmp.execute(a['command-line'] as string, cpu);
    },
  },
  migrate: {
    args: { uri: 'str', detach: 'bool', blk: 'bool', inc: 'bool', resume: 'bool' },
    optional: ['detach', 'blk', 'inc', 'resume'],
    run: (a, { control }) => {
      if (a.inc) throw new QmpError('GenericError', 'incremental block migration (inc) is not supported: blk copies the whole disk, or put it on NBD');
      if (a.resume) throw new QmpError('GenericError', 'postcopy recovery (resume) is not supported');
      migration(control).start(a.uri as string, { blk: a.blk === true });
      return {};
    },
  },
  // rvisor's own (QEMU has no dry run): measures the dirty rate for calc-time seconds
  // (QEMU's calc-dirty-rate name) and probes the destination, then predicts.
  'x-rvisor-migrate-predict': {
    args: { uri: 'str', 'calc-time': 'int' },
    optional: ['calc-time'],
    run: (a, { control }) => {
      const seconds = (a['calc-time'] as number | undefined) ?? 1;
      if (seconds < 1 || seconds > 60) throw new QmpError('GenericError', "Parameter 'calc-time' expects 1 to 60 seconds");
      return migration(control).predict(a.uri as string, seconds);
    },
  },
  'migrate-incoming': {
    args: { uri: 'str' },
    run: (a, { control }) => { migration(control).listen(a.uri as string); return {}; },
  },
  migrate_cancel: { run: (_a, { control }) => { migration(control).cancel(); return {}; } },
  'query-migrate': { run: (_a, { control }) => control.migration?.query() ?? {} },
  'migrate-set-parameters': {
    args: { 'downtime-limit': 'int', 'max-bandwidth': 'int' },
    optional: ['downtime-limit', 'max-bandwidth'],
    run: (a, { control }) => {
      const limit = a['downtime-limit'] as number | undefined, bw = a['max-bandwidth'] as number | undefined;
      if (limit !== undefined && (limit < 0 || limit > 2000000)) throw new QmpError('GenericError', "Parameter 'downtime_limit' expects an integer in the range of 0 to 2000000 milliseconds");
      if (bw !== undefined && bw < 0) throw new QmpError('GenericError', "Parameter 'max_bandwidth' expects a non-negative size");
      migration(control).setParameters({ downtimeLimitMs: limit, maxBandwidth: bw });
      return {};
    },
  },
  'snapshot-save': {
    args: { 'job-id': 'str', tag: 'str', vmstate: 'str', devices: 'str-list' },
    run: (a, { jobs, control }) => { jobs.start(a['job-id'] as string, 'snapshot-save', () => control.saveSnapshot(a.tag as string)); return {}; },
  },
  'snapshot-load': {
    args: { 'job-id': 'str', tag: 'str', vmstate: 'str', devices: 'str-list' },
    run: (a, { jobs, control }) => { jobs.start(a['job-id'] as string, 'snapshot-load', () => control.loadSnapshot(a.tag as string)); return {}; },
  },
};

function migration(control: VmControl): NonNullable<VmControl['migration']> {
  if (!control.migration) throw new QmpError('GenericError', 'migration is not available for this VM');
  return control.migration;
}

export const COMMAND_NAMES = Object.keys(COMMANDS);

function typeOk(v: unknown, t: ArgType): boolean {
  switch (t) {
    case 'str': return typeof v === 'string';
    case 'bool': return typeof v === 'boolean';
    case 'int': return typeof v === 'number' && Number.isSafeInteger(v);
    case 'str-list': return Array.isArray(v) && v.every((e) => typeof e === 'string');
  }
}

const TYPE_NAMES: Record<ArgType, string> = { str: 'string', bool: 'boolean', int: 'integer', 'str-list': 'array' };

/** The arguments a command takes: their types, and which of them may be left out. */
export interface ArgSpec {
  args?: Record<string, ArgType>;
  optional?: string[];
}

/** Checks a command's arguments as QEMU's generated visitors do; throws a GenericError.
 *  Own properties only: a client's "__proto__" or "toString" is an unexpected
 *  parameter, not something every object already has. */
export function checkArgs(spec: ArgSpec, args: Record<string, unknown>): void {
  const types = spec.args ?? {};
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(types, key)) throw new QmpError('GenericError', `Parameter '${key}' is unexpected`);
  }
  for (const [key, type] of Object.entries(types)) {
    if (!Object.hasOwn(args, key)) {
      if (spec.optional?.includes(key)) continue;
      throw new QmpError('GenericError', `Parameter '${key}' is missing`);
    }
    if (!typeOk(args[key], type)) throw new QmpError('GenericError', `Invalid parameter type for '${key}', expected: ${TYPE_NAMES[type]}`);
  }
}

/** Runs a command after checking its arguments. Anything the command throws comes back
 *  as a QmpError, so the session always has an answer to send. */
export async function runCommand(name: string, args: Record<string, unknown>, ctx: CommandContext): Promise<unknown> {
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) throw new QmpError('CommandNotFound', `The command ${name} has not been found`);
  checkArgs(cmd, args);
  try {
    return await cmd.run(args, ctx);
  } catch (e) {
    if (e instanceof QmpError) throw e;
    throw new QmpError('GenericError', errorText(e));
  }
}

