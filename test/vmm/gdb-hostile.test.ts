// A hostile debugger (issue 19): packets with numbers that are not numbers, too big, or
// missing, each sent exactly as the attack did. Every one gets E.. and changes nothing;
// the session answers the next packet; a resume that cannot run gets an answer rather
// than leaving the debugger waiting for a stop reply.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { encodePacket } from '../../src/vmm/gdb/packet.js';
import { GdbServer } from '../../src/vmm/gdb/server.js';
import { FakeTarget } from './fakes.js';
import { openSession } from './gdb-client.js';
import { hartTarget } from './hart-target.js';

test('cZZ, sZZ and C05;ZZ are refused with E22 and nothing runs', () => {
  const s = openSession();
  for (const p of ['cZZ', 'sZZ', 'C05;ZZ', 'S05;ZZ', 'CZZ;80000000', 'C', 'C05;80000000;1', `c1${'0'.repeat(16)}`]) {
    assert.equal(s.ask(p), 'E22', p);
  }
  assert.deepEqual(s.target.log, ['halt'], 'no resume, no pc write');
  assert.equal(s.ask('?'), 'T02thread:1;');
});

test('vCont naming a thread that is not a number or does not exist gets E22, not silence', () => {
  const s = openSession();
  for (const p of ['vCont;s:zz', 'vCont;s:63', 'vCont;c:63', 'vCont;s:1;c:3', 'vCont;t:-2', 'vCont;', 'vCont;x', 'vCont;s:1:2', 'vCont;C:1', 'vCont;Czz', 'vCont;sx']) {
    assert.equal(s.ask(p), 'E22', p);
  }
  assert.deepEqual(s.target.log, ['halt']);
});

test('on real harts: vCont;s:63 is refused, the next step gets its stop reply', async () => {
  const m = hartTarget();
  const s = openSession(m.target);
  assert.equal(s.ask('vCont;s:63'), 'E22');
  assert.equal(s.ask('vCont;s:zz'), 'E22');
  assert.equal(await s.go('vCont;s:1'), 'T05thread:1;');
  assert.equal(await s.go('vCont;s:0'), 'T05thread:1;', 'thread 0 is any thread: the current one');
});

test('on real harts: a watchpoint length past 2^1024 is refused, not kept for the run loop to trip over', async () => {
  const m = hartTarget();
  const s = openSession(m.target);
  const cell = m.sym('cell').toString(16);
  assert.equal(s.ask(`Z2,${cell},${'f'.repeat(300)}`), 'E22');
  assert.equal(s.ask(`Z2,${cell},${'f'.repeat(9)}`), 'E22', 'more than 32 bits');
  assert.equal(m.target.armed, false);
  assert.equal(s.ask(`Z2,${cell},8`), 'OK');
  assert.equal(await s.go('c'), `T05watch:${cell};thread:1;`);
});

test('register packets: bad or missing numbers and values', () => {
  const s = openSession();
  for (const p of ['p', 'pzz', 'p1zz', 'p-1', `p${'0'.repeat(20)}1x`, 'P', 'P5', 'P5=', 'P5=00', 'P5=zzzzzzzzzzzzzzzz', 'Pzz=0000000000000000', 'P=0000000000000000', 'P5=000000000000000000']) {
    assert.equal(s.ask(p), 'E22', p);
  }
  assert.equal(s.ask(`p${'0'.repeat(30)}5`), '0005000000000000', 'leading zeros are still the number');
  assert.equal(s.ask('P2000=0000000000000000'), 'E45', 'a number that is no register');
  const g = s.ask('g');
  assert.equal(s.ask('G' + g.slice(0, -16) + 'zzzzzzzzzzzzzzzz'), 'E22');
  assert.equal(s.ask('G' + g + '00'), 'E22', 'longer than the g layout');
  assert.equal(s.ask('G' + 'x'.repeat(16) + g.slice(16)), 'OK', 'x slots are left alone');
  // The refused packets wrote nothing: the last one wrote the 32 slots that had values.
  assert.equal(s.target.log.filter((l) => l.startsWith('write')).length, 32);
});

