// Hardware A/D updates (a load sets A, a store sets A and D, in the PTE in memory),
// MPRV = 1 with MPP = S making M-mode loads and stores translate as S, and SFENCE.VMA
// making a changed PTE visible. Sv39.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DATA_PA, PTE_A, PTE_D, PTE_R, PTE_W, SATP_SV39, SATP_SV48, mtrap, paged, peek64, poke64, reg, run,
} from '../support/run-asm.js';

const VA = 0x40001000n;
const MPRV = 1n << 17n, MPP_S = 1n << 11n;

function adAfter(insn: string): bigint {
  let pteAddr = 0n;
  const m = paged(SATP_SV39, `
    li t1, ${VA}
    ${insn}`, (pt) => { pteAddr = pt.map(VA, DATA_PA, PTE_R | PTE_W); });
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done', insn);
  return peek64(m.mem, pteAddr) & (PTE_A | PTE_D);
}

test('a load sets A (not D) in the leaf PTE in memory', () => {
  assert.equal(adAfter('ld a0, 0(t1)'), PTE_A);
});

test('a store sets A and D', () => {
  assert.equal(adAfter('sd a0, 0(t1)'), PTE_A | PTE_D);
});

test('an AMO sets A and D', () => {
  assert.equal(adAfter('amoor.d a0, zero, (t1)'), PTE_A | PTE_D);
});

test('a store after a load (page already accessed) still sets D', () => {
  assert.equal(adAfter('ld a0, 0(t1)\n    sd a0, 8(t1)'), PTE_A | PTE_D);
});

test('a fetch sets A', () => {
  let pteAddr = 0n;
  const m = paged(SATP_SV39, `
    j over
    .align 12
  page:
    ret
  over:
    li t1, 0x10000000
    jalr t1`, (pt, mm) => { pteAddr = pt.map(0x10000000n, mm.sym('page'), 8n /* X */); });
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done');
  assert.equal(peek64(m.mem, pteAddr) & (PTE_A | PTE_D), PTE_A);
});

test('MPRV = 1 with MPP = S: M-mode loads and stores are translated', () => {
  const m = paged(SATP_SV39, `
    li t1, ${VA}
    ld a0, 8(t1)
    li t2, 99
    sd t2, 16(t1)`, (pt) => pt.map(VA, DATA_PA, PTE_R | PTE_W | PTE_A | PTE_D), { mode: 'M', mstatusBits: MPRV | MPP_S });
  poke64(m.mem, DATA_PA + 8n, 0xabcdefn);
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done');
  assert.equal(m.h.priv, 3);
  assert.equal(reg(m.h, 'a0'), 0xabcdefn);
  assert.equal(peek64(m.mem, DATA_PA + 16n), 99n);
});

test('MPRV does not translate M-mode instruction fetch', () => {
  // The code runs at its physical address, which the page tables do not map below 2 GiB.
  const m = paged(SATP_SV39, `
    li t1, ${VA}
    ld a0, 0(t1)`, (pt) => pt.map(VA, DATA_PA, PTE_R | PTE_A), { mode: 'M', mstatusBits: MPRV | MPP_S });
  poke64(m.mem, DATA_PA, 7n);
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done');
  assert.equal(reg(m.h, 'a0'), 7n);
});

test('MPRV with MPP = S faults like S: a fault in M with MPRV reports the VA', () => {
  const m = paged(SATP_SV39, `
    li t1, ${VA}
  site: ld a0, 0(t1)`, () => undefined, { mode: 'M', mstatusBits: MPRV | MPP_S });
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'mtrap');
  assert.deepEqual(mtrap(m.h), { cause: 13n, epc: m.sym('site'), tval: VA });
});

test('after changing a PTE, sfence.vma makes the new mapping visible', () => {
  let pteAddr = 0n;
  const m = paged(SATP_SV39, `
    li t1, ${VA}
    ld a0, 0(t1)                 # fills the TLB with the old mapping
    la t2, pte_addr
    ld t2, 0(t2)
    la t3, new_pte
    ld t3, 0(t3)
    sd t3, 0(t2)                 # repoint the PTE
    sfence.vma
    ld a1, 0(t1)
    j done
  .data
  pte_addr: .dword 0
  new_pte: .dword 0
  .text`, (pt, mm) => {
    pteAddr = pt.map(VA, DATA_PA, PTE_R | PTE_A);
    poke64(mm.mem, mm.sym('pte_addr'), pteAddr);
    poke64(mm.mem, mm.sym('new_pte'), (((DATA_PA + 0x1000n) >> 12n) << 10n) | 1n | PTE_R | PTE_A);
  });
  poke64(m.mem, DATA_PA, 0x1111n);
  poke64(m.mem, DATA_PA + 0x1000n, 0x2222n);
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done');
  assert.equal(reg(m.h, 'a0'), 0x1111n);
  assert.equal(reg(m.h, 'a1'), 0x2222n);
});

