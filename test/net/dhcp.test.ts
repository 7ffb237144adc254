// DHCP against the bytes BusyBox (1.36) udhcpc puts on the wire: dhcpc.c init_packet +
// add_client_options, sent by udhcp_send_raw_packet from 0.0.0.0:68 to
// 255.255.255.255:67 through a packet socket (IP id 0, TTL 64, no DF), the BOOTP part
// zero-padded to 300 bytes after the END option. Options in udhcpc's order: 53 message
// type, [50 requested IP, 54 server id], 57 max size 576, 55 the default request list
// (the OPTION_REQ entries: 1 3 6 12 15 28 42), then the option list kept sorted by code:
// 12 hostname (`-x hostname:rvisor`) and 61 client id (type 1 + MAC, on unless -C).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserNet } from '../../src/net/index.js';
import { BROADCAST, GUEST_MAC, Wire, cat, csum, ethernet, hex, ipv4, tick, udp } from './frames.js';

const HEAD = `
  ffffffffffff 525400123456 0800
  4500 0148 0000 0000 40 11 79a6 00000000 ffffffff
  0044 0043 0134`;
const BOOTP = `
  01 01 06 00 3903f326 0000 0000
  00000000 00000000 00000000 00000000
  525400123456 00000000000000000000
  ${'00'.repeat(64)} ${'00'.repeat(128)}
  63825363`;
const TAIL = '39020240 3707 0103060c0f1c2a 0c06 727669736f72 3d0701525400123456 ff';
const pad = (s: string) => s + '00'.repeat(300 - hex(BOOTP + s).length);
const DISCOVER = hex(HEAD + '8e8f' + BOOTP + pad('350101' + TAIL));
const REQUEST = hex(HEAD + '730f' + BOOTP + pad('350103 32040a00020f 36040a000202' + TAIL));

interface Bootp {
  op: number;
  xid: string;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  chaddr: Uint8Array;
  options: Map<number, number[]>;
}

function parseBootp(b: Uint8Array): Bootp {
  const ipAt = (i: number) => Array.from(b.subarray(i, i + 4)).join('.');
  assert.deepEqual(Array.from(b.subarray(236, 240)), [0x63, 0x82, 0x53, 0x63], 'magic cookie');
  const options = new Map<number, number[]>();
  for (let i = 240; b[i] !== 255; ) {
    assert.ok(i < b.length, 'END option present');
    if (b[i] === 0) {
      i++;
      continue;
    }
    options.set(b[i], Array.from(b.subarray(i + 2, i + 2 + b[i + 1])));
    i += 2 + b[i + 1];
  }
  return {
    op: b[0], xid: Buffer.from(b.subarray(4, 8)).toString('hex'), flags: (b[10] << 8) | b[11],
    ciaddr: ipAt(12), yiaddr: ipAt(16), siaddr: ipAt(20), chaddr: b.subarray(28, 34), options,
  };
}

async function exchange(frame: Uint8Array) {
  const net = new UserNet({ dnsServers: [] });
  const wire = new Wire();
  net.connect(wire);
  net.deliver(frame);
  await tick();
  net.close();
  return wire.take();
}

test('the fixtures are what udhcpc sends: checksums verify, lengths add up', () => {
  for (const f of [DISCOVER, REQUEST]) {
    assert.equal(f.length, 342);
    assert.equal(csum(f.subarray(14, 34)), 0);
    assert.equal(csum(f.subarray(26, 34), Uint8Array.from([0, 17, 0x01, 0x34]), f.subarray(34)), 0);
  }
});

test('udhcpc DISCOVER gets an OFFER of 10.0.2.15 with router, mask, DNS and lease', async () => {
  const out = await exchange(DISCOVER);
  assert.equal(out.length, 1);
  const [r] = out;
  // No broadcast flag: unicast to the offered address and the client's MAC (RFC 2131 4.1).
  assert.deepEqual(r.dstMac, GUEST_MAC);
  assert.equal(r.ip?.src, '10.0.2.2');
  assert.equal(r.ip?.dst, '10.0.2.15');
  assert.equal(r.udp?.sport, 67);
  assert.equal(r.udp?.dport, 68);
  assert.ok(r.udp!.payload.length >= 300);
  const b = parseBootp(r.udp!.payload);
  assert.equal(b.op, 2);
  assert.equal(b.xid, '3903f326');
  assert.equal(b.yiaddr, '10.0.2.15');
  assert.equal(b.ciaddr, '0.0.0.0');
  assert.equal(b.siaddr, '10.0.2.2');
  assert.deepEqual(b.chaddr, GUEST_MAC);
  assert.deepEqual(b.options.get(53), [2]);
  assert.deepEqual(b.options.get(54), [10, 0, 2, 2]);
  assert.deepEqual(b.options.get(1), [255, 255, 255, 0]);
  assert.deepEqual(b.options.get(3), [10, 0, 2, 2]);
  assert.deepEqual(b.options.get(6), [10, 0, 2, 3]);
  assert.deepEqual(b.options.get(51), [0, 1, 0x51, 0x80]); // 86400 s
  assert.deepEqual(b.options.get(28), [10, 0, 2, 255]);
});

