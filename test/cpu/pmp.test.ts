// Physical memory protection: TOR, NA4 and NAPOT regions; the lowest-numbered entry
// matching any byte decides and must match all bytes; S/U accesses matching no entry
// fail (access faults 1/5/7) since entries are implemented; M-mode is only subject to
// locked entries; a locked entry ignores writes to its pmpcfg and pmpaddr.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DATA_PA, enterMode, mtrap, reg, runAsm } from '../support/run-asm.js';

const R = 1, W = 2, X = 4, TOR = 0x08, NA4 = 0x10, NAPOT = 0x18, L = 0x80;
const napot = (base: bigint, size: bigint) => (base | (size / 2n - 1n)) >> 2n;
/** Entry 7: code and everything below DATA_PA (the first 2 MiB of RAM), RWX. */
const CODE = `
    li t0, ${napot(0x80000000n, 0x200000n)}
    csrw pmpaddr7, t0
    li t0, ${BigInt(NAPOT | R | W | X) << 56n}
    csrs pmpcfg0, t0`;

function pmpcfg(entry: number, v: number): string {
  return `
    li t0, ${BigInt(v) << BigInt(8 * (entry % 8))}
    csrs pmpcfg${entry < 8 ? 0 : 2}, t0`;
}

function pmpaddr(entry: number, v: bigint): string {
  return `
    li t0, ${v}
    csrw pmpaddr${entry}, t0`;
}

interface Outcome { stoppedAt: string; cause: bigint; tval: bigint; a0: bigint }

function attempt(setup: string, mode: 'S' | 'U' | 'M', body: string): Outcome {
  const { h, stoppedAt } = runAsm(`
    la t0, mtrap
    csrw mtvec, t0
    ${setup}
    li s0, ${DATA_PA}
    ${mode === 'M' ? '' : enterMode(mode, 'lower', false)}
  lower:
    ${body}
  done: j done
  .align 2
  mtrap: j mtrap`, { until: ['done', 'mtrap'] });
  return { stoppedAt, ...mtrap(h), a0: reg(h, 'a0') };
}

function assertFault(o: Outcome, cause: bigint, tval: bigint, what: string): void {
  assert.equal(o.stoppedAt, 'mtrap', `${what}: should fault`);
  assert.equal(o.cause, cause, what);
  assert.equal(o.tval, tval, what);
}

test('S/U accesses that match no entry fail with access faults 5/7/1', () => {
  for (const mode of ['S', 'U'] as const) {
    assertFault(attempt(CODE, mode, 'ld a0, 0(s0)'), 5n, DATA_PA, `${mode} load`);
    assertFault(attempt(CODE, mode, 'sd a0, 8(s0)'), 7n, DATA_PA + 8n, `${mode} store`);
    assertFault(attempt(CODE, mode, 'jr s0'), 1n, DATA_PA, `${mode} fetch`);
    assert.equal(attempt(CODE, mode, 'nop').stoppedAt, 'done', `${mode} code inside the entry runs`);
  }
});

test('M-mode accesses with no matching entry succeed', () => {
  assert.equal(attempt(CODE, 'M', 'ld a0, 0(s0)\n    sd a0, 8(s0)').stoppedAt, 'done');
});

test('NAPOT: permissions apply over the whole naturally aligned region', () => {
  const setup = CODE + pmpaddr(0, napot(DATA_PA, 0x1000n)) + pmpcfg(0, NAPOT | R);
  assert.equal(attempt(setup, 'S', 'ld a0, 0(s0)\n    li t1, 0xff8\n    add t1, t1, s0\n    ld a0, 0(t1)').stoppedAt, 'done');
  assertFault(attempt(setup, 'S', 'sd a0, 0x10(s0)'), 7n, DATA_PA + 0x10n, 'store to R-only');
  assertFault(attempt(setup, 'S', 'li t1, 0x1000\n    add t1, t1, s0\n    ld a0, 0(t1)'), 5n, DATA_PA + 0x1000n, 'past the end');
});

test('TOR: the region is [pmpaddr(i-1), pmpaddr(i))', () => {
  const setup = CODE + pmpaddr(0, DATA_PA >> 2n) + pmpaddr(1, (DATA_PA + 0x100n) >> 2n) + pmpcfg(1, TOR | R | W);
  assert.equal(attempt(setup, 'S', 'sd a0, 0(s0)\n    ld a0, 0xf8(s0)').stoppedAt, 'done');
  assertFault(attempt(setup, 'S', 'ld a0, 0x100(s0)'), 5n, DATA_PA + 0x100n, 'at the top (exclusive)');
  assertFault(attempt(setup, 'S', 'ld a0, -8(s0)'), 5n, DATA_PA - 8n, 'below the bottom');
});

