// The human monitor: QEMU's HMP line commands over a VmControl. The console opens it on
// Ctrl-A C and QMP's human-monitor-command runs the same lines, so both see one command
// set. Output uses "\r\n" because it goes to a raw-mode terminal (QEMU does the same
// over QMP, so scripts that parse HMP output keep working).

import type { RunState, VmControl } from './control.js';
import { errorText } from './error-text.js';

const HELP: [string, string][] = [
  ['help|?', 'show this help'],
  ['info status', 'show the VM status (running or paused)'],
  ['info cpus', 'show the harts'],
  ['info registers', 'show the registers of the current hart'],
  ['info block', 'show the disks'],
  ['info jit', 'show the translator\'s counters'],
  ['info version', 'show the version'],
  ['cpu N', 'select the hart that info registers shows'],
  ['stop|s', 'pause emulation'],
  ['cont|c', 'resume emulation'],
  ['system_powerdown', 'send a power-down request to the guest'],
  ['system_reset', 'reset the machine'],
  ['savevm NAME', 'save the whole VM state as snapshot NAME'],
  ['loadvm NAME', 'restore the VM state from snapshot NAME'],
  ['quit|q', 'quit the emulator'],
];

/** The QEMU version rvisor answers as (its virt board follows QEMU 7.2's); key order as QEMU prints it. */
export const QEMU_VERSION = { micro: 0, minor: 2, major: 7 };

function statusText(s: RunState): string {
  // QEMU shows a guest that powered off while -no-shutdown keeps it as paused (shutdown).
  return s === 'shutdown' || s === 'debug' || s === 'inmigrate' ? `paused (${s})` : s;
}

const hex16 = (v: bigint) => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

/** `info jit` (QEMU prints its TCG statistics there); also QMP's x-query-jit. */
export function jitText(stats: Record<string, number> | undefined): string {
  if (stats === undefined) return 'Translator off: the harts run in the interpreter (--exec interp)\r\n';
  const width = Math.max(...Object.keys(stats).map((k) => k.length));
  return Object.entries(stats).map(([k, v]) => `${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(1)}\r\n`).join('');
}

export class Hmp {
  /** The hart `info registers` shows (QEMU's monitor "current CPU"). */
  private cpu = 0;

  constructor(private readonly control: VmControl) {}

  /** Runs one command line; resolves with its output (possibly empty), never rejects:
   *  errors are output too, as in QEMU's monitor. */
  async execute(line: string, cpu?: number): Promise<string> {
    // QMP's human-monitor-command may name the CPU for this one line.
    if (cpu !== undefined) {
      const saved = this.cpu;
      this.cpu = cpu;
      try {
        return await this.execute(line);
      } finally {
        this.cpu = saved;
      }
    }
    const words = line.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) return '';
    const [cmd, ...args] = words;
    try {
      return await this.run(cmd, args);
    } catch (e) {
      return `Error: ${errorText(e)}\r\n`;
    }
  }

  private async run(cmd: string, args: string[]): Promise<string> {
    const c = this.control;
    const noArgs = () => {
      if (args.length) throw new Error(`${cmd}: unexpected argument '${args[0]}'`);
    };
    switch (cmd) {
      case 'help': case '?':
        return HELP.map(([k, v]) => `${k.padEnd(18)}-- ${v}\r\n`).join('');
      case 'info': return this.info(args);
      case 'cpu': {
        const n = Number(args[0]);
        if (args.length !== 1 || !Number.isInteger(n) || !c.cpus().some((h) => h.index === n)) throw new Error('invalid CPU index');
        this.cpu = n;
        return '';
      }
      case 'stop': case 's': noArgs(); c.pause(); return '';
      case 'cont': case 'c': noArgs(); c.resume(); return '';
      case 'system_powerdown': noArgs(); c.powerdown(); return '';
      case 'system_reset': noArgs(); c.reset(); return '';
      case 'quit': case 'q': noArgs(); c.quit(); return '';
      case 'savevm': case 'loadvm': {
        if (args.length !== 1) throw new Error(`${cmd} needs exactly one snapshot NAME`);
        await (cmd === 'savevm' ? c.saveSnapshot(args[0]) : c.loadSnapshot(args[0]));
        return '';
      }
      default:
        return `unknown command: '${cmd}'\r\n`;
    }
  }

  private info(args: string[]): string {
    const c = this.control;
    switch (args[0]) {
      case 'status': return `VM status: ${statusText(c.status())}\r\n`;
      case 'cpus':
        return c.cpus().map((h) => `${h.index === this.cpu ? '*' : ' '} CPU #${h.index}: pc=0x${hex16(h.pc)}${h.halted ? ' (halted)' : ''} thread_id=${process.pid}\r\n`).join('');
      case 'registers': {
        const regs = c.registers(this.cpu);
        const lines: string[] = [];
        // Four registers per line, QEMU's layout: " x1/ra    0000000080001234 ..."
        for (let i = 0; i < regs.length; i += 4) {
          lines.push(regs.slice(i, i + 4).map((r) => ` ${r.name.padEnd(8)} ${hex16(r.value)}`).join(''));
        }
        return lines.map((l) => l + '\r\n').join('');
      }
      case 'block': {
        const disks = c.blocks();
        if (disks.length === 0) return '';
        return disks.map((d) => `${d.device}: ${d.file} (${d.format}${d.readOnly ? ', read-only' : ''})\r\n`).join('');
      }
      case 'version': return `${QEMU_VERSION.major}.${QEMU_VERSION.minor}.${QEMU_VERSION.micro} (rvisor)\r\n`;
      case 'jit': return jitText(c.translatorStats());
      case undefined: return 'info status|cpus|registers|block|jit|version\r\n';
      default: return `info: unknown item '${args[0]}'\r\n`;
    }
  }
}
