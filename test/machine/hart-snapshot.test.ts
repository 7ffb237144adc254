// Hart and RAM sections on their own: round trips, and states a hart or RAM can never be
// in are refused without changing anything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hart, INVALID_TAG } from '../../src/cpu/hart.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { Slot, slotIndex } from '../../src/cpu/state.js';
import { SnapshotError } from '../../src/devices/snapshot.js';
import { restoreHart, saveHart, type HartSnapshot } from '../../src/machine/hart-snapshot.js';
import { prepareRam, saveRam } from '../../src/machine/ram-snapshot.js';

const BASE = 0x8000_0000;

function hart(id = 0) {
  return new Hart(new GuestMemory(BASE, 1 << 20), { hartId: id });
}

test('hart: registers, CSRs, PMP (locked too) and WFI survive; the TLB does not', () => {
  const a = hart(1);
  a.s.setX(5, -2n);
  a.s.setF(3, 0x4000_0000_0000_0000n);
  a.pc = 0x8000_1234n;
  a.priv = 1;
  a.s.set64(Slot.Satp, (9n << 60n) | 0x80123n);
  a.pmp.writeAddr(0, 0x2000_0000, 0);
  a.pmp.writeCfg(0, 0x8f); // locked TOR, RWX
  a.waiting = true;
  const saved = saveHart(a);
  const b = hart(1);
  b.tlbTagLo.fill(0);
  restoreHart(b, saved, 'hart1');
  assert.deepEqual(saveHart(b), saved);
  assert.equal(b.pc, 0x8000_1234n);
  assert.equal(b.pmp.cfg[0], 0x8f);
  assert.ok(b.tlbTagLo.every((v) => v === INVALID_TAG), 'every TLB entry is invalid');
});

test('hart: impossible states are refused', () => {
  const h = hart(0);
  const saved = saveHart(h);
  const w = (change: (w: Int32Array) => void): HartSnapshot => {
    const s = structuredClone(saved);
    change(new Int32Array(s.state.buffer));
    return s;
  };
  const before = saveHart(h);
  for (const s of [
    w((v) => { v[slotIndex(Slot.Priv)] = 2; }), w((v) => { v[slotIndex(Slot.Mhartid)] = 1; }), w((v) => { v[0] = 1; }),
    w((v) => { v[slotIndex(Slot.Misa)] ^= 1 << 2; }), w((v) => { v[slotIndex(Slot.Satp) + 1] = 5 << 28; }),
    w((v) => { v[slotIndex(Slot.Mstatus)] |= 2 << 11; }), w((v) => { v[slotIndex(Slot.Fcsr) + 1] = 8; }),
    { ...saved, state: saved.state.subarray(0, 1000) }, { ...saved, pmp: saved.pmp.slice(1) },
    { ...saved, pmp: saved.pmp.map((e, i) => (i === 3 ? { ...e, cfg: 0x02 } : e)) },
    { ...saved, pmp: saved.pmp.map((e, i) => (i === 3 ? { ...e, addrHi: 0x40_0000 } : e)) },
    { ...saved, waiting: 'no' },
  ]) {
    assert.throws(() => restoreHart(h, s, 'hart0'), SnapshotError);
    assert.deepEqual(saveHart(h), before);
  }
});

test('ram: non-zero pages only, restored over other contents', () => {
  const a = new GuestMemory(BASE, 1 << 20);
  a.write(BASE + 0x3000, Uint8Array.of(1));
  a.write(BASE + 0x4ff0, new Uint8Array(32).fill(2));
  a.write(BASE + 0xff000, Uint8Array.of(3));
  const saved = saveRam(a);
  assert.deepEqual(saved.runs.map((r) => [r.page, r.bytes.length / 4096]), [[3, 3], [255, 1]]);
  const b = new GuestMemory(BASE, 1 << 20);
  b.write(BASE + 0x10000, Uint8Array.of(9));
  prepareRam(b, saved)();
  assert.deepEqual(b.read(BASE, 1 << 20), a.read(BASE, 1 << 20));
  assert.equal(b.dirty[0x10], 1, 'the zeroed page is marked dirty');
});

test('ram: a section that does not fit is refused before anything is written', () => {
  const a = new GuestMemory(BASE, 1 << 20);
  a.write(BASE, Uint8Array.of(7));
  const page = new Uint8Array(4096);
  for (const s of [
    { pageSize: 4096, pages: 128, runs: [] }, { pageSize: 512, pages: 256, runs: [] },
    { pageSize: 4096, pages: 256, runs: [{ page: 255, bytes: new Uint8Array(8192) }] },
    { pageSize: 4096, pages: 256, runs: [{ page: 5, bytes: page }, { page: 5, bytes: page }] },
    { pageSize: 4096, pages: 256, runs: [{ page: 6, bytes: page }, { page: 2, bytes: page }] },
    { pageSize: 4096, pages: 256, runs: [{ page: 1, bytes: new Uint8Array(100) }] },
  ]) {
    assert.throws(() => prepareRam(a, s), SnapshotError);
  }
  assert.equal(a.read(BASE, 1)[0], 7);
});
