// GdbSession against a fake target: acknowledgement modes, queries, target.xml, register
// and memory packets, breakpoints, resume/stop replies, Ctrl-C, detach and kill.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRIV_REGNUM, REGISTERS, TARGET_XML } from '../../src/vmm/gdb/registers.js';
import { FAKE_BASE, FakeTarget } from './fakes.js';
import { openSession } from './gdb-client.js';

const open = (target?: FakeTarget) => openSession(target);

test('attaching halts the target; ? reports it; ack mode then QStartNoAckMode', () => {
  const s = open();
  assert.deepEqual(s.target.log, ['halt']);
  s.send('?');
  assert.deepEqual(s.out, ['+', 'T02thread:1;']);
  s.out.length = 0;
  s.session.receive(Buffer.from('$?#00'));
  assert.deepEqual(s.out, ['-'], 'bad checksum is nacked');
  s.out.length = 0;
  s.session.receive(Buffer.from('-'));
  assert.deepEqual(s.out, ['T02thread:1;'], 'nack retransmits the last reply');
  s.out.length = 0;
  s.send('QStartNoAckMode');
  assert.deepEqual(s.out, ['+', 'OK']);
  s.out.length = 0;
  s.send('?');
  assert.deepEqual(s.out, ['T02thread:1;'], 'no ack any more');
});

test('qSupported, threads, attached, unknown packets', () => {
  const s = open();
  const sup = s.ask('qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386');
  for (const f of ['PacketSize=4000', 'qXfer:features:read+', 'swbreak+', 'hwbreak+', 'vContSupported+', 'QStartNoAckMode+']) assert.ok(sup.split(';').includes(f), f);
  assert.equal(s.ask('qfThreadInfo'), 'm1,2');
  assert.equal(s.ask('qsThreadInfo'), 'l');
  assert.equal(s.ask('qC'), 'QC1');
  assert.equal(s.ask('qAttached'), '1');
  assert.equal(s.ask('Hg2'), 'OK');
  assert.equal(s.ask('qC'), 'QC2');
  assert.equal(s.ask('Hg9'), 'E22');
  assert.equal(s.ask('T2'), 'OK');
  assert.equal(s.ask('T3'), 'E22');
  assert.equal(s.ask('qThreadExtraInfo,2'), Buffer.from('hart 1').toString('hex'));
  assert.equal(s.ask('vCont?'), 'vCont;c;C;s;S;t');
  assert.equal(s.ask('vMustReplyEmpty'), '');
  assert.equal(s.ask('qFrobnicate'), '');
});

test('target.xml: chunked transfer, well-formed, numbering consistent with g and p', () => {
  const s = open();
  let xml = '';
  for (let off = 0; ; off += 1000) {
    const r = s.ask(`qXfer:features:read:target.xml:${off.toString(16)},3e8`);
    xml += r.slice(1);
    if (r[0] === 'l') break;
    assert.equal(r[0], 'm');
  }
  assert.equal(xml, TARGET_XML);
  assert.equal(s.ask('qXfer:features:read:other.xml:0,100'), 'E00');
  assert.match(xml, /^<\?xml version="1.0"\?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n<target version="1.0">/);
  assert.ok(xml.includes('<architecture>riscv:rv64</architecture>'));
  // Tags balance and every reg is self-closing with a unique regnum.
  const opened = (xml.match(/<(target|feature|union)[ >]/g) ?? []).length;
  const close = (xml.match(/<\/(target|feature|union)>/g) ?? []).length;
  assert.equal(opened, close);
  const regs = [...xml.matchAll(/<reg name="([^"]+)" bitsize="(\d+)" type="[^"]+" regnum="(\d+)"[^>]*\/>/g)];
  assert.equal(regs.length, REGISTERS.length);
  const nums = regs.map((m) => Number(m[3]));
  assert.equal(new Set(nums).size, nums.length);
  const byName = new Map(regs.map((m) => [m[1], Number(m[3])]));
  assert.equal(byName.get('zero'), 0);
  assert.equal(byName.get('t6'), 31);
  assert.equal(byName.get('pc'), 32);
  assert.equal(byName.get('ft0'), 33);
  assert.equal(byName.get('ft11'), 64);
  assert.deepEqual([byName.get('fflags'), byName.get('frm'), byName.get('fcsr')], [66, 67, 68]);
  assert.equal(byName.get('mstatus'), 65 + 0x300);
  assert.equal(byName.get('satp'), 65 + 0x180);
  assert.equal(byName.get('priv'), PRIV_REGNUM);
  for (const f of ['org.gnu.gdb.riscv.cpu', 'org.gnu.gdb.riscv.fpu', 'org.gnu.gdb.riscv.csr', 'org.gnu.gdb.riscv.virtual']) assert.ok(xml.includes(`<feature name="${f}">`), f);
  // g carries regnums 0..32 in order: each 8-byte slot equals p of that number.
  const g = s.ask('g');
  assert.equal(g.length, 33 * 16);
  for (let n = 0; n <= 32; n++) assert.equal(g.slice(n * 16, n * 16 + 16), s.ask(`p${n.toString(16)}`), `reg ${n}`);
});

