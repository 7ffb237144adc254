// Page faults (instruction 12, load 13, store/AMO 15) with mtval = the faulting VA, for
// every reason a leaf or walk can fail: V = 0, W without R, non-canonical VA, U pages
// from S (SUM; never executable), S pages from U, MXR, read-only pages, reserved PTE
// bits; and an access fault when a PTE lies outside RAM. Sv39 throughout.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DATA_PA, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X, PageTables, SATP_SV39, mtrap, paged, reg, run,
} from '../support/run-asm.js';

const VA = 0x40001000n;
const SUM = 1n << 18n, MXR = 1n << 19n, MPRV = 1n << 17n;

interface Outcome { stoppedAt: string; cause: bigint; tval: bigint; epc: bigint; site: bigint; a0: bigint }

function access(insn: string, map: (pt: PageTables) => void, opts: Parameters<typeof paged>[3] = {}, va = VA + 0x10n): Outcome {
  const m = paged(SATP_SV39, `
    li t1, ${va}
    li a0, 0
  site: ${insn}`, (pt) => map(pt), opts);
  const r = run(m, { until: ['done', 'mtrap'] });
  return { stoppedAt: r.stoppedAt, ...mtrap(m.h), site: m.sym('site'), a0: reg(m.h, 'a0') };
}

const LOAD = 'ld a0, 0(t1)', STORE = 'sd t1, 0(t1)', FETCH = 'jalr t1', AMO = 'amoadd.d a0, t1, (t1)';

function assertFault(o: Outcome, cause: bigint, va: bigint, what: string): void {
  assert.equal(o.stoppedAt, 'mtrap', `${what}: should fault`);
  assert.equal(o.cause, cause, what);
  assert.equal(o.tval, va, `${what}: mtval`);
  assert.equal(o.epc, cause === 12n ? va : o.site, `${what}: mepc`);
}

const map = (flags: bigint) => (pt: PageTables) => pt.map(VA, DATA_PA, flags);
const A_D = PTE_A | PTE_D;

test('V = 0: load, store and fetch page faults with mtval = VA', () => {
  const invalid = (pt: PageTables) => pt.setRaw(VA, 0, ((DATA_PA >> 12n) << 10n) | PTE_R | PTE_W | PTE_X | A_D);
  assertFault(access(LOAD, invalid), 13n, VA + 0x10n, 'load');
  assertFault(access(STORE, invalid), 15n, VA + 0x10n, 'store');
  assertFault(access(FETCH, invalid), 12n, VA + 0x10n, 'fetch');
});

test('an unmapped address (invalid non-leaf entry) page-faults', () => {
  assertFault(access(LOAD, () => undefined, {}, 0x7000000n), 13n, 0x7000000n, 'load');
});

test('W without R is reserved: page fault even for a store', () => {
  assertFault(access(STORE, map(PTE_W | A_D)), 15n, VA + 0x10n, 'store');
  assertFault(access(LOAD, map(PTE_W | A_D)), 13n, VA + 0x10n, 'load');
});

test('non-canonical VAs (bits 63:39 not all equal to bit 38) page-fault', () => {
  const bad = 0x0000008000000000n; // bit 39 set, bit 38 clear
  assertFault(access(LOAD, map(PTE_R | A_D), {}, bad), 13n, bad, 'load');
  assertFault(access(STORE, map(PTE_R | PTE_W | A_D), {}, bad), 15n, bad, 'store');
  assertFault(access(FETCH, map(PTE_X | A_D), {}, bad), 12n, bad, 'fetch');
  const bad2 = 0xffff7fffc0000000n; // top bits mixed
  assertFault(access(LOAD, map(PTE_R | A_D), {}, bad2), 13n, bad2, 'load, mixed upper bits');
});

test('store to a read-only page: store page fault (15), also for AMOs', () => {
  assertFault(access(STORE, map(PTE_R | A_D)), 15n, VA + 0x10n, 'store');
  assertFault(access(AMO, map(PTE_R | A_D)), 15n, VA + 0x10n, 'amo');
});

test('fetch from a page without X: instruction page fault (12)', () => {
  assertFault(access(FETCH, map(PTE_R | PTE_W | A_D)), 12n, VA + 0x10n, 'fetch');
});

