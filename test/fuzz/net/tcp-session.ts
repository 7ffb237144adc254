// One TCP connection through the NAT to a real host server, played by the test-side
// guest TCP (test/net/guest-tcp.ts): a valid handshake, then data segments among which
// mid-stream mutations are mixed (sequence or acknowledgement numbers off, SYN, FIN,
// RST in and out of the window, zero windows, options where none belong, bytes damaged
// with or without the checksum fixed). A session without mutations must get all its data
// echoed back; every session ends with an RST, a FIN or nothing at all.

import assert from 'node:assert/strict';
import type { EthernetPort } from '../../../src/devices/ethernet.js';
import { DNS, F, GATEWAY, GUEST, type Seg, type Wire, cat, guestFrame, parse, tcp } from '../../net/frames.js';
import { GuestTcp } from '../../net/guest-tcp.js';
import type { Rng } from '../harness.js';
import { confine, mutate } from './generate.js';
import type { HostPorts } from './hosts.js';

/** Turns of the event loop until `cond` holds or `ms` pass; whether it held. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setImmediate(r));
  }
  return true;
}

/** How long a host server on loopback may take: far beyond what it needs, so only a
 *  NAT that lost the answer fails, even on a loaded machine. */
export const ANSWER_MS = 3000;

/** A segment of the connection's current state, with one thing wrong. */
function damaged(rng: Rng, g: GuestTcp): Seg {
  const s: Seg = { sport: g.port, dport: g.peerPort, seq: g.sndNxt >>> 0, ack: g.rcvNxt >>> 0, flags: F.ACK | F.PSH, window: g.window, payload: rng.bytes(rng.int(64)) };
  const off = () => rng.pick([-1, 1, -65536, 65536, 0x80000000, rng.u32()]);
  switch (rng.int(7)) {
    case 0: s.seq = (s.seq + off()) >>> 0; break;
    case 1: s.ack = (s.ack + off()) >>> 0; break;
    case 2: s.flags = rng.pick([F.SYN, F.SYN | F.ACK, F.FIN, F.FIN | F.ACK, F.RST, F.RST | F.ACK, 0, 0x3f, 0x20 | F.ACK]); break;
    case 3: s.flags = F.RST; s.seq = (s.seq + rng.pick([1, 65535, 65536, 0x80000000])) >>> 0; s.payload = new Uint8Array(0); break;
    case 4: s.window = rng.pick([0, 1]); break;
    case 5: s.mss = rng.interesting(16); break;
    default: s.payload = rng.bytes(1000 + rng.int(2000)); // beyond the MSS we offered
  }
  return s;
}

/** Plays one session. The guest's frames all go through `to` (so the target counts and
 *  audits them); the NAT's come back on `wire`. */
export async function tcpSession(rng: Rng, to: EthernetPort, wire: Wire, ports: HostPorts): Promise<void> {
  const toDns = rng.chance(0.1);
  const [peer, peerPort] = toDns ? [DNS, 53] : [GATEWAY, ports.tcpEcho];
  const g = new GuestTcp(to, 1024 + rng.int(64512), peer, peerPort, { window: rng.chance(0.8) ? 65535 : 1 + rng.int(4096), mss: rng.pick([536, 1460, 64]) });
  const clean = rng.chance(0.5);
  // As GuestTcp.attach, but once a damaged segment went out the NAT may rightly answer
  // what the guest's model does not expect (a new connection after an RST, say): the
  // model's complaints count only for a clean session.
  let damagedSent = false;
  const prev = wire.onFrame;
  wire.onFrame = (f) => {
    prev?.(f);
    const p = parse(f);
    if (p.tcp?.dport !== g.port) return;
    try {
      g.handle(p.tcp);
    } catch (e) {
      if (!damagedSent) throw e;
    }
  };
  g.connect();
  assert.ok(await until(() => g.established || g.rstReceived, ANSWER_MS), 'no SYN-ACK or RST for a SYN to a listening server');
  assert.ok(g.established, 'a SYN to a listening server was refused');
  const sent: Uint8Array[] = [];
  for (let i = 1 + rng.int(6); i > 0; i--) {
    if (clean || rng.chance(0.4)) {
      const data = rng.bytes(1 + rng.int(Math.min(g.mss, 1400)));
      g.send(F.ACK | F.PSH, data);
      g.sndNxt += data.length;
      sent.push(data);
    } else {
      damagedSent = true;
      let frame = guestFrame(peer, 6, tcp(GUEST, peer, damaged(rng, g)));
      if (rng.chance(0.3)) frame = mutate(rng, frame);
      to.deliver(confine(frame, ports));
    }
    if (rng.chance(0.5)) await new Promise((r) => setImmediate(r));
  }
  if (clean && !toDns) {
    const total = sent.reduce((n, d) => n + d.length, 0);
    assert.ok(await until(() => g.received.length >= total || g.rstReceived, ANSWER_MS), `echo of ${total} bytes incomplete: ${g.received.length}`);
    assert.deepEqual(g.received, cat(...sent), 'the echo is what was sent');
    assert.equal(g.windowOverruns, 0, 'the NAT overran the guest\'s window');
  }
  switch (rng.int(3)) {
    case 0: g.send(F.RST, undefined, g.sndNxt); break;
    case 1: g.close(); break;
    default: break; // the NAT's close() ends it
  }
}
