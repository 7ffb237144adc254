// Guest frames for the NAT, structure-aware: each builder makes a valid frame a guest
// sends (ARP, DHCP, DNS, ping, UDP, TCP to no connection, junk) and says which answer
// it must get, then mutate() damages it the ways that reach different parsers (bytes
// anywhere with the checksums left broken, bytes past the Ethernet header with the
// checksums fixed up, one header field set to a boundary value, truncation). confine()
// runs last on every frame, so no mutation sends traffic anywhere but our own servers.

import { type Rng, mutateBytes } from '../harness.js';
import {
  BROADCAST, DNS, F, GATEWAY, GATEWAY_MAC, GUEST, GUEST_MAC, type Parsed, cat, csum, ethernet, guestFrame, ip, ipv4, tcp, udp,
} from '../../net/frames.js';
import type { HostPorts } from './hosts.js';

export interface Probe {
  frame: Uint8Array;
  /** The answer a valid frame must get (absent: none, or none required). */
  answered?: (p: Parsed) => boolean;
  /** The answer comes from a host socket, after some event-loop turns. */
  async?: boolean;
}

const ETH = 14;
const OTHER = ip('10.0.2.77'); // in the virtual network, nobody there
/** TEST-NET-1 (RFC 5737): outside, and routed nowhere even if a bug let it out. */
const OUTSIDE = ip('192.0.2.1');
const be16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
const guestPort = (rng: Rng) => 1024 + rng.int(64512);

function arp(rng: Rng, target = rng.pick([GATEWAY, DNS, GUEST, OTHER]), op = rng.chance(0.9) ? 1 : 2): Probe {
  const senderIp = rng.chance(0.8) ? GUEST : new Uint8Array(4);
  const frame = ethernet(rng.chance(0.8) ? BROADCAST : GATEWAY_MAC, GUEST_MAC, 0x0806,
    cat([0, 1, 8, 0, 6, 4, 0, op], GUEST_MAC, senderIp, new Uint8Array(6), target));
  const ours = op === 1 && (target === GATEWAY || target === DNS);
  return { frame, answered: ours ? (p) => p.type === 0x0806 && p.payload[7] === 2 && same(p.payload.subarray(14, 18), target) : undefined };
}

function ping(rng: Rng, dst = rng.pick([GATEWAY, DNS, OTHER, OUTSIDE])): Probe {
  const id = rng.int(0x10000), seq = rng.int(0x10000);
  const icmp = cat([8, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff], rng.bytes(rng.int(64)));
  const c = csum(icmp);
  icmp.set([c >> 8, c & 0xff], 2);
  const ours = dst === GATEWAY || dst === DNS;
  return {
    frame: guestFrame(dst, 1, icmp),
    answered: ours ? (p) => p.ip?.proto === 1 && p.ip.payload[0] === 0 && be16(p.ip.payload, 4) === id && be16(p.ip.payload, 6) === seq : undefined,
  };
}

function dhcp(rng: Rng): Probe {
  const type = rng.pick([1, 1, 3, 3, 8, 4, 7, rng.int(256)]); // DISCOVER, REQUEST, INFORM, DECLINE, RELEASE
  const xid = rng.u32();
  const ciaddr = type === 8 || rng.chance(0.2) ? GUEST : new Uint8Array(4);
  const bootp = new Uint8Array(236);
  bootp.set([1, 1, 6, 0, xid >>> 24, (xid >>> 16) & 0xff, (xid >>> 8) & 0xff, xid & 0xff]);
  if (rng.chance(0.5)) bootp[10] = 0x80; // broadcast flag
  bootp.set(ciaddr, 12);
  bootp.set(GUEST_MAC, 28);
  const opts: number[] = [0x63, 0x82, 0x53, 0x63, 53, 1, type];
  if (rng.chance(0.5)) opts.push(50, 4, ...rng.pick([GUEST, OTHER])); // requested address
  const server = rng.chance(0.3) ? rng.pick([GATEWAY, OTHER]) : null;
  if (server) opts.push(54, 4, ...server); // server identifier
  if (rng.chance(0.3)) opts.push(55, 3, 1, 3, 6); // parameter request list
  opts.push(255);
  const payload = cat(bootp, opts);
  const src = ciaddr, dst = rng.chance(0.8) ? BROADCAST.subarray(0, 4) : GATEWAY;
  const frame = ethernet(BROADCAST, GUEST_MAC, 0x0800, ipv4(src, dst, 17, udp(src, dst, 68, 67, payload), 0, 0));
  // Answered: DISCOVER, INFORM, and a REQUEST that names no other server (ACK or NAK).
  const answers = type === 1 || type === 8 || (type === 3 && (server === null || server === GATEWAY));
  const xidOf = (p: Parsed) => (p.udp ? new DataView(p.udp.payload.buffer, p.udp.payload.byteOffset).getUint32(4) : -1);
  return { frame, answered: answers ? (p) => p.udp?.sport === 67 && p.udp.dport === 68 && xidOf(p) === xid : undefined };
}

