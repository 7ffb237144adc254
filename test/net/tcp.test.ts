// TCP through the NAT: a test-side guest endpoint against real loopback servers.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { UserNet, type UserNetOptions } from '../../src/net/index.js';
import { F, GATEWAY, GATEWAY_MAC, GUEST, GUEST_MAC, type Seg, Wire, ethernet, guestFrame, ip, tcp, tick, waitFor } from './frames.js';
import { GuestTcp, type GuestTcpOptions } from './guest-tcp.js';

type T = { after(fn: () => void | Promise<void>): void };

function setup(t: T, options: UserNetOptions = {}) {
  const logs: string[] = [];
  const nat = new UserNet({ dnsServers: [], log: (l) => logs.push(l), ...options });
  const wire = new Wire();
  nat.connect(wire);
  t.after(() => {
    nat.close();
    assert.ok(!logs.some((l) => l.includes('internal error')), logs.join('\n'));
  });
  return { nat, wire, logs };
}

async function listen(t: T, server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.close();
    if ('closeAllConnections' in server) (server as http.Server).closeAllConnections();
  });
  return (server.address() as net.AddressInfo).port;
}

function guest(nat: UserNet, wire: Wire, port: number, peerPort: number, opts?: GuestTcpOptions, peer = GATEWAY): GuestTcp {
  const g = new GuestTcp(nat, port, peer, peerPort, opts);
  g.attach(wire);
  return g;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const dataSegs = (g: GuestTcp) => g.segments.filter((s) => s.payload.length > 0);

test('an HTTP GET to a host server through 10.0.2.2: handshake, data, acks and FINs', async (t) => {
  const server = http.createServer((_req, res) => {
    res.setHeader('Connection', 'close');
    res.end('hello from the host\n');
  });
  const port = await listen(t, server);
  const { nat, wire } = setup(t);
  const g = guest(nat, wire, 40000, port);
  g.connect();
  await waitFor(() => g.established, 'SYN-ACK');
  const synAck = g.segments[0];
  assert.equal(synAck.flags, F.SYN | F.ACK);
  assert.equal(synAck.ack, g.iss + 1);
  assert.equal(synAck.mss, 1460, 'MSS option, and no window scaling offered');
  assert.equal(synAck.window, 65535);

  const request = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: 10.0.2.2\r\nConnection: close\r\n\r\n');
  g.write(request);
  await waitFor(() => g.finReceived, 'the response and the server\'s FIN');
  const text = new TextDecoder().decode(g.received);
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /\r\n\r\nhello from the host\n$/);

  // Every data segment starts where the previous one ended, from ISS + 1.
  let next = (g.peerIss + 1) >>> 0;
  for (const s of g.segments.slice(1)) {
    if (s.payload.length === 0) continue;
    assert.equal(s.seq, next);
    assert.equal(s.flags & F.ACK, F.ACK);
    next = (next + s.payload.length) >>> 0;
  }
  const fin = g.segments.find((s) => s.flags & F.FIN)!;
  assert.equal(fin.seq, next, 'the FIN follows the data');
  // The answer comes after the whole request, so everything after the SYN-ACK acks it all.
  assert.ok(g.segments.slice(1).every((s) => s.ack === g.iss + 1 + request.length));
  assert.equal(g.windowOverruns, 0);

  g.close();
  await waitFor(() => g.segments.at(-1)!.ack === g.sndNxt >>> 0, 'the ACK of our FIN');
  assert.equal(nat.stats.tcpConnections, 1, 'lingering in TIME-WAIT');
  await waitFor(() => nat.stats.tcpConnections === 0, 'the connection to be forgotten', 4000);
});

test('1 MiB to a guest with a 4 KiB window and lost frames arrives intact', async (t) => {
  const payload = randomBytes(1 << 20);
  const port = await listen(t, net.createServer((s) => s.end(payload)));
  const { nat, wire } = setup(t);
  const seen = new Set<number>();
  let n = 0;
  let finLost = false;
  // Lose every 29th data segment the first time it is sent, and the first FIN.
  const drop = (s: Seg) => {
    if (s.flags & F.FIN && !finLost) return (finLost = true);
    if (s.payload.length === 0 || seen.has(s.seq)) return false;
    seen.add(s.seq);
    return ++n % 29 === 0;
  };
  const g = guest(nat, wire, 40001, port, { window: 4096, mss: 1000, drop });
  g.connect();
  await waitFor(() => g.finReceived, 'the whole transfer', 30_000);
  assert.equal(g.received.length, payload.length);
  assert.equal(sha(g.received), sha(payload));
  assert.equal(g.windowOverruns, 0, 'never more than the advertised window');
  assert.ok(dataSegs(g).every((s) => s.payload.length <= 1000), 'segments within the guest\'s MSS');
  assert.ok(nat.stats.tcpRetransmits > 0);
});

