// GDB remote protocol framing: checksums, escapes, acks, interrupts, split input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checksum, encodePacket, PacketReader, regFromHex, regToHex, type Frame } from '../../src/vmm/gdb/packet.js';

const bytes = (s: string) => Buffer.from(s, 'latin1');
const packets = (frames: Frame[]) => frames.map((f) => (f.kind === 'packet' ? Buffer.from(f.data).toString('latin1') : f.kind));

test('checksum is the byte sum mod 256, two lowercase hex digits on the wire', () => {
  assert.equal(checksum(bytes('OK')), 0x9a);
  assert.equal(encodePacket('OK').toString('latin1'), '$OK#9a');
  assert.equal(encodePacket('').toString('latin1'), '$#00');
  assert.equal(encodePacket('qSupported').toString('latin1'), '$qSupported#37');
});

test("'$', '#', '}' and '*' are escaped as '}' + (byte ^ 0x20), and the checksum covers the escaped bytes", () => {
  const wire = encodePacket(bytes('a$b#c}d*e')).toString('latin1');
  assert.equal(wire.slice(0, wire.indexOf('#', 14)), '$a}\x04b}\x03c}]d}\x0ae');
  const body = bytes('a}\x04b}\x03c}]d}\x0ae');
  assert.equal(wire.slice(-2), checksum(body).toString(16).padStart(2, '0'));
  // The reader undoes it.
  assert.deepEqual(packets(new PacketReader().push(bytes(wire))), ['a$b#c}d*e']);
});

test('reader: acks, nacks, interrupts, noise and several packets in one read', () => {
  const r = new PacketReader();
  const m = encodePacket('m80000000,4').toString('latin1');
  assert.deepEqual(packets(r.push(bytes(`+$g#67-\x03junk${m}`))), ['ack', 'g', 'nack', 'interrupt', 'm80000000,4']);
});

test('reader: a packet split at every byte boundary', () => {
  const wire = bytes('$vCont;c#a8');
  for (let cut = 0; cut <= wire.length; cut++) {
    const r = new PacketReader();
    const got = [...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))];
    assert.deepEqual(packets(got), ['vCont;c'], `cut at ${cut}`);
  }
});

test('reader: a wrong or malformed checksum is reported (the session nacks it)', () => {
  const r = new PacketReader();
  assert.deepEqual(packets(r.push(bytes('$g#00$g#zz$g#67'))), ['bad-checksum', 'bad-checksum', 'g']);
  // Upper-case hex is accepted.
  assert.deepEqual(packets(r.push(bytes('$OK#9A'))), ['OK']);
});

test('register hex is little-endian', () => {
  assert.equal(regToHex(0x80000000n, 8), '0000008000000000');
  assert.equal(regToHex(-1n, 4), 'ffffffff');
  assert.equal(regFromHex('0000008000000000'), 0x80000000n);
  assert.equal(regFromHex('1'), undefined);
});