test('register packets read and write the selected hart', () => {
  const s = open();
  const t = s.target;
  assert.equal(s.ask('p20'), '0000008000000000', 'pc of hart 0');
  assert.equal(s.ask('p5'), '0005000000000000', 'x5 = 0x500');
  assert.equal(s.ask('Hg2'), 'OK');
  assert.equal(s.ask('p5'), '0105000000000000', 'x5 of hart 1 = 0x501');
  assert.equal(s.ask('p20'), '0001008000000000');
  assert.equal(s.ask(`p${(65 + 0x300).toString(16)}`), '000000000a000000', 'mstatus');
  assert.equal(s.ask(`p${(66).toString(16)}`), 'xxxxxxxx', 'fflags: 32 bits, unavailable in the fake');
  assert.equal(s.ask(`p${PRIV_REGNUM.toString(16)}`), '0300000000000000');
  assert.equal(s.ask('p41'), 'E45', 'regnum 65 is not a register in GDB numbering');
  assert.equal(s.ask('p2000'), 'E45');
  assert.equal(s.ask('P6=efbeadde00000000'), 'OK');
  assert.equal(t.regs[1][6], 0xdeadbeefn);
  assert.equal(s.ask(`P${(65 + 0x300).toString(16)}=0800000000000000`), 'OK');
  assert.equal(t.csrs.get(0x300), 8n);
  assert.equal(s.ask(`P${(65 + 0x340).toString(16)}=0800000000000000`), 'E45', 'the fake has no mscratch');
  assert.equal(s.ask('P6=zz'), 'E22');
  assert.equal(s.ask('Hg1'), 'OK');
  const g = s.ask('g');
  const regs = Array.from({ length: 33 }, (_, n) => g.slice(n * 16, n * 16 + 16));
  regs[7] = '2a00000000000000';
  assert.equal(s.ask('G' + regs.join('')), 'OK');
  assert.equal(t.regs[0][7], 42n);
  assert.equal(s.ask('G00'), 'E22');
});

test('memory packets: m, M, X (binary with escapes) and faults', () => {
  const s = open();
  const t = s.target;
  assert.equal(s.ask('m80000000,8'), '7856341213000000');
  assert.equal(s.ask('m7ffffff0,4'), 'E14');
  assert.equal(s.ask('m8000fffe,4'), '0000', 'a read that runs off the end is short');
  assert.equal(s.ask('M80000010,4:deadbeef'), 'OK');
  assert.deepEqual([...t.mem.subarray(0x10, 0x14)], [0xde, 0xad, 0xbe, 0xef]);
  assert.equal(s.ask('M80000010,4:dead'), 'E22', 'length mismatch');
  assert.equal(s.ask('M70000000,1:00'), 'E14');
  // X with bytes that must be escaped on the wire: # $ } *
  const payload = Buffer.from([0x23, 0x24, 0x7d, 0x2a, 0x00, 0xff]);
  assert.equal(s.ask('X80000020,6:' + payload.toString('latin1')), 'OK');
  assert.deepEqual([...t.mem.subarray(0x20, 0x26)], [...payload]);
  assert.equal(s.ask('X80000020,0:'), 'OK', 'X probe');
});