function dnsQuery(rng: Rng): Probe {
  const id = rng.int(0x10000), port = guestPort(rng);
  const label = Array.from(rng.bytes(1 + rng.int(20)), (b) => 97 + (b % 26));
  const q = cat([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, label.length], label, [0, 0, 1, 0, 1]);
  return {
    frame: guestFrame(DNS, 17, udp(GUEST, DNS, port, 53, q)),
    answered: (p) => p.udp?.sport === 53 && p.udp.dport === port && be16(p.udp.payload, 0) === id,
    async: true,
  };
}

function udpEcho(rng: Rng, ports: HostPorts): Probe {
  // Some too large for one frame: the NAT fragments the echo on its way back.
  const port = guestPort(rng), data = rng.bytes(1 + rng.int(rng.chance(0.9) ? 200 : 4000));
  return {
    frame: guestFrame(GATEWAY, 17, udp(GUEST, GATEWAY, port, ports.udpEcho, data)),
    answered: (p) => p.udp?.sport === ports.udpEcho && p.udp.dport === port && same(p.udp.payload, data),
    async: true,
  };
}

/** UDP nobody serves: ICMP port unreachable from 10.0.2.3, silence elsewhere. */
function udpNowhere(rng: Rng): Probe {
  const dst = rng.pick([DNS, OTHER, ip('127.0.0.1'), ip('224.0.0.1'), ip('10.0.2.255')]);
  const port = dst === DNS ? 54 + rng.int(1000) : 1 + rng.int(0xffff);
  const frame = guestFrame(dst, 17, udp(GUEST, dst, guestPort(rng), port, rng.bytes(rng.int(32))));
  return { frame, answered: dst === DNS ? (p) => p.ip?.proto === 1 && p.ip.payload[0] === 3 && p.ip.payload[1] === 3 : undefined };
}

/** TCP that no connection owns: a SYN to a closed or unserved port, or a stray
 *  segment. Each gets an RST (the closed port's once the host refuses the connect). */
function tcpStray(rng: Rng, ports: HostPorts): Probe {
  const port = guestPort(rng);
  const [dst, dport, flags] = rng.pick<[Uint8Array, number, number]>([
    [GATEWAY, ports.closedTcp, F.SYN],
    [DNS, 54 + rng.int(1000), F.SYN],
    [GATEWAY, ports.tcpEcho, F.ACK],
    [GATEWAY, ports.tcpEcho, F.ACK | F.PSH],
    [GATEWAY, ports.tcpEcho, F.FIN | F.ACK],
    [GATEWAY, ports.tcpEcho, F.RST],
    [OTHER, 80, F.SYN],
  ]);
  const seg = { sport: port, dport, seq: rng.u32(), ack: rng.u32(), flags, window: rng.int(0x10000), mss: flags === F.SYN ? 1460 : undefined, payload: rng.bytes(flags & F.PSH ? 1 + rng.int(100) : 0) };
  const answers = !(flags & F.RST);
  return {
    frame: guestFrame(dst, 6, tcp(GUEST, dst, seg)),
    answered: answers ? (p) => p.tcp !== undefined && p.tcp.dport === port && (p.tcp.flags & F.RST) !== 0 : undefined,
    async: dport === ports.closedTcp,
  };
}

function junk(rng: Rng): Probe {
  const body = rng.bytes(rng.int(rng.chance(0.9) ? 200 : 2000));
  if (rng.chance(0.2)) return { frame: body };
  const type = rng.pick([0x0800, 0x0806, 0x86dd, 0x8100, rng.int(0x10000)]);
  const src = rng.chance(0.9) ? GUEST_MAC : Uint8Array.of(1, 0, 0x5e, 0, 0, 1); // multicast source
  return { frame: ethernet(rng.chance(0.7) ? GATEWAY_MAC : rng.bytes(6), src, type, body) };
}

/** What a guest that got nowhere tries first: ARP for the gateway, then a ping to it. */
export function gatewayProbes(rng: Rng): Probe[] {
  return [arp(rng, GATEWAY, 1), ping(rng, GATEWAY)];
}

export const BUILDERS: [weight: number, build: (rng: Rng, ports: HostPorts) => Probe][] = [
  [3, (rng) => arp(rng)], [3, (rng) => ping(rng)], [3, dhcp], [2, dnsQuery], [2, udpEcho], [2, udpNowhere], [3, tcpStray], [2, junk],
];
const TOTAL = BUILDERS.reduce((n, [w]) => n + w, 0);

export function validFrame(rng: Rng, ports: HostPorts): Probe {
  let pick = rng.int(TOTAL);
  let i = 0;
  while (pick >= BUILDERS[i][0]) pick -= BUILDERS[i++][0];
  return BUILDERS[i][1](rng, ports);
}