test('udhcpc REQUEST gets an ACK', async () => {
  const [r] = await exchange(REQUEST);
  const b = parseBootp(r.udp!.payload);
  assert.deepEqual(b.options.get(53), [5]);
  assert.equal(b.yiaddr, '10.0.2.15');
  assert.equal(b.xid, '3903f326');
  assert.deepEqual(b.options.get(3), [10, 0, 2, 2]);
  assert.deepEqual(b.options.get(6), [10, 0, 2, 3]);
});

/** A request built field by field, for the variations udhcpc does not send by default. */
function request(opts: string, fields: { flags?: number; ciaddr?: string; src?: string; noPad?: boolean } = {}): Uint8Array {
  const bootp = hex(BOOTP + (fields.noPad ? opts : pad(opts)));
  bootp[10] = (fields.flags ?? 0) >> 8;
  if (fields.ciaddr) bootp.set(fields.ciaddr.split('.').map(Number), 12);
  const src = Uint8Array.from((fields.src ?? '0.0.0.0').split('.').map(Number));
  const dst = fields.ciaddr ? Uint8Array.from([10, 0, 2, 2]) : BROADCAST.subarray(0, 4);
  return ethernet(fields.ciaddr ? Uint8Array.from([0x52, 0x55, 10, 0, 2, 2]) : BROADCAST, GUEST_MAC, 0x0800, ipv4(src, dst, 17, udp(src, dst, 68, 67, bootp), 0, 0));
}

test('the broadcast flag makes the reply a broadcast', async () => {
  const [r] = await exchange(request('350103 32040a00020f', { flags: 0x8000 }));
  assert.deepEqual(r.dstMac, BROADCAST);
  assert.equal(r.ip?.dst, '255.255.255.255');
  assert.equal(parseBootp(r.udp!.payload).flags, 0x8000);
});

test('a renewal (ciaddr set) is ACKed by unicast to ciaddr, echoing it', async () => {
  const [r] = await exchange(request('350103', { ciaddr: '10.0.2.15', src: '10.0.2.15' }));
  assert.equal(r.ip?.dst, '10.0.2.15');
  const b = parseBootp(r.udp!.payload);
  assert.deepEqual(b.options.get(53), [5]);
  assert.equal(b.ciaddr, '10.0.2.15');
});

test('a request for an address outside the pool is NAKed; one for another server is ignored', async () => {
  const [nak] = await exchange(request('350103 32040a000203')); // 10.0.2.3, the DNS forwarder
  assert.deepEqual(nak.dstMac, BROADCAST);
  const b = parseBootp(nak.udp!.payload);
  assert.deepEqual(b.options.get(53), [6]);
  assert.equal(b.yiaddr, '0.0.0.0');
  assert.equal((await exchange(request('350103 32040a00020f 3604c0a80001'))).length, 0);
});

test('malformed DHCP (truncated options, bad cookie, no message type) gets no answer', async () => {
  // Each is a valid UDP datagram (checksum and all): they must fail for their content.
  for (const opts of ['3501', '350103 3d09010203', '3d0701525400123456 ff', '35020103 ff', '']) {
    assert.equal((await exchange(request(opts, { noPad: true }))).length, 0, opts);
  }
  assert.equal((await exchange(request('350103 3d09010203', { noPad: false }))).length, 1, 'the control case is answered');
  const bad = Uint8Array.from(DISCOVER);
  bad[42 + 236] = 0; // cookie
  bad.set([0, 0], 40); // UDP checksum 0 = not computed
  assert.equal((await exchange(bad)).length, 0);
  assert.equal((await exchange(cat(DISCOVER.subarray(0, 200)))).length, 0);
});