test('breakpoints and watchpoints go to the target with their kinds', () => {
  const s = open();
  assert.equal(s.ask('Z0,80000010,4'), 'OK');
  assert.equal(s.ask('Z1,80000020,2'), 'OK');
  assert.equal(s.ask('Z2,80001000,8'), 'OK');
  assert.equal(s.ask('Z3,80001000,4'), 'OK');
  assert.equal(s.ask('Z4,80001000,1'), 'OK');
  assert.equal(s.ask('z1,80000020,2'), 'OK');
  assert.equal(s.ask('z1,80000020,2'), 'E22', 'not there any more');
  assert.equal(s.ask('Z5,0,0'), 'E22');
  assert.deepEqual(s.target.log.slice(1), ['add sw 80000010 4', 'add hw 80000020 2', 'add write 80001000 8', 'add read 80001000 4', 'add access 80001000 1', 'remove hw 80000020', 'remove hw 80000020']);
});

test('continue to a breakpoint, step, watchpoint and Ctrl-C stop replies', async () => {
  const s = open();
  s.ask('Z0,80000010,4');
  assert.equal(await s.go('c'), 'T05thread:1;swbreak:;');
  assert.equal(await s.go('vCont;s:1;c'), 'T05thread:1;');
  assert.equal(s.target.pcs[0], 0x80000014n);
  s.ask('Hc2');
  assert.equal(await s.go('s'), 'T05thread:2;');
  assert.equal(s.target.pcs[1], FAKE_BASE + 0x104n);
  s.ask('z0,80000010,4');
  s.ask('Z1,80000040,4');
  assert.equal(await s.go('vCont;c'), 'T05thread:1;hwbreak:;');
  s.ask('z1,80000040,4');
  s.ask('Z2,80001000,8');
  assert.equal(await s.go('c'), 'T05watch:80001000;thread:2;');
  assert.equal(s.ask('qC'), 'QC2', 'the stopped hart becomes current');
  s.ask('z2,80001000,8');
  // Nothing to hit: runs until Ctrl-C.
  s.out.length = 0;
  s.send('c');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.out, ['+']);
  s.session.receive(Buffer.from([3]));
  assert.deepEqual(s.out, ['+', 'T02thread:2;']);
  assert.equal(s.target.running, false);
  // c with an address sets the pc first.
  s.out.length = 0;
  s.ask('Hg1');
  s.send('c80000100');
  await new Promise((r) => setImmediate(r));
  assert.equal(s.target.pcs[0], 0x80000100n);
  s.session.receive(Buffer.from([3]));
});

test('guest exit while running gives W; a stop nobody waits for is only remembered', () => {
  const s = open();
  s.target.stop({ kind: 'break', hart: 1, type: 'hw' });
  assert.deepEqual(s.out, []);
  assert.equal(s.ask('?'), 'T05thread:2;hwbreak:;');
  s.out.length = 0;
  s.send('c');
  s.target.stop({ kind: 'exit', code: 3 });
  assert.deepEqual(s.out.filter((x) => x !== '+'), ['W03']);
});

test('monitor commands (qRcmd) reach the human monitor', async () => {
  const s = open();
  s.send('qRcmd,' + Buffer.from('info status').toString('hex'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.out, ['+', 'O' + Buffer.from('ran info status\n').toString('hex'), 'OK']);
});

test('detach clears breakpoints, resumes and closes; kill kills', () => {
  const s = open();
  s.ask('Z0,80000010,4');
  assert.equal(s.ask('D'), 'OK');
  assert.ok(s.closed());
  assert.deepEqual(s.target.log.slice(-2), ['clear', 'resume']);
  // A debugger that vanishes without D leaves no breakpoints behind.
  const v = open();
  v.ask('Z0,80000010,4');
  v.session.dispose();
  assert.deepEqual(v.target.bps, []);
  const k = open();
  k.send('k');
  assert.ok(k.closed());
  assert.equal(k.target.log.at(-1), 'kill');
});