/** Recomputes the IPv4 header checksum and the ICMP/UDP/TCP one of an Ethernet+IPv4
 *  frame, wherever its (possibly damaged) header lengths put them. */
export function fixChecksums(f: Uint8Array): void {
  if (f.length < ETH + 20 || be16(f, 12) !== 0x0800) return;
  const ihl = (f[ETH] & 0x0f) * 4;
  if (ihl < 20 || ETH + ihl > f.length) return;
  f.set([0, 0], ETH + 10);
  const h = csum(f.subarray(ETH, ETH + ihl));
  f.set([h >> 8, h & 0xff], ETH + 10);
  const total = be16(f, ETH + 2);
  if (total < ihl) return;
  const l4 = f.subarray(ETH + ihl, Math.min(f.length, ETH + total));
  const proto = f[ETH + 9];
  const at = proto === 6 ? 16 : proto === 17 ? 6 : proto === 1 ? 2 : -1;
  if (at < 0 || l4.length < at + 2) return;
  // UDP checksums cover what the UDP length says; TCP's the whole IP payload.
  const len = proto === 17 ? Math.min(be16(l4, 4), l4.length) : l4.length;
  l4.set([0, 0], at);
  const pseudo = Uint8Array.from([...f.subarray(ETH + 12, ETH + 20), 0, proto, len >> 8, len & 0xff]);
  const c = proto === 1 ? csum(l4) : csum(pseudo, l4.subarray(0, len));
  l4.set([c >> 8, c & 0xff], at);
}

/** Field offsets (from the start of the IPv4 header) a mutation may set to a boundary
 *  value: version/IHL, TOS, total length, ID, flags/fragment, TTL, protocol, then the
 *  first bytes of the transport header past the ports (lengths, flags, data offset). */
const FIELDS = [0, 1, 2, 3, 4, 6, 7, 8, 9, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35];

/** A damaged copy of a valid frame: what a broken or hostile guest driver sends. */
export function mutate(rng: Rng, valid: Uint8Array): Uint8Array {
  let f: Uint8Array = valid.slice();
  switch (rng.int(4)) {
    case 0: // anywhere, checksums left as they fall
      f = mutateBytes(rng, f);
      break;
    case 1: { // past the Ethernet header, checksums made right so the parsers see it
      f = cat(f.subarray(0, ETH), mutateBytes(rng, f.subarray(ETH)));
      fixChecksums(f);
      break;
    }
    case 2: { // one header field at a boundary
      const at = ETH + rng.pick(FIELDS);
      if (at < f.length) f[at] = rng.interesting(8);
      if (rng.chance(0.7)) fixChecksums(f);
      break;
    }
    default: { // cut short, the IP length left claiming more or made to agree
      f = f.slice(0, rng.int(f.length + 1));
      if (f.length >= ETH + 4 && rng.chance(0.5)) f.set([(f.length - ETH) >> 8, (f.length - ETH) & 0xff], ETH + 2);
      if (rng.chance(0.5)) fixChecksums(f);
    }
  }
  return f;
}

/** The virtual-network addresses the NAT never forwards (its isSpecial, restated). */
function special(dst: Uint8Array): boolean {
  return (dst[0] === 10 && dst[1] === 0 && dst[2] === 2) || dst[0] === 0 || dst[0] === 127 || dst[0] >= 224;
}

/**
 * Keeps every frame's traffic on this machine and on our servers: a frame the NAT could
 * parse as IPv4 TCP/UDP (header checksum right, not a fragment) must be for 10.0.2.2 on
 * one of our ports, for 10.0.2.3, or for an address the NAT drops. Any other gets its
 * header checksum broken, so the NAT drops it at the IP layer. Returns the frame.
 */
export function confine(f: Uint8Array, ports: HostPorts): Uint8Array {
  if (f.length < ETH + 20 || be16(f, 12) !== 0x0800 || f[ETH] >> 4 !== 4) return f;
  const ihl = (f[ETH] & 0x0f) * 4;
  const total = be16(f, ETH + 2);
  if (ihl < 20 || total < ihl || ETH + total > f.length || csum(f.subarray(ETH, ETH + ihl)) !== 0) return f;
  if ((be16(f, ETH + 6) & 0x3fff) !== 0) return f; // MF or an offset: dropped as a fragment
  const proto = f[ETH + 9];
  if (proto !== 6 && proto !== 17) return f; // ICMP and the rest are answered locally or dropped
  const dst = f.subarray(ETH + 16, ETH + 20);
  const l4 = ETH + ihl;
  const dport = l4 + 4 <= ETH + total ? be16(f, l4 + 2) : -1;
  const ours = proto === 6 ? [ports.tcpEcho, ports.closedTcp] : [ports.udpEcho, 67];
  const safe = same(dst, DNS) || (same(dst, GATEWAY) ? ours.includes(dport) || dport === -1 : special(dst));
  if (!safe) f[ETH + 10] ^= 0x01;
  return f;
}
