// The real debugger against the stub: gdb-multiarch in batch mode over TCP, with the
// fake target and with a real hart running a program. Skipped where gdb-multiarch is
// not installed (CI images without it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { GdbServer } from '../../src/vmm/gdb/server.js';
import type { DebugTarget } from '../../src/vmm/gdb/target.js';
import { FakeTarget } from './fakes.js';
import { hartTarget } from './hart-target.js';

const GDB = 'gdb-multiarch';
const haveGdb = spawnSync(GDB, ['--version']).status === 0;
const skip = haveGdb ? false : `${GDB} is not installed`;

/** Serves `target` on an ephemeral port and runs gdb with the given commands. */
export async function runGdb(target: DebugTarget, commands: string[]): Promise<{ stdout: string; stderr: string }> {
  const server = new GdbServer({ target });
  await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  const args = ['-nx', '-batch', '-ex', 'set architecture riscv:rv64', '-ex', `target remote 127.0.0.1:${server.port}`];
  for (const c of commands) args.push('-ex', c);
  try {
    return await new Promise((resolve, reject) => {
      execFile(GDB, args, { timeout: 30_000 }, (err, stdout, stderr) => {
        if (err && err.killed) reject(new Error(`gdb timed out:\n${stdout}\n${stderr}`));
        else resolve({ stdout, stderr });
      });
    });
  } finally {
    await server.close();
  }
}

test('gdb-multiarch: registers, memory, breakpoint, continue, stepi, detach', { skip }, async () => {
  const target = new FakeTarget();
  const { stdout, stderr } = await runGdb(target, ['info registers pc', 'x/4xw 0x80000000', 'break *0x80000010', 'continue', 'stepi', 'p/x $t0', 'p/x $mstatus', 'p $priv', 'detach']);
  const out = stdout + stderr;
  assert.match(out, /^pc\s+0x80000000\s+0x80000000$/m, out);
  assert.match(out, /^0x80000000:\s+0x12345678\s+0x00000013\s+0x00000013\s+0x00000013$/m, out);
  assert.match(out, /Breakpoint 1 at 0x80000010/, out);
  assert.match(out, /Breakpoint 1, 0x0*80000010 in \?\? \(\)/, out);
  assert.match(out, /^0x0*80000014 in \?\? \(\)$/m, out);
  assert.match(out, /^\$1 = 0x500$/m, out);
  assert.match(out, /^\$2 = 0xa00000000$/m, out);
  assert.match(out, /^\$3 = (3|prv:3|\[prv = 3\]|.*M)/m, out);
  assert.match(out, /Inferior 1 \(Remote target\) detached/, out);
  // GDB used the Z packets (no memory patching) and the stub resumed on detach. stepi is
  // a vCont step or, as GDB 13 does for RISC-V, a breakpoint at the next pc.
  assert.ok(target.log.includes('add sw 80000010 4'), target.log.join('\n'));
  assert.ok(target.log.includes('step 0') || target.log.includes('add sw 80000014 4'), target.log.join('\n'));
  assert.equal(target.mem[0x10], 0x13, 'memory was not patched');
  const clear = target.log.indexOf('clear');
  assert.ok(clear > 0 && target.log[clear + 1] === 'resume', target.log.join('\n'));
});

test('gdb-multiarch: threads are harts', { skip }, async () => {
  const { stdout, stderr } = await runGdb(new FakeTarget(), ['info threads', 'thread 2', 'info registers pc']);
  const out = stdout + stderr;
  assert.match(out, /\* 1\s+Thread 1 \(hart 0\) 0x0*80000000/, out);
  assert.match(out, /\s2\s+Thread 2 \(hart 1\) 0x0*80000100/, out);
  assert.match(out, /^pc\s+0x80000100\s+0x80000100$/m, out);
});

test('gdb-multiarch against a real hart: break, stepi, watch, disassemble, CSRs', { skip }, async () => {
  const m = hartTarget();
  const hex = (v: bigint) => `0x${v.toString(16)}`;
  const loop = m.sym('loop'), cell = m.sym('cell');
  try {
    const { stdout, stderr } = await runGdb(m.target, [
      `break *${hex(loop)}`, 'continue', 'info registers t0 t1', 'stepi', 'p $t0', 'x/2i $pc',
      `watch *(long *)${hex(cell)}`, 'continue', 'p/x $misa', 'set var $t2 = 77', 'delete', 'detach',
    ]);
    const out = stdout + stderr;
    assert.match(out, new RegExp(`Breakpoint 1, 0x0*${loop.toString(16)} in \\?\\? \\(\\)`), out);
    assert.match(out, /^t0\s+0x1\s+1\nt1\s+0x2\s+2$/m, out);
    assert.match(out, new RegExp(`^0x0*${(loop + 4n).toString(16)} in \\?\\? \\(\\)$`, 'm'), out);
    assert.match(out, /^\$1 = 3$/m, out);
    assert.match(out, /=> 0x[0-9a-f]+:\s+auipc\s+a0,0x1/, out);
    // Reported before the sd; GDB steps over it, then shows the change with pc past it.
    assert.match(out, new RegExp(`Hardware watchpoint 2: \\*\\(long \\*\\)0x[0-9a-f]+\\s+Old value = 0\\s+New value = 3\\s+0x0*${(loop + 16n).toString(16)} in`), out);
    assert.match(out, /^\$2 = 0x800000000014112d$/m, out);
    assert.equal(m.h.s.getX(7), 77n, 'gdb wrote t2');
    // detach resumed the hart (the pump loop runs it again).
    assert.equal(m.loop.calls.at(-1), 'resume');
  } finally {
    m.target.halt();
  }
});