test('1 MiB from the guest reaches a host server intact, then both sides close', async (t) => {
  const payload = randomBytes(1 << 20);
  let received: Buffer | undefined;
  const port = await listen(t, net.createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    s.pause();
    setTimeout(() => s.resume(), 200); // a slow reader: the NAT's window must hold the guest back
    s.on('data', (d) => parts.push(d));
    s.on('end', () => {
      received = Buffer.concat(parts);
      s.end('done');
    });
  }));
  const { nat, wire } = setup(t);
  const g = guest(nat, wire, 40002, port, { mss: 1460 });
  g.connect();
  await waitFor(() => g.established, 'the handshake');
  g.write(payload, true);
  await waitFor(() => g.finReceived, 'the server\'s answer and FIN', 30_000);
  assert.equal(sha(received!), sha(payload));
  assert.equal(new TextDecoder().decode(g.received), 'done');
});

test('a refused port and an address nobody has get an RST for the SYN', async (t) => {
  const probe = net.createServer();
  const closed = await listen(t, probe);
  await new Promise<void>((r) => probe.close(() => r()));
  const { nat, wire } = setup(t);
  const a = guest(nat, wire, 40003, closed);
  a.connect();
  await waitFor(() => a.rstReceived, 'RST for a refused connection');
  const rst = a.segments.at(-1)!;
  assert.equal(rst.flags, F.RST | F.ACK);
  assert.equal(rst.ack, a.iss + 1);
  const b = guest(nat, wire, 40004, 80, {}, ip('10.0.2.77'));
  b.connect();
  await waitFor(() => b.rstReceived, 'RST for 10.0.2.77');
  assert.equal(nat.stats.tcpConnections, 0);
});

test('a stray ACK gets an RST with its ack as sequence; out-of-order and duplicate data are re-ACKed', async (t) => {
  const got: Buffer[] = [];
  const port = await listen(t, net.createServer((s) => s.on('data', (d) => got.push(d))));
  const { nat, wire } = setup(t);
  const stray = guest(nat, wire, 40005, port);
  stray.send(F.ACK, undefined, 5000);
  await waitFor(() => stray.rstReceived, 'RST');
  assert.equal(stray.segments[0].seq, 0);

  const g = guest(nat, wire, 40006, port);
  g.connect();
  await waitFor(() => g.established, 'the handshake');
  const acks = () => g.segments.filter((s) => s.payload.length === 0 && !(s.flags & F.SYN));
  g.send(F.ACK | F.PSH, new TextEncoder().encode('later'), g.sndNxt + 5); // a hole before it
  await waitFor(() => acks().length === 1, 'a duplicate ACK');
  assert.equal(acks()[0].ack, g.sndNxt, 'still acking the hole');
  g.send(F.ACK | F.PSH, new TextEncoder().encode('first'));
  g.sndNxt += 5;
  await waitFor(() => acks().length === 2, 'the ACK');
  assert.equal(acks()[1].ack, g.sndNxt);
  g.send(F.ACK | F.PSH, new TextEncoder().encode('first'), g.sndNxt - 5); // a retransmission
  await waitFor(() => acks().length === 3, 'a re-ACK');
  assert.equal(acks()[2].ack, g.sndNxt);
  await waitFor(() => Buffer.concat(got).length >= 5, 'the data on the host');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(Buffer.concat(got).toString(), 'first', 'each byte delivered once, none out of order');
});

test('a host-side reset becomes an RST to the guest; a guest RST resets the host socket', async (t) => {
  let hostSide: net.Socket | undefined;
  const port = await listen(t, net.createServer((s) => {
    hostSide = s;
    s.on('error', () => {});
  }));
  const { nat, wire } = setup(t);
  const a = guest(nat, wire, 40007, port);
  a.connect();
  await waitFor(() => a.established && hostSide !== undefined, 'the connection');
  hostSide!.resetAndDestroy();
  await waitFor(() => a.rstReceived, 'RST from the NAT');
  assert.equal(a.segments.at(-1)!.seq, (a.peerIss + 1) >>> 0);

  hostSide = undefined;
  const b = guest(nat, wire, 40008, port);
  b.connect();
  await waitFor(() => b.established && hostSide !== undefined, 'the second connection');
  const closed = new Promise((r) => hostSide!.once('close', r)); // once() would reject on the error
  const errors: Error[] = [];
  hostSide!.on('error', (e) => errors.push(e));
  b.send(F.RST | F.ACK);
  await closed;
  assert.equal((errors[0] as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
  await waitFor(() => nat.stats.tcpConnections === 0, 'both connections gone');
});

test('a guest RST while the host socket is still flushing its FIN closes it: no socket leaks', async (t) => {
  // The fuzzer's find: libuv cannot reset a socket whose shutdown is in progress, and
  // resetAndDestroy() then reported EINVAL and dropped the handle without closing it,
  // so every FIN-then-RST from a guest leaked a descriptor (and kept the process alive).
  let hostSide: net.Socket | undefined;
  const port = await listen(t, net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
    hostSide = s;
  }));
  const { nat, wire } = setup(t);
  const g = guest(nat, wire, 40012, port);
  g.connect();
  await waitFor(() => g.established && hostSide !== undefined, 'the connection');
  g.send(F.ACK | F.PSH, randomBytes(1400));
  g.sndNxt += 1400;
  g.close();
  g.send(F.RST, undefined, g.sndNxt); // in the same turn: the NAT's FIN is still on its way
  await waitFor(() => nat.stats.tcpConnections === 0, 'the connection gone');
  // The NAT's end must really be closed: the host's writes to it start failing.
  let failed = false;
  hostSide!.on('error', () => (failed = true));
  hostSide!.resume();
  const writer = setInterval(() => hostSide!.write('x'), 5);
  t.after(() => clearInterval(writer));
  await waitFor(() => failed, 'a write to the NAT\'s closed socket to fail');
});