test('after invalidating a PTE, sfence.vma makes the access fault', () => {
  const m = paged(SATP_SV39, `
    li t1, ${VA}
    ld a0, 0(t1)
    la t2, pte_addr
    ld t2, 0(t2)
    sd zero, 0(t2)
    sfence.vma t1, zero
  site:
    ld a1, 0(t1)
    j done
  .data
  pte_addr: .dword 0
  .text`, (pt, mm) => {
    poke64(mm.mem, mm.sym('pte_addr'), pt.map(VA, DATA_PA, PTE_R | PTE_A));
  });
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'mtrap');
  assert.deepEqual(mtrap(m.h), { cause: 13n, epc: m.sym('site'), tval: VA });
});

test('sfence.vma of one address in a megapage drops the TLB entries of its other 4 KiB parts', () => {
  // The TLB keeps 4 KiB entries; all those made from one megapage hold the same leaf.
  const MEGA = 0x40200000n;
  let pteAddr = 0n;
  const m = paged(SATP_SV39, `
    li t1, ${MEGA + 0x3000n}
    ld a0, 0(t1)                 # an entry for the megapage's fourth 4 KiB page
    la t2, pte_addr
    ld t2, 0(t2)
    la t3, new_pte
    ld t3, 0(t3)
    sd t3, 0(t2)                 # repoint the megapage
    li t4, ${MEGA}
    sfence.vma t4, zero          # names its first page only
    ld a1, 0(t1)
    li t5, ${VA}
    ld a2, 0(t5)                 # a 4 KiB page elsewhere still maps
    sfence.vma t5, zero
    ld a3, 0(t5)
    j done
  .data
  pte_addr: .dword 0
  new_pte: .dword 0
  .text`, (pt, mm) => {
    const base = DATA_PA & ~0x1fffffn;
    pteAddr = pt.map(MEGA, base, PTE_R | PTE_A, 1);
    pt.map(VA, DATA_PA, PTE_R | PTE_A);
    poke64(mm.mem, mm.sym('pte_addr'), pteAddr);
    poke64(mm.mem, mm.sym('new_pte'), (((base + 0x200000n) >> 12n) << 10n) | 1n | PTE_R | PTE_A);
  }, { ramSize: 8 << 20 });
  const base = DATA_PA & ~0x1fffffn;
  poke64(m.mem, base + 0x3000n, 0x1111n);
  poke64(m.mem, base + 0x203000n, 0x2222n);
  poke64(m.mem, DATA_PA, 0x3333n);
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'done');
  assert.equal(reg(m.h, 'a0'), 0x1111n);
  assert.equal(reg(m.h, 'a1'), 0x2222n);
  assert.equal(reg(m.h, 'a2'), 0x3333n);
  assert.equal(reg(m.h, 'a3'), 0x3333n);
});

test('sfence.vma of one address under a 512 GiB leaf drops the entries of the rest of it', () => {
  // One Sv48 root entry maps [512 GiB, 1 TiB) to [0, 512 GiB): its TLB entries span many
  // 1 GiB regions, so a flush by any address in it must reach them all.
  const BIG = 1n << 39n;
  const m = paged(SATP_SV48, `
    li t1, ${BIG + DATA_PA + 0x7b000n}
    li t2, 5
    sd t2, 0(t1)                 # a write entry, far from the leaf's first page (and in a
                                 # TLB slot no other access here uses)
    la t2, pte_addr
    ld t2, 0(t2)
    la t3, new_pte
    ld t3, 0(t3)
    sd t3, 0(t2)                 # the leaf loses W
    li t4, ${BIG}
    sfence.vma t4, zero
  site:
    sd t2, 0(t1)
    j done
  .data
  pte_addr: .dword 0
  new_pte: .dword 0
  .text`, (pt, mm) => {
    poke64(mm.mem, mm.sym('pte_addr'), pt.map(BIG, 0n, PTE_R | PTE_W | PTE_A | PTE_D, 3));
    poke64(mm.mem, mm.sym('new_pte'), 1n | PTE_R | PTE_A | PTE_D);
  });
  assert.equal(run(m, { until: ['done', 'mtrap'] }).stoppedAt, 'mtrap');
  assert.deepEqual(mtrap(m.h), { cause: 15n, epc: m.sym('site'), tval: BIG + DATA_PA + 0x7b000n });
});
