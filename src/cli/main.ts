#!/usr/bin/env node
// The `rvisor` command.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AsmError, assemble } from '../isa/asm.js';
import { ElfError, writeElf } from '../isa/elf.js';
import { BareMetalMachine } from '../machine/baremetal.js';
import { LoadError } from '../machine/loader.js';
import { parseSize } from './size.js';

/** Exit status for errors the user can fix (bad arguments, bad files). */
const EXIT_USAGE = 2;
/** Exit status when the guest ran past --max-insns. */
const EXIT_LIMIT = 3;

const DEMO = fileURLToPath(new URL('../../../examples/hello.S', import.meta.url));

const USAGE = `usage: rvisor run [--bios none] [--kernel PROG] [--mem SIZE] [--max-insns N]

  rvisor run                 run the bundled bare-metal demo
  --bios none                no firmware: run PROG directly in M-mode (the only mode yet)
  --kernel PROG              an ELF executable, or RISC-V assembly (.S/.s) to assemble first
  --mem SIZE                 guest RAM, e.g. 128M or 2G (default 128M)
  --max-insns N              stop with status ${EXIT_LIMIT} after N instructions

A bare-metal program reports through HTIF (the 'tohost' symbol): writing
(code << 1) | 1 ends the run and rvisor exits with 'code'.`;

class UsageError extends Error {}

function loadProgram(path: string): Uint8Array {
  const bytes = readFileSync(path);
  if (/\.s$/i.test(path)) return writeElf(assemble(bytes.toString('utf8')));
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      bios: { type: 'string', default: 'none' },
      kernel: { type: 'string' },
      mem: { type: 'string', default: '128M' },
      'max-insns': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (values.bios !== 'none') throw new UsageError(`--bios ${values.bios}: only --bios none is supported so far`);
  let maxInstructions: number | undefined;
  if (values['max-insns'] !== undefined) {
    maxInstructions = Number(values['max-insns']);
    if (!Number.isSafeInteger(maxInstructions) || maxInstructions <= 0) throw new UsageError(`--max-insns ${values['max-insns']}: not a positive integer`);
  }
  let memSize: number;
  try {
    memSize = parseSize(values.mem);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const program = loadProgram(values.kernel ?? DEMO);
  const machine = new BareMetalMachine(program, {
    memSize,
    maxInstructions,
    output: (bytes) => process.stdout.write(bytes),
  });
  process.once('SIGINT', () => machine.stop());
  const result = await machine.run();
  if (result.kind === 'exit') {
    // Keep failures failures: a code that is a multiple of 256 must not read as success.
    return result.code === 0 ? 0 : (result.code & 0xff) || 1;
  }
  if (result.kind === 'limit') {
    process.stderr.write(`rvisor: stopped after ${result.instructions} instructions (--max-insns)\n`);
    return EXIT_LIMIT;
  }
  process.stderr.write('rvisor: interrupted\n');
  return 130;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': return await run(rest);
      case undefined: case '-h': case '--help': case 'help':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? EXIT_USAGE : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ElfError || e instanceof LoadError || e instanceof AsmError) {
      process.stderr.write(`rvisor: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT' || err.code === 'EISDIR' || err.code === 'EACCES') {
      process.stderr.write(`rvisor: ${err.path ?? ''}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : 'permission denied'}\n`);
      return EXIT_USAGE;
    }
    if ((err.code ?? '').startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`rvisor: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