test('a published TCP port: a host client reaches the guest, both directions and FINs', async (t) => {
  const { nat, wire } = setup(t, { publish: [{ proto: 'tcp', hostPort: 0, guestPort: 8080 }] });
  const [rule] = await nat.start();
  // The guest has spoken (as after DHCP), so its MAC is known.
  nat.deliver(ethernet(GATEWAY_MAC, GUEST_MAC, 0x0806, Uint8Array.from([0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, ...GUEST, 0, 0, 0, 0, 0, 0, ...GATEWAY])));
  await tick();
  wire.take();
  const g = guest(nat, wire, 8080, 0);
  const client = net.connect({ port: rule.hostPort, host: '127.0.0.1', allowHalfOpen: true });
  t.after(() => void client.destroy());
  await waitFor(() => g.established, 'SYN from the NAT, our SYN-ACK, its ACK');
  const syn = g.segments[0];
  assert.equal(syn.flags, F.SYN);
  assert.equal(syn.mss, 1460);
  assert.ok(g.peerPort >= 49152);
  client.write('hello guest');
  await waitFor(() => g.received.length === 11, 'the client\'s bytes');
  assert.equal(new TextDecoder().decode(g.received), 'hello guest');
  const reply: Buffer[] = [];
  client.on('data', (d) => reply.push(d));
  g.write(new TextEncoder().encode('hello host'));
  await waitFor(() => Buffer.concat(reply).toString() === 'hello host', 'the guest\'s reply');
  client.end();
  await waitFor(() => g.finReceived, 'FIN from the client');
  const ended = once(client, 'end');
  g.close();
  await ended;
});

test('publishing a host port that is in use fails with a clear error', async (t) => {
  const busy = net.createServer();
  const port = await listen(t, busy);
  const nat = new UserNet({ dnsServers: [], publish: [{ proto: 'tcp', hostPort: port, guestPort: 80 }] });
  t.after(() => nat.close());
  await assert.rejects(nat.start(), /cannot publish tcp 127\.0\.0\.1:\d+ -> guest port 80: the host port is already in use/);
});

test('a SYN-ACK the guest does not acknowledge is sent again', async (t) => {
  const { nat, wire } = setup(t);
  const port = await listen(t, net.createServer(() => {}));
  nat.deliver(guestFrame(GATEWAY, 6, tcp(GUEST, GATEWAY, { sport: 40009, dport: port, seq: 7, ack: 0, flags: F.SYN, window: 1000, payload: new Uint8Array(0) })));
  await waitFor(() => wire.frames.length >= 2, 'a SYN-ACK and its retransmission', 3000);
  const [first, second] = wire.take();
  assert.deepEqual(first.tcp, second.tcp);
  assert.equal(first.tcp?.ack, 8);
});

test('a zero window is probed until the guest opens it again', async (t) => {
  const payload = randomBytes(20_000);
  const port = await listen(t, net.createServer((s) => s.end(payload)));
  const { nat, wire } = setup(t);
  const g = guest(nat, wire, 40010, port, { window: 0 });
  g.connect();
  await waitFor(() => g.established, 'the handshake');
  await new Promise((r) => setTimeout(r, 700)); // probes after 200 and 600 ms
  assert.equal(g.received.length, 0, 'nothing sent into a zero window');
  const probes = g.segments.filter((s) => s.payload.length === 0 && s.seq === g.peerIss);
  assert.ok(probes.length >= 2, `probes with an old sequence number (${probes.length})`);
  g.window = 8192; // the guest application read, and the window update was lost
  await waitFor(() => g.finReceived, 'the data after the next probe', 5000);
  assert.equal(sha(g.received), sha(payload));
  assert.equal(g.windowOverruns, 0);
});

test('TCP to 10.0.2.3:53 reaches the resolver; other ports of 10.0.2.3 are refused', async (t) => {
  const got: Buffer[] = [];
  const port = await listen(t, net.createServer((s) => s.on('data', (d) => got.push(d))));
  const { nat, wire } = setup(t, { dnsServers: [`127.0.0.1:${port}`] });
  const g = guest(nat, wire, 40011, 53, {}, ip('10.0.2.3'));
  g.connect();
  await waitFor(() => g.established, 'the handshake with 10.0.2.3:53');
  g.write(Uint8Array.from([0, 2, 0xab, 0xcd]));
  await waitFor(() => Buffer.concat(got).length === 4, 'the query at the resolver');
  const other = guest(nat, wire, 40012, 80, {}, ip('10.0.2.3'));
  other.connect();
  await waitFor(() => other.rstReceived, 'RST from 10.0.2.3:80');
});
