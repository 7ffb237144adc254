// The DTB writer against the format rules of the Devicetree Specification (chapter 5),
// and the reader against everything a hostile or broken blob can throw at it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Phandles, bytes, empty, findNode, getProp, node, parseFdt, readCells, readStrings, str, strList, toBytes, u32, u64,
  type FdtNode,
} from '../../src/machine/fdt.js';

function sample(): FdtNode {
  const ph = new Phandles();
  const intc = ph.next();
  return node('', { '#address-cells': u32(2), '#size-cells': u32(2), compatible: str('test,board') }, [
    node('chosen', { bootargs: str('console=ttyS0'), 'rng-seed': bytes([1, 2, 3, 4, 5]) }),
    node('memory@80000000', { device_type: str('memory'), reg: u64(0x8000_0000, 0x1_0000_0000) }),
    node('intc', { phandle: u32(intc), 'interrupt-controller': empty(), compatible: strList('a,b', 'c') }, [
      node('child@1', { reg: u32(1), 'interrupt-parent': u32(intc), odd: bytes([9, 8, 7]) }),
    ]),
  ]);
}

const header = (b: Uint8Array) => {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const f = (i: number) => dv.getUint32(i * 4);
  return {
    magic: f(0), totalsize: f(1), structOff: f(2), stringsOff: f(3), rsvOff: f(4),
    version: f(5), lastComp: f(6), bootCpu: f(7), stringsSize: f(8), structSize: f(9),
  };
};

/** Deterministic, so a failing mutation can be replayed. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Reader failures must be its own reports, never a stray RangeError from reading out of bounds. */
function assertRejects(b: Uint8Array, why?: RegExp): void {
  assert.throws(() => parseFdt(b), (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /^invalid device tree blob: /);
    if (why) assert.match(e.message, why);
    return true;
  });
}

test('header: magic, versions, sizes and offsets agree with the blocks', () => {
  const b = toBytes(sample(), { bootCpuId: 3 });
  const h = header(b);
  assert.equal(h.magic, 0xd00dfeed);
  assert.equal(h.version, 17);
  assert.equal(h.lastComp, 16);
  assert.equal(h.bootCpu, 3);
  assert.equal(h.totalsize, b.length);
  assert.equal(h.rsvOff, 40);
  assert.equal(h.rsvOff % 8, 0);
  assert.equal(h.structOff % 4, 0);
  assert.equal(h.structSize % 4, 0);
  assert.equal(h.structOff, h.rsvOff + 16, 'an empty reservation map is just its terminator');
  assert.equal(h.stringsOff, h.structOff + h.structSize);
  assert.equal(h.totalsize, h.stringsOff + h.stringsSize);
  const dv = new DataView(b.buffer);
  assert.equal(dv.getUint32(h.structOff), 1, 'structure starts with FDT_BEGIN_NODE');
  assert.equal(dv.getUint32(h.structOff + h.structSize - 4), 9, 'structure ends with FDT_END');
});

test('round trip: the reader gives back the tree the writer was given', () => {
  const tree = sample();
  const parsed = parseFdt(toBytes(tree));
  assert.deepEqual(parsed.root, tree);
  assert.deepEqual(parsed.reservations, []);
  assert.equal(parsed.version, 17);
});

test('round trip: memory reservations and the boot cpu', () => {
  const reservations = [{ address: 0x8000_0000n, size: 0x20_0000n }, { address: 0xffff_ffff_0000_0000n, size: 1n }];
  const b = toBytes(sample(), { reservations, bootCpuId: 1 });
  const h = header(b);
  assert.equal(h.structOff, 40 + 3 * 16);
  const parsed = parseFdt(b);
  assert.deepEqual(parsed.reservations, reservations);
  assert.equal(parsed.bootCpuId, 1);
});

test('property values: cells big-endian, u64 as two cells, strings NUL-terminated', () => {
  assert.deepEqual([...u32(0x01020304)], [1, 2, 3, 4]);
  assert.deepEqual(readCells(u64(0x1_2345_6789, 5)), [1, 0x2345_6789, 0, 5]);
  assert.deepEqual([...str('ab')], [0x61, 0x62, 0]);
  assert.deepEqual(readStrings(strList('x', 'yz')), ['x', 'yz']);
  assert.equal(empty().length, 0);
  assert.throws(() => u32(-1), RangeError);
  assert.throws(() => u32(2 ** 32), RangeError);
  assert.throws(() => u64(2 ** 53), RangeError);
  assert.throws(() => str('a\0b'), RangeError);
});