test('an X-only page is not readable without MXR, readable with MXR', () => {
  assertFault(access(LOAD, map(PTE_X | A_D)), 13n, VA + 0x10n, 'load without MXR');
  const o = access(LOAD, map(PTE_X | A_D), { mstatusBits: MXR });
  assert.equal(o.stoppedAt, 'done');
  assertFault(access(STORE, map(PTE_X | A_D), { mstatusBits: MXR }), 15n, VA + 0x10n, 'MXR does not allow stores');
});

test('S-mode load from a U page faults without SUM and succeeds with SUM', () => {
  assertFault(access(LOAD, map(PTE_R | PTE_W | PTE_U | A_D)), 13n, VA + 0x10n, 'load without SUM');
  assertFault(access(STORE, map(PTE_R | PTE_W | PTE_U | A_D)), 15n, VA + 0x10n, 'store without SUM');
  assert.equal(access(LOAD, map(PTE_R | PTE_W | PTE_U | A_D), { mstatusBits: SUM }).stoppedAt, 'done');
  assert.equal(access(STORE, map(PTE_R | PTE_W | PTE_U | A_D), { mstatusBits: SUM }).stoppedAt, 'done');
});

test('S-mode never executes from a U page, even with SUM', () => {
  assertFault(access(FETCH, map(PTE_R | PTE_X | PTE_U | A_D), { mstatusBits: SUM }), 12n, VA + 0x10n, 'fetch');
});

test('U-mode access to a supervisor page faults', () => {
  // The body runs in M-mode with MPRV = 1 and MPP = U: loads and stores are U accesses.
  const asU = { mode: 'M' as const, mstatusBits: MPRV };
  assertFault(access(LOAD, map(PTE_R | PTE_W | A_D), asU), 13n, VA + 0x10n, 'load');
  assertFault(access(STORE, map(PTE_R | PTE_W | A_D), asU), 15n, VA + 0x10n, 'store');
  assert.equal(access(LOAD, map(PTE_R | PTE_W | PTE_U | A_D), asU).stoppedAt, 'done', 'U page is fine');
});

test('U-mode fetch from a supervisor page faults, from a U page runs', () => {
  // Real U-mode: the code page is aliased at VA 0x10000000; it ends with an ecall.
  const inUser = (flags: bigint): { cause: bigint; tval: bigint; a0: bigint } => {
    const m = paged(SATP_SV39, `
      j ucode_end
      .align 12
    ucode:
      li a0, 42
      ecall
    ucode_end:
      li t0, 0x10000000
      csrw sepc, t0
      li t0, 0x100
      csrc sstatus, t0           # SPP = U
      sret`, (pt, mm) => pt.map(0x10000000n, mm.sym('ucode'), flags | PTE_A | PTE_D));
    run(m, { until: ['done', 'mtrap'] });
    return { ...mtrap(m.h), a0: reg(m.h, 'a0') };
  };
  const s = inUser(PTE_R | PTE_X);
  assert.equal(s.cause, 12n);
  assert.equal(s.tval, 0x10000000n);
  const u = inUser(PTE_R | PTE_X | PTE_U);
  assert.equal(u.cause, 8n, 'the U page runs up to its ecall');
  assert.equal(u.a0, 42n);
});

test('reserved PTE bits 63:54 set: page fault', () => {
  for (const b of [54n, 60n, 63n]) {
    const o = access(LOAD, (pt) => pt.setRaw(VA, 0, (1n << b) | ((DATA_PA >> 12n) << 10n) | PTE_V | PTE_R | A_D));
    assertFault(o, 13n, VA + 0x10n, `bit ${b}`);
  }
});

test('a PTE outside RAM: access fault of the original access type', () => {
  // A non-leaf entry pointing at physical 0x1000 (no RAM there).
  const outside = (pt: PageTables) => pt.setRaw(VA, 2, ((0x1000n >> 12n) << 10n) | PTE_V);
  for (const [insn, cause] of [[LOAD, 5n], [STORE, 7n], [FETCH, 1n]] as const) {
    const o = access(insn, outside);
    assert.equal(o.stoppedAt, 'mtrap', insn);
    assert.equal(o.cause, cause, insn);
    assert.equal(o.tval, VA + 0x10n, insn);
  }
});
