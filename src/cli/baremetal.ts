// `rvisor run --bios none`: a bare-metal program on the HTIF board (issue: the CPU core).

import { assemble } from '../isa/asm.js';
import { writeElf } from '../isa/elf.js';
import { BareMetalMachine } from '../machine/baremetal.js';
import { EXIT_LIMIT } from './errors.js';
import { readInputFile } from '../host/vm/input-files.js';

export function loadProgram(path: string, memSize: number): Uint8Array {
  const bytes = readInputFile('--kernel', path, memSize);
  if (/\.s$/i.test(path)) return writeElf(assemble(new TextDecoder().decode(bytes)));
  return bytes;
}

export async function runBareMetal(kernel: string, memSize: number, maxInstructions: number | undefined): Promise<number> {
  const machine = new BareMetalMachine(loadProgram(kernel, memSize), {
    memSize,
    maxInstructions,
    output: (bytes) => process.stdout.write(bytes),
  });
  const onSigint = () => machine.stop();
  process.once('SIGINT', onSigint);
  const result = await machine.run();
  process.off('SIGINT', onSigint);
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