test('property values are padded to 4 bytes and property names are stored once', () => {
  const b = toBytes(sample());
  const h = header(b);
  const strings = new TextDecoder().decode(b.subarray(h.stringsOff, h.stringsOff + h.stringsSize)).split('\0').slice(0, -1);
  assert.equal(new Set(strings).size, strings.length, `duplicates in ${strings.join(',')}`);
  assert.ok(strings.includes('phandle') && strings.includes('reg'));
  // 'odd' holds 3 bytes; the token after it must still be aligned, which the reader checks.
  assert.deepEqual([...getProp(findNode(parseFdt(b).root, '/intc/child@1')!, 'odd')!], [9, 8, 7]);
});

test('phandles count up from 1', () => {
  const ph = new Phandles();
  assert.deepEqual([ph.next(), ph.next(), ph.next()], [1, 2, 3]);
});

test('the writer refuses trees the format cannot express', () => {
  assert.throws(() => toBytes(node('x')), /root/);
  assert.throws(() => toBytes(node('', {}, [node('bad name')])), /node name/);
  assert.throws(() => toBytes(node('', {}, [node('')])), /node name/);
  assert.throws(() => toBytes(node('', { 'a b': empty() })), /property name/);
  assert.throws(() => toBytes(node('', {}, [node('a'), node('a')])), /duplicate node/);
  const dup = node('', { a: empty() });
  dup.props.push({ name: 'a', value: empty() });
  assert.throws(() => toBytes(dup), /duplicate property/);
});

test('findNode walks full names only', () => {
  const root = parseFdt(toBytes(sample())).root;
  assert.equal(findNode(root, '/')?.name, '');
  assert.equal(findNode(root, '/memory@80000000')?.name, 'memory@80000000');
  assert.equal(findNode(root, '/memory'), undefined);
  assert.equal(findNode(root, '/intc/nope'), undefined);
});

test('reader rejects each kind of damage with a reason', () => {
  const good = toBytes(sample());
  const h = header(good);
  const patched = (at: number, v: number, b = good) => {
    const c = b.slice();
    new DataView(c.buffer).setUint32(at, v);
    return c;
  };
  assertRejects(new Uint8Array(0), /header/);
  assertRejects(patched(0, 0xfeedd00d), /magic/);
  assertRejects(patched(20, 15), /version/);
  assertRejects(patched(24, 18), /version/);
  assertRejects(patched(4, good.length + 1), /totalsize/);
  assertRejects(patched(8, h.structOff + 2), /aligned/);
  assertRejects(patched(8, 0xffff_fff0), /structure block/);
  assertRejects(patched(32, 0xffff_ffff), /strings block/);
  assertRejects(patched(36, h.structSize - 4), /structure block ends/);
  assertRejects(patched(16, 44), /8-byte aligned/);
  assertRejects(patched(h.structOff, 7), /unknown token/);
  assertRejects(patched(h.structOff, 2), /END_NODE/);
  assertRejects(patched(h.structOff, 3), /outside any node/);
  assertRejects(patched(h.structOff + h.structSize - 4, 4), /ends inside/);
  assertRejects(good.subarray(0, good.length - 1), /totalsize/);
  // The first property of the root: its length, then its name offset.
  assertRejects(patched(h.structOff + 12, 0x7fff_ffff), /past the structure block/);
  assertRejects(patched(h.structOff + 16, h.stringsSize), /strings block/);
  // Strings block whose last name has lost its NUL.
  assertRejects(patched(32, h.stringsSize - 1), /NUL-terminated/);
});

test('reader rejects a reservation map without a terminator and runaway nesting', () => {
  const b = toBytes(node(''));
  const noEnd = b.slice();
  new DataView(noEnd.buffer).setUint32(40 + 12, 1); // the terminator now reserves 1 byte
  assertRejects(noEnd, /reservation map/);

  let deep = node('leaf');
  for (let i = 0; i < 100; i++) deep = node('n', {}, [deep]);
  assertRejects(toBytes(node('', {}, [deep])), /deeper/);
});

test('reader survives every truncation and random mutation with its own errors only', () => {
  const good = toBytes(sample(), { reservations: [{ address: 1n, size: 2n }] });
  for (let n = 0; n < good.length; n++) assertRejects(good.subarray(0, n));
  const rand = xorshift(0x5eed);
  for (let round = 0; round < 5000; round++) {
    const b = good.slice();
    const flips = 1 + (rand() % 4);
    for (let i = 0; i < flips; i++) {
      const at = rand() % b.length;
      // Mostly small damage, sometimes a whole word of garbage (lengths, offsets).
      if (rand() % 3 === 0 && at + 4 <= b.length) new DataView(b.buffer).setUint32(at & ~3, rand());
      else b[at] ^= 1 << (rand() % 8);
    }
    try {
      parseFdt(b);
    } catch (e) {
      assert.ok(e instanceof Error && e.message.startsWith('invalid device tree blob: '), `round ${round}: ${String(e)}`);
    }
  }
});
