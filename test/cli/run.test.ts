// `rvisor run` end to end, as a user would run it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { assemble } from '../../src/isa/asm.js';
import { writeElf } from '../../src/isa/elf.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'rvisor-cli-'));

function rvisor(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function elfFile(name: string, source: string): string {
  const path = join(dir, name);
  writeFileSync(path, writeElf(assemble(source)));
  return path;
}

const EXIT_WITH = (code: number) => `
    .text
_start:
    li   a0, ${(code << 1) | 1}
    la   t0, tohost
    sd   a0, 0(t0)
1:  j    1b
    .data
tohost: .dword 0
`;

test('bare metal with no program runs the bundled demo and passes', () => {
  const r = rvisor('run', '--bios', 'none');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Hello from rvisor/);
  assert.match(r.stdout, /fib\(20\) = 6765: pass/);
});

test('a bare-metal ELF exits with the code it writes to tohost', () => {
  assert.equal(rvisor('run', '--bios', 'none', '--kernel', elfFile('seven.elf', EXIT_WITH(7))).status, 7);
  assert.equal(rvisor('run', '--bios', 'none', '--kernel', elfFile('zero.elf', EXIT_WITH(0))).status, 0);
});

test('a failure code that is a multiple of 256 still fails', () => {
  assert.equal(rvisor('run', '--bios', 'none', '--kernel', elfFile('256.elf', EXIT_WITH(256))).status, 1);
});

test('an ISA-test-style program (M to S via mret, 32-bit tohost stores) passes', () => {
  const src = readFileSync(join(ROOT, 'test/fixtures/baremetal/isa-test-style.S'), 'utf8');
  const r = rvisor('run', '--bios', 'none', '--kernel', elfFile('isa.elf', src));
  assert.equal(r.status, 0, r.stderr);
  // The same program with a wrong expectation reports its test number.
  const broken = src.replace('li      a3, -3', 'li      a3, -4');
  assert.equal(rvisor('run', '--bios', 'none', '--kernel', elfFile('isa-bad.elf', broken)).status, 3);
});

test('assembly sources are assembled on the fly', () => {
  const path = join(dir, 'five.S');
  writeFileSync(path, EXIT_WITH(5));
  assert.equal(rvisor('run', '--bios', 'none', '--kernel', path).status, 5);
});

test('the HTIF write proxy reaches stdout', () => {
  const r = rvisor('run', '--bios', 'none', '--kernel', elfFile('write.elf', `
    .text
_start:
    la   t0, magic
    la   t1, tohost
    sd   t0, 0(t1)
1:  la   t1, fromhost
    ld   t2, 0(t1)
    beqz t2, 1b
    li   a0, 1
    la   t0, tohost
    sd   a0, 0(t0)
2:  j    2b
    .data
    .balign 8
magic: .dword 64, 1, msg, 6, 0, 0, 0, 0
msg:  .ascii "proxy\\n"
    .balign 8
tohost: .dword 0
fromhost: .dword 0
`));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'proxy\n');
});

test('an illegal instruction traps into the guest, not the host', () => {
  const r = rvisor('run', '--bios', 'none', '--kernel', elfFile('illegal.elf', `
    .text
_start:
    la   t0, handler
    csrw mtvec, t0
    .word 0xffffffff
    li   a0, 99
    j    out
handler:
    csrr a0, mcause          # 2 = illegal instruction
    csrr a1, mtval           # the instruction bits
    li   t0, 0xffffffff
    bne  a1, t0, bad
out:
    slli a0, a0, 1
    ori  a0, a0, 1
    la   t0, tohost
    sd   a0, 0(t0)
1:  j    1b
bad:
    li   a0, 50
    j    out
    .data
tohost: .dword 0
`));
  assert.equal(r.status, 2);
  assert.equal(r.stderr, '');
});

test('--max-insns stops a program that never reports', () => {
  const r = rvisor('run', '--bios', 'none', '--max-insns', '100000', '--kernel', elfFile('spin.elf', `
    .text
_start: j _start
    .data
tohost: .dword 0
`));
  assert.equal(r.status, 3);
  assert.match(r.stderr, /stopped after 100000 instructions/);
});

function assertOneLineError(r: ReturnType<typeof rvisor>, pattern: RegExp) {
  assert.equal(r.status, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /at .*\.js/, 'no stack trace');
}

test('bad inputs get one clear error line and status 2', () => {
  // An ELF for another machine: this very Node binary is x86-64 or arm64.
  assertOneLineError(rvisor('run', '--bios', 'none', '--kernel', process.execPath), /RISC-V|64-bit|machine/i);
  const good = readFileSync(elfFile('good.elf', EXIT_WITH(0)));
  const truncated = join(dir, 'truncated.elf');
  writeFileSync(truncated, good.subarray(0, 100));
  assertOneLineError(rvisor('run', '--bios', 'none', '--kernel', truncated), /truncat|past the end|short/i);
  const notElf = join(dir, 'text.elf');
  writeFileSync(notElf, 'hello, world\n');
  assertOneLineError(rvisor('run', '--bios', 'none', '--kernel', notElf), /ELF/);
  const low = join(dir, 'low.elf');
  writeFileSync(low, writeElf(assemble('.text\n_start: j _start\n.data\ntohost: .dword 0\n', { base: 0x1000n })));
  assertOneLineError(rvisor('run', '--bios', 'none', '--kernel', low), /outside RAM/);
  assertOneLineError(rvisor('run', '--bios', 'none', '--kernel', join(dir, 'missing.elf')), /no such file/);
  assertOneLineError(rvisor('run', '--bios', 'none', '--kernel', elfFile('notohost.elf', '.text\n_start: j _start\n')), /tohost/);
  assertOneLineError(rvisor('run', '--bios', 'none', '--mem', 'lots'), /bad size/);
  assertOneLineError(rvisor('run', '--frobnicate'), /frobnicate/);
});
