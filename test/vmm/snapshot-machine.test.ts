// A whole virt machine saved mid-run and restored, through a snapshot file, into a fresh
// machine built from the same configuration: both then run on and must agree exactly
// (RAM, every hart, the UART output, every device's state).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execute } from '../../src/cpu/interp.js';
import { SnapshotError } from '../../src/devices/snapshot.js';
import { assemble } from '../../src/isa/asm.js';
import { restoreVirt, saveVirt, type MachineSnapshot } from '../../src/machine/virt-snapshot.js';
import { VirtMachine, type VirtConfig } from '../../src/machine/virt.js';
import { readSnapshot, writeSnapshot } from '../../src/vmm/snapshot-file.js';

const KERNEL_BASE = 0x8020_0000;

/** S-mode: counts in RAM, prints a letter every 512 iterations, powers off after 40. */
const PROGRAM = `
_start:
    li s0, 0x10000000
    la s1, counter
    li s2, 0
    li s3, 0
loop:
    addi s2, s2, 1
    sd s2, 0(s1)
    andi t0, s2, 511
    bnez t0, loop
    addi s3, s3, 1
    li t2, 26
    remu t1, s3, t2
    addi t1, t1, 97
    sb t1, 0(s0)
    li t2, 40
    bltu s3, t2, loop
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
hang:
    j hang
.data
counter: .dword 0
`;

function kernel(): Uint8Array {
  const prog = assemble(PROGRAM, { base: BigInt(KERNEL_BASE) });
  const end = Math.max(...prog.sections.map((s) => Number(s.addr) - KERNEL_BASE + s.bytes.length));
  const blob = new Uint8Array(end);
  for (const s of prog.sections) blob.set(s.bytes, Number(s.addr) - KERNEL_BASE);
  return blob;
}

function machine(opts: { memSize?: number; harts?: number; exec?: 'interp' | 'jit' } = {}) {
  const out: number[] = [];
  const cfg: VirtConfig = {
    memSize: opts.memSize ?? 32 << 20, harts: opts.harts ?? 2, kernel: kernel(), append: 'console=ttyS0',
    console: (b) => out.push(...b), rngSeed: new Uint8Array(32).fill(3),
    virtio: { rng: (b) => b.fill(7), console: () => {} }, exec: opts.exec,
  };
  return { m: new VirtMachine(cfg), out };
}

/** Everything a snapshot holds except the clock (guest time moves on in real time). */
function state(m: VirtMachine): MachineSnapshot {
  const s = saveVirt(m);
  s.delete('clock');
  return s;
}

function step(m: VirtMachine, instructions: number): void {
  for (let done = 0; done < instructions; done += 1000) for (const h of m.harts) execute(h, 1000);
}

const ram = (m: VirtMachine) => m.mem.read(m.mem.base, m.mem.size);

test('a machine restored from a file continues exactly as the saved one', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-snap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = machine();
  step(a.m, 30_000);
  const printed = a.out.length;
  assert.ok(printed > 2 && printed < 40, `mid-run: ${printed} letters printed`);
  const file = join(dir, 'vm.rvsnap');
  writeSnapshot(file, saveVirt(a.m));

  const b = machine();
  assert.notDeepEqual(ram(b.m), ram(a.m));
  restoreVirt(b.m, readSnapshot(file));
  assert.deepEqual(state(b.m), state(a.m));
  assert.equal(b.m.harts[0].pc, a.m.harts[0].pc);
  assert.ok(Math.abs(b.m.time.mtime() - a.m.time.mtime()) < 10_000_000, 'guest time continues from the saved value');

  step(a.m, 25_000);
  step(b.m, 25_000);
  assert.ok(a.out.length > printed, 'the guest printed more after the snapshot');
  assert.deepEqual(b.out, a.out.slice(printed));
  assert.deepEqual(ram(b.m), ram(a.m));
  assert.deepEqual(state(b.m), state(a.m));
});

test('a restored machine runs to the same poweroff (the restored one translated)', async () => {
  const a = machine();
  step(a.m, 20_000);
  const snap = saveVirt(a.m);
  const printed = a.out.length;
  const b = machine({ exec: 'jit' });
  restoreVirt(b.m, snap);
  assert.deepEqual(await b.m.run(), { kind: 'poweroff', code: 0 });
  assert.deepEqual(await a.m.run(), { kind: 'poweroff', code: 0 });
  assert.equal(String.fromCharCode(...a.out.slice(printed)), String.fromCharCode(...b.out));
  assert.equal(a.out.length, 40);
});

test('loading a snapshot into the running machine itself goes back in time', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rvisor-snap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'vm.rvsnap');
  const a = machine({ exec: 'jit' });
  step(a.m, 15_000);
  writeSnapshot(file, saveVirt(a.m));
  step(a.m, 30_000);
  a.m.consoleInput(Uint8Array.of(1, 2, 3));
  restoreVirt(a.m, readSnapshot(file));
  const b = machine();
  restoreVirt(b.m, readSnapshot(file));
  assert.deepEqual(state(a.m), state(b.m));
  const mark = a.out.length;
  step(a.m, 30_000);
  step(b.m, 30_000);
  assert.deepEqual(a.out.slice(mark), b.out);
  assert.deepEqual(state(a.m), state(b.m));
});

test('a snapshot is refused by a machine built differently, and changes nothing', () => {
  const a = machine();
  step(a.m, 5_000);
  const snap = saveVirt(a.m);
  for (const other of [machine({ memSize: 64 << 20 }), machine({ harts: 1 })]) {
    const before = state(other.m);
    assert.throws(() => restoreVirt(other.m, snap), (e: unknown) => e instanceof SnapshotError && /config\./.test(e.message));
    assert.deepEqual(state(other.m), before);
  }
});

test('a corrupt late section rolls back the components restored before it', () => {
  const a = machine();
  step(a.m, 5_000);
  const b = machine();
  const before = state(b.m);
  for (const [id, bad] of [['rtc', { offset: 'soon' }], ['virtio@10008000', null], ['machine', {}], ['ram', { pageSize: 4096, pages: 1, runs: [] }]] as const) {
    const snap = saveVirt(a.m);
    snap.set(id, bad);
    assert.throws(() => restoreVirt(b.m, snap), SnapshotError, id);
    assert.deepEqual(state(b.m), before, id);
  }
  const missing = saveVirt(a.m);
  missing.delete('hart1');
  assert.throws(() => restoreVirt(b.m, missing), /no section 'hart1'/);
});