test('memory packets: bad addresses and lengths, missing fields, huge lengths', () => {
  const s = openSession();
  for (const p of ['m', 'mzz,4', 'm80000000', 'm80000000,', 'm,4', 'm80000000,zz', `m1${'0'.repeat(16)},4`, 'm80000000,4,4', `m80000000,${'f'.repeat(9)}`,
    'M80000000,4', 'M80000000,zz:00', 'Mzz,1:00', 'M80000000:00', 'M80000000,1,1:00', 'M80000000,1:0', 'M80000000,1:zz',
    `X80000000,${'f'.repeat(10)}:`, 'X80000000,2:a', 'Xzz,0:']) {
    assert.equal(s.ask(p), 'E22', p);
  }
  assert.equal(s.ask('m80000000,ffffffff').length, 0x4000, 'a huge read is cut to what fits in a packet');
  assert.equal(s.ask('mffffffffffffffff,1'), 'E14');
  assert.deepEqual([...s.target.mem.subarray(0, 4)], [0x78, 0x56, 0x34, 0x12], 'memory untouched');
});

test('breakpoint packets: bad type, address, kind, trailing junk', () => {
  const s = openSession();
  for (const p of ['Z', 'Z0', 'Z0,80000010', 'Z0,zz,4', 'Z0,80000010,zz', 'Z0,80000010,4zz', 'Z0,80000010,4,4', 'Z9,0,0', 'Z00,80000010,4', 'Z-1,0,0', `Z0,1${'0'.repeat(16)},4`, 'z0,zz,4']) {
    assert.equal(s.ask(p), 'E22', p);
  }
  assert.deepEqual(s.target.log, ['halt']);
  assert.equal(s.ask('Z0,80000010,4;X2,0a00'), 'OK', 'a condition list is not a number to refuse');
});

test('queries and thread selection: bad ids, offsets and hex', () => {
  const s = openSession();
  for (const p of ['Hgzz', 'Hg1zz', 'Hg-5', 'Hg3', 'Hg', 'Tzz', 'T0', 'T-1', 'qThreadExtraInfo,zz', 'qThreadExtraInfo,63', 'qThreadExtraInfo,', 'qRcmd,zz', 'qRcmd,616']) {
    assert.equal(s.ask(p), 'E22', p);
  }
  assert.equal(s.ask('qC'), 'QC1', 'the selection did not move');
  for (const p of ['qXfer:features:read:target.xml:zz,10', 'qXfer:features:read:target.xml:0', 'qXfer:features:read:target.xml:0,ffffffffff', 'qXfer:features:read:target.xml:0,10:0', 'qXfer:features:read:other.xml:0,10']) {
    assert.equal(s.ask(p), 'E00', p);
  }
  assert.equal(s.ask('qXfer:features:read:target.xml:ffffffff,10'), 'l', 'past the end: nothing more');
  assert.match(s.ask('qXfer:features:read:target.xml:0,ffffffff'), /^l<\?xml/);
});

test('a bug below a handler costs one E01, reported; the session keeps answering', async () => {
  const errors: unknown[] = [];
  const target = new FakeTarget();
  target.readMemory = () => { throw new Error('boom'); };
  const s = openSession(target, { onError: (e) => errors.push(e), monitor: () => Promise.reject(new Error('monitor down')) });
  assert.equal(s.ask('m80000000,4'), 'E01');
  assert.equal(s.ask('?'), 'T02thread:1;');
  assert.equal(await s.go('qRcmd,' + Buffer.from('info status').toString('hex')), 'E01');
  assert.deepEqual(errors.map((e) => (e as Error).message), ['boom', 'monitor down']);
});

test('a debugger that connects before the target is ready waits for it instead of touching nothing', async () => {
  // The CLI listens before its first machine exists; its target then has no harts.
  let ready = false;
  const real = new FakeTarget();
  const target = new Proxy(real, {
    get: (t, key) => {
      if (!ready) throw new Error(`target used before it was ready (${String(key)})`);
      return Reflect.get(t, key);
    },
  });
  let markReady!: () => void;
  const server = new GdbServer({ target, ready: new Promise<void>((r) => (markReady = r)) });
  await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  const socket = connect(server.port, '127.0.0.1');
  let got = '';
  socket.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  await new Promise((r) => socket.once('connect', r));
  socket.write(encodePacket('?'));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(got, '');
  ready = true;
  markReady();
  for (let i = 0; i < 100 && !got.includes('#'); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got, `+${encodePacket('T02thread:1;').toString('latin1')}`);
  socket.destroy();
  await server.close();
});
