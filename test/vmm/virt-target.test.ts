// HartDebugTarget over real harts: register access (CSRs through the hart's rules),
// memory through a side-effect-free Sv39 walk, and breakpoints, single steps and
// watchpoints checked by runHart().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slot } from '../../src/cpu/state.js';
import { debugRead, debugTranslate, debugWrite } from '../../src/vmm/guest-walk.js';
import type { StopReason } from '../../src/vmm/gdb/target.js';
import { cpuInfo, hartRegisters } from '../../src/vmm/hart-info.js';
import { PageTables, peek64, poke64, PTE_A, PTE_D, PTE_R, PTE_W, PTE_X, SATP_SV39, SATP_SV48 } from '../support/run-asm.js';
import { hartTarget } from './hart-target.js';

/** Resumes and collects the next stop (the pump loop runs the hart meanwhile). */
function next(target: ReturnType<typeof hartTarget>['target'], step?: number): Promise<StopReason> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no stop')), 5000);
    const off = target.onStop((r) => { off(); clearTimeout(timer); resolve(r); });
    target.resume(step);
  });
}

test('registers: x, pc, f, fcsr parts, CSRs via the hart, priv', () => {
  const { target, h } = hartTarget();
  h.s.setX(5, 0x1234n);
  assert.equal(target.readRegister(0, { kind: 'x', index: 5 }), 0x1234n);
  assert.equal(target.readRegister(0, { kind: 'pc' }), 0x80000000n);
  assert.ok(target.writeRegister(0, { kind: 'x', index: 6 }, -2n));
  assert.equal(h.s.getX(6), -2n);
  assert.ok(target.writeRegister(0, { kind: 'x', index: 0 }, 5n));
  assert.equal(h.s.getX(0), 0n, 'x0 stays zero');
  assert.ok(target.writeRegister(0, { kind: 'f', index: 3 }, 0x400921fb54442d18n));
  assert.equal(h.s.f[3], 3.141592653589793);
  assert.ok(target.writeRegister(0, { kind: 'csr', csr: 3 }, 0xe5n));
  assert.equal(target.readRegister(0, { kind: 'csr', csr: 1 }), 5n, 'fflags');
  assert.equal(target.readRegister(0, { kind: 'csr', csr: 2 }), 7n, 'frm');
  // misa: RV64 (MXL = 2) with I, M, A, F, D, C, S, U.
  const misa = target.readRegister(0, { kind: 'csr', csr: 0x301 })!;
  assert.equal(misa >> 62n, 2n);
  for (const l of 'IMAFDCSU') assert.ok(misa & (1n << BigInt(l.charCodeAt(0) - 65)), l);
  assert.ok(target.writeRegister(0, { kind: 'csr', csr: 0x340 }, 0xfeedn));
  assert.equal(h.s.get64(Slot.Mscratch), 0xfeedn);
  // WARL: sepc clears bit 0 as the hart does.
  assert.ok(target.writeRegister(0, { kind: 'csr', csr: 0x141 }, 0x1001n));
  assert.equal(target.readRegister(0, { kind: 'csr', csr: 0x141 }), 0x1000n);
  assert.equal(target.writeRegister(0, { kind: 'csr', csr: 0xf14 }, 1n), false, 'mhartid is read-only');
  assert.equal(target.readRegister(0, { kind: 'csr', csr: 0x7c0 }), undefined, 'no such CSR');
  assert.equal(h.trapCause, 0, 'failed accesses leave no trap behind');
  // Reading S-mode CSRs works whatever the hart's privilege is.
  h.priv = 0;
  assert.equal(target.readRegister(0, { kind: 'csr', csr: 0x340 }), 0xfeedn);
  assert.equal(target.readRegister(0, { kind: 'priv' }), 0n);
  assert.ok(target.writeRegister(0, { kind: 'priv' }, 2n));
  assert.equal(h.priv, 1, 'reserved 2 becomes S');
});

