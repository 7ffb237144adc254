// Sv39, Sv48 and Sv57 translation with 4 KiB pages and superpages (2 MiB, 1 GiB and,
// for Sv48, 512 GiB). A superpage whose PPN is not aligned to its size is a page fault.
// Data is placed at a physical address and read back through a virtual one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DATA_PA, PTE_A, PTE_D, PTE_R, PTE_W, SATP_SV39, SATP_SV48, SATP_SV57, mtrap, paged, peek64, poke64, reg, run,
} from '../support/run-asm.js';

const RW = PTE_R | PTE_W | PTE_A | PTE_D;

/** Loads from `va` and stores 0x5a5a... to `va + 8` in S-mode. */
function readWrite(satpMode: bigint, va: bigint, pa: bigint, map: Parameters<typeof paged>[2]): { a0: bigint; stored: bigint; stoppedAt: string } {
  const m = paged(satpMode, `
    li t1, ${va}
    ld a0, 0(t1)
    li t2, 0x5a5a5a5a5a5a5a5a
    sd t2, 8(t1)`, map);
  poke64(m.mem, pa, 0x1122334455667788n);
  const r = run(m, { until: ['done', 'mtrap'] });
  return { a0: reg(m.h, 'a0'), stored: peek64(m.mem, pa + 8n), stoppedAt: r.stoppedAt };
}

const cases: [string, bigint][] = [['Sv39', SATP_SV39], ['Sv48', SATP_SV48], ['Sv57', SATP_SV57]];

for (const [name, mode] of cases) {
  test(`${name}: a 4 KiB page maps VA to PA`, () => {
    const va = 0x40001000n + 0x10n, pa = DATA_PA + 0x3000n + 0x10n;
    const r = readWrite(mode, va, pa, (pt) => pt.map(0x40001000n, DATA_PA + 0x3000n, RW));
    assert.equal(r.stoppedAt, 'done');
    assert.equal(r.a0, 0x1122334455667788n);
    assert.equal(r.stored, 0x5a5a5a5a5a5a5a5an);
  });

  test(`${name}: a 2 MiB megapage maps the whole 2 MiB range`, () => {
    // VA 0x40200000 -> PA 0x80200000 (2 MiB aligned); DATA_PA is 1 MiB into it.
    const off = DATA_PA - 0x80200000n + 0x2468n;
    const r = readWrite(mode, 0x40200000n + off, 0x80200000n + off, (pt) => pt.map(0x40200000n, 0x80200000n, RW, 1));
    assert.equal(r.stoppedAt, 'done');
    assert.equal(r.a0, 0x1122334455667788n);
    assert.equal(r.stored, 0x5a5a5a5a5a5a5a5an);
  });

  test(`${name}: a 1 GiB gigapage maps the whole 1 GiB range`, () => {
    const off = DATA_PA - 0x80000000n + 0x128n;
    const r = readWrite(mode, 0x40000000n + off, DATA_PA + 0x128n, (pt) => pt.map(0x40000000n, 0x80000000n, RW, 2));
    assert.equal(r.stoppedAt, 'done');
    assert.equal(r.a0, 0x1122334455667788n);
  });
}

test('Sv48: a 512 GiB page (level 3 leaf) maps the low physical space', () => {
  // VA 0x8000000000 (VPN[3] = 1) -> PA 0: the PA is the VA offset within 512 GiB.
  const va = 0x8000000000n + DATA_PA + 0x40n;
  const r = readWrite(SATP_SV48, va, DATA_PA + 0x40n, (pt) => pt.map(0x8000000000n, 0n, RW, 3));
  assert.equal(r.stoppedAt, 'done');
  assert.equal(r.a0, 0x1122334455667788n);
});

test('Sv57: VA bits 56:48 select the top-level entry', () => {
  const va = 0x0001000040001000n; // VPN[4] = 1
  const r = readWrite(SATP_SV57, va, DATA_PA, (pt) => pt.map(va, DATA_PA, RW));
  assert.equal(r.stoppedAt, 'done');
  assert.equal(r.a0, 0x1122334455667788n);
});

test('Sv39: the high half of the address space is reachable with sign-extended VAs', () => {
  const va = 0xffffffffc0001000n; // VPN[2] = 511
  const r = readWrite(SATP_SV39, va, DATA_PA, (pt) => pt.map(va, DATA_PA, RW));
  assert.equal(r.stoppedAt, 'done');
  assert.equal(r.a0, 0x1122334455667788n);
});

function misalignedSuperpage(level: number, pa: bigint): { cause: bigint; tval: bigint; stoppedAt: string; va: bigint } {
  const va = 0x40000000n + (level === 1 ? 0x200000n : 0n) + 0x18n;
  const m = paged(SATP_SV39, `
    li t1, ${va}
    ld a0, 0(t1)`, (pt) => pt.map(va & ~((1n << BigInt(12 + 9 * level)) - 1n), pa, RW, level));
  const r = run(m, { until: ['done', 'mtrap'] });
  return { ...mtrap(m.h), stoppedAt: r.stoppedAt, va };
}

test('a 2 MiB superpage whose PPN is not 2 MiB aligned is a page fault', () => {
  const r = misalignedSuperpage(1, DATA_PA + 0x1000n);
  assert.equal(r.stoppedAt, 'mtrap');
  assert.equal(r.cause, 13n);
  assert.equal(r.tval, r.va);
});

test('a 1 GiB superpage whose PPN is not 1 GiB aligned is a page fault', () => {
  const r = misalignedSuperpage(2, 0x80200000n);
  assert.equal(r.stoppedAt, 'mtrap');
  assert.equal(r.cause, 13n);
  assert.equal(r.tval, r.va);
});