test('TOR in entry 0 starts at address 0', () => {
  const setup = pmpaddr(0, (DATA_PA + 0x1000n) >> 2n) + pmpcfg(0, TOR | R | W | X);
  assert.equal(attempt(setup, 'S', 'ld a0, 0(s0)').stoppedAt, 'done');
});

test('NA4: a 4-byte region', () => {
  const setup = CODE + pmpaddr(0, DATA_PA >> 2n) + pmpcfg(0, NA4 | R);
  assert.equal(attempt(setup, 'S', 'lw a0, 0(s0)').stoppedAt, 'done');
  assertFault(attempt(setup, 'S', 'lw a0, 4(s0)'), 5n, DATA_PA + 4n, 'next word');
});

test('the lowest-numbered matching entry decides', () => {
  const setup = CODE + pmpaddr(0, DATA_PA >> 2n) + pmpcfg(0, NA4) +
    pmpaddr(1, napot(DATA_PA, 0x1000n)) + pmpcfg(1, NAPOT | R | W);
  assertFault(attempt(setup, 'S', 'lw a0, 0(s0)'), 5n, DATA_PA, 'entry 0 denies');
  assert.equal(attempt(setup, 'S', 'lw a0, 4(s0)').stoppedAt, 'done', 'entry 1 allows');
});

test('an access only partly inside the deciding entry fails, even if a later entry allows it', () => {
  const setup = CODE + pmpaddr(0, DATA_PA >> 2n) + pmpcfg(0, NA4 | R | W) +
    pmpaddr(1, napot(DATA_PA, 0x1000n)) + pmpcfg(1, NAPOT | R | W);
  assertFault(attempt(setup, 'S', 'ld a0, 0(s0)'), 5n, DATA_PA, 'ld over a 4-byte entry');
  assertFault(attempt(setup, 'S', 'sd a0, 0(s0)'), 7n, DATA_PA, 'sd over a 4-byte entry');
});

test('a partial match fails in M-mode too', () => {
  const setup = pmpaddr(0, DATA_PA >> 2n) + pmpcfg(0, NA4 | R | W | X);
  assertFault(attempt(setup, 'M', 'ld a0, 0(s0)'), 5n, DATA_PA, 'M ld over a 4-byte entry');
});

test('an unlocked entry does not restrict M-mode; a locked one does', () => {
  const unlocked = pmpaddr(0, napot(DATA_PA, 0x1000n)) + pmpcfg(0, NAPOT);
  assert.equal(attempt(unlocked, 'M', 'ld a0, 0(s0)\n    sd a0, 0(s0)').stoppedAt, 'done');
  const locked = pmpaddr(0, napot(DATA_PA, 0x1000n)) + pmpcfg(0, NAPOT | R | L);
  assert.equal(attempt(locked, 'M', 'ld a0, 0(s0)').stoppedAt, 'done', 'locked R allows the load');
  assertFault(attempt(locked, 'M', 'sd a0, 0(s0)'), 7n, DATA_PA, 'locked without W');
});

test('a locked entry ignores writes to its pmpcfg byte and pmpaddr', () => {
  const { h } = runAsm(`
    li t0, ${napot(DATA_PA, 0x1000n)}
    csrw pmpaddr0, t0
    li t0, ${NAPOT | R | L}
    csrw pmpcfg0, t0
    li t0, 0x1234
    csrw pmpaddr0, t0
    csrr a0, pmpaddr0
    csrw pmpcfg0, zero
    csrr a1, pmpcfg0
  done: j done`);
  assert.equal(reg(h, 'a0'), napot(DATA_PA, 0x1000n));
  assert.equal(reg(h, 'a1') & 0xffn, BigInt(NAPOT | R | L));
});

test('a locked TOR entry also locks the pmpaddr below it', () => {
  const { h } = runAsm(`
    li t0, ${DATA_PA >> 2n}
    csrw pmpaddr0, t0
    li t0, ${(DATA_PA + 0x1000n) >> 2n}
    csrw pmpaddr1, t0
    li t0, ${BigInt(TOR | R | L) << 8n}
    csrw pmpcfg0, t0
    li t0, 0x1234
    csrw pmpaddr0, t0
    csrr a0, pmpaddr0
  done: j done`);
  assert.equal(reg(h, 'a0'), DATA_PA >> 2n);
});

test('unlocked pmpcfg and pmpaddr are writable and read back', () => {
  const { h } = runAsm(`
    li t0, 0x2003ffff
    csrw pmpaddr3, t0
    csrr a0, pmpaddr3
    li t0, ${BigInt(NAPOT | R | X) << 24n}
    csrw pmpcfg0, t0
    csrr a1, pmpcfg0
  done: j done`);
  assert.equal(reg(h, 'a0'), 0x2003ffffn);
  assert.equal(reg(h, 'a1'), BigInt(NAPOT | R | X) << 24n);
});