test('Sv39/Sv48 debug walk: superpages and 4 KiB pages, no A/D updates, unmapped stops reads', () => {
  for (const mode of [SATP_SV39, SATP_SV48]) {
    const { h, mem, target } = hartTarget();
    const pt = new PageTables(mem, mode, 0x80200000n);
    const KVA = mode === SATP_SV39 ? 0xffffffc000000000n : 0xffff800000000000n;
    pt.map(KVA, 0x80000000n, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D, 2);
    // A 4 KiB page without A/D: a debugger read must not set them.
    const pteAddr = pt.map(0x10000000n, 0x80300000n, PTE_R | PTE_W, 0);
    poke64(mem, 0x80300008n, 0x1122334455667788n);
    h.s.set64(Slot.Satp, pt.satp);
    h.priv = 1;
    assert.equal(debugTranslate(h, KVA + 0x1234n), 0x80001234, 'gigapage');
    assert.equal(debugTranslate(h, 0x10000abcn), 0x80300abc, '4 KiB page');
    assert.equal(debugTranslate(h, 0x10001000n), undefined, 'unmapped');
    pt.map(0x40000000n, 0x80301000n, PTE_R | PTE_A, 1);
    assert.equal(debugTranslate(h, 0x40000000n), undefined, 'misaligned superpage');
    assert.equal(debugTranslate(h, 0x0000800000000000n), undefined, 'not canonical');
    assert.deepEqual([...target.readMemory(0, 0x10000008n, 8)], [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    assert.equal(peek64(mem, pteAddr) & (PTE_A | PTE_D), 0n, 'A/D untouched');
    // A read running into the unmapped page stops at the boundary.
    assert.equal(debugRead(h, 0x10000ffcn, 8).length, 4);
    assert.equal(debugRead(h, 0x20000000n, 4).length, 0);
    // Writes go to RAM (and the dirty log), all or nothing.
    assert.ok(debugWrite(h, 0x10000010n, Uint8Array.of(1, 2, 3)));
    assert.deepEqual([...mem.read(0x80300010, 3)], [1, 2, 3]);
    assert.equal(mem.dirty[(0x80300000 - 0x80000000) / 4096], 1);
    assert.equal(debugWrite(h, 0x10000ffen, Uint8Array.of(9, 9, 9, 9)), false);
    assert.deepEqual([...mem.read(0x80300ffe, 2)], [0, 0], 'nothing written when a page is missing');
    // M-mode (and bare satp) is physical; MMIO is never touched.
    h.priv = 3;
    assert.equal(debugTranslate(h, 0x80000010n), 0x80000010);
    assert.equal(debugRead(h, 0x10000000n, 4).length, 0, 'the UART is not RAM');
  }
});

test('breakpoint, single step, resume from a breakpoint', async () => {
  const { target, h, sym, loop } = hartTarget();
  assert.equal(target.armed, false);
  assert.ok(target.addBreakpoint({ kind: 'sw', addr: sym('loop'), len: 4 }));
  assert.equal(target.armed, true);
  assert.deepEqual(await next(target), { kind: 'break', hart: 0, type: 'sw' });
  assert.equal(h.pc, sym('loop'));
  assert.deepEqual([h.s.getX(5), h.s.getX(6)], [1n, 2n], 'stopped before add ran');
  assert.equal(loop.running, false, 'the machine was paused');
  assert.deepEqual(await next(target, 0), { kind: 'step', hart: 0 });
  assert.equal(h.pc, sym('loop') + 4n);
  assert.equal(h.s.getX(5), 3n, 'exactly one instruction ran');
  // Continue from here: around the loop and back to the breakpoint once.
  assert.deepEqual(await next(target), { kind: 'break', hart: 0, type: 'sw' });
  assert.equal(h.s.getX(5), 3n);
  // Resuming at the breakpoint's own pc does not stop at once.
  assert.ok(target.removeBreakpoint({ kind: 'sw', addr: sym('loop'), len: 4 }));
  assert.ok(target.addBreakpoint({ kind: 'hw', addr: sym('loop'), len: 4 }));
  assert.deepEqual(await next(target), { kind: 'break', hart: 0, type: 'hw' });
  assert.equal(h.s.getX(5), 5n, 'went around once more');
});

test('watchpoints: write, read and access, reported before the access', async () => {
  const { target, h, sym } = hartTarget();
  const cell = sym('cell');
  const sd = sym('loop') + 12n, ld = sd + 4n;
  target.addBreakpoint({ kind: 'write', addr: cell + 4n, len: 4 });
  assert.deepEqual(await next(target), { kind: 'watch', hart: 0, type: 'write', addr: cell + 4n });
  // Stopped at the sd, which has not run yet.
  assert.equal(h.pc, sd);
  assert.equal(h.s.getX(5), 3n);
  assert.deepEqual([...target.readMemory(0, cell, 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
  // Stepping over it (what GDB does) performs the store without stopping again.
  assert.deepEqual(await next(target, 0), { kind: 'step', hart: 0 });
  assert.deepEqual([...target.readMemory(0, cell, 8)], [3, 0, 0, 0, 0, 0, 0, 0]);
  target.clearBreakpoints();
  target.addBreakpoint({ kind: 'read', addr: cell, len: 8 });
  // Resumed at the ld itself: the first instruction is not checked, so the next read
  // is the ld of the second round.
  assert.deepEqual(await next(target), { kind: 'watch', hart: 0, type: 'read', addr: cell });
  assert.equal(h.pc, ld);
  assert.equal(h.s.getX(5), 5n);
  assert.equal(h.s.getX(11), 3n, 'the second ld has not run');
  target.clearBreakpoints();
  target.addBreakpoint({ kind: 'access', addr: cell, len: 1 });
  assert.deepEqual(await next(target), { kind: 'watch', hart: 0, type: 'access', addr: cell });
  assert.equal(h.pc, sd, 'the next access is the sd of the third round');
  assert.equal(h.s.getX(5), 7n);
  // A compressed store (c.sd a2, 8(a0)) is decoded through the RVC table.
  target.clearBreakpoints();
  target.addBreakpoint({ kind: 'write', addr: sym('cell2'), len: 8 });
  assert.deepEqual(await next(target), { kind: 'watch', hart: 0, type: 'write', addr: sym('cell2') });
  assert.equal(h.pc, ld + 4n);
  target.clearBreakpoints();
  assert.equal(target.armed, false);
});

test('a watched access is reported even if it will trap; stepping then enters the handler', async () => {
  const { target, h, sym } = hartTarget();
  const sd = sym('fault') + 4n;
  h.pc = sym('fault');
  h.s.setX(10, 0x1000n);
  target.writeRegister(0, { kind: 'csr', csr: 0x305 }, sym('loop'));
  target.addBreakpoint({ kind: 'write', addr: 0x1004n, len: 1 });
  assert.deepEqual(await next(target), { kind: 'watch', hart: 0, type: 'write', addr: 0x1004n });
  assert.equal(h.pc, sd);
  assert.deepEqual(await next(target, 0), { kind: 'step', hart: 0 });
  assert.equal(h.pc, sym('loop'), 'in the trap vector');
  assert.equal(h.s.get64(Slot.Mcause), 7n, 'store access fault');
});

test('with two harts, a step runs only the stepped hart; halt stops everything', async () => {
  const { target, harts, loop } = hartTarget(2);
  const before = harts[0].pc;
  assert.deepEqual(await next(target, 1), { kind: 'step', hart: 1 });
  assert.equal(harts[0].pc, before, 'hart 0 did not move');
  assert.equal(harts[1].pc, before + 4n);
  target.resume();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  target.halt();
  assert.equal(target.isRunning(), false);
  const pcs = harts.map((h) => h.pc);
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(harts.map((h) => h.pc), pcs, 'nothing runs after halt');
  assert.ok(target.mayRun(0) === false && target.mayRun(1) === false);
  assert.deepEqual(loop.calls.slice(-1), ['pause']);
  // QMP cont while the debugger has it stopped: the harts may run again.
  target.notifyResumed();
  assert.ok(target.mayRun(0) && target.mayRun(1) && target.isRunning());
  // A QMP stop while GDB waits is reported to it as a pause.
  const stops: string[] = [];
  target.onStop((r) => stops.push(r.kind));
  target.notifyPaused(1);
  target.notifyPaused(1);
  assert.deepEqual(stops, ['paused']);
});

test('the monitors\' view of harts: cpus and registers', () => {
  const { harts } = hartTarget(2);
  assert.deepEqual(cpuInfo(harts).map((x) => [x.index, x.hartId, x.pc, x.priv]), [[0, 0, 0x80000000n, 3], [1, 1, 0x80000000n, 3]]);
  const regs = hartRegisters(harts, 1);
  assert.equal(regs[0].name, 'pc');
  assert.equal(regs.find((r) => r.name === 'mhartid')?.value, 1n);
  assert.equal(regs.find((r) => r.name === 'x2/sp')?.value, 0n);
  assert.throws(() => hartRegisters(harts, 2), /no CPU 2/);
});
