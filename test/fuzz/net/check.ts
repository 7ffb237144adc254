// What every frame the NAT sends the guest must be: well-formed Ethernet carrying ARP
// or IPv4, with every length and checksum right (parse() in test/net/frames.ts asserts
// the IPv4, UDP and TCP ones; ICMP, ARP and fragments are checked here), from the
// gateway or from an address the guest sent to, and addressed to the guest: to a MAC
// and an IP the guest itself used as its own in some frame, or to broadcast. The NAT
// answers whoever a frame claims to be from (an ARP sender, a DHCP client's chaddr and
// ciaddr), so those count as the guest too; and a DHCP reply may go to the address it
// hands out (yiaddr), which the NAT's lease table chose for a MAC the guest used.

import assert from 'node:assert/strict';
import { DNS, GATEWAY, GATEWAY_MAC, GUEST, type Parsed, cat, csum, parse } from '../../net/frames.js';

const ETH = 14;
const MTU = 1500;
const key = (b: Uint8Array) => Array.from(b).join('.');
const be16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];

export class FrameAudit {
  private readonly macs = new Set<string>([key(new Uint8Array(6).fill(0xff))]);
  private readonly ips = new Set<string>([key(GUEST), '255.255.255.255']);
  private readonly peers = new Set<string>([key(GATEWAY), key(DNS)]);
  /** Fragments of datagrams to the guest, by source and IP ID, until all are in. */
  private readonly fragments = new Map<string, { offset: number; more: boolean; data: Uint8Array }[]>();

  /** Notes who a frame the guest sends says it is, and whom it addresses. */
  learn(f: Uint8Array): void {
    if (f.length < ETH) return;
    this.macs.add(key(f.subarray(6, 12)));
    const type = be16(f, 12);
    if (type === 0x0806 && f.length >= ETH + 28) this.macs.add(key(f.subarray(ETH + 8, ETH + 14)));
    if (type !== 0x0800 || f.length < ETH + 20) return;
    this.ips.add(key(f.subarray(ETH + 12, ETH + 16)));
    this.peers.add(key(f.subarray(ETH + 16, ETH + 20)));
    const udp = ETH + (f[ETH] & 0x0f) * 4;
    if (f[ETH + 9] === 17 && f.length >= udp + 8 + 34 && be16(f, udp + 2) === 67) {
      this.ips.add(key(f.subarray(udp + 8 + 12, udp + 8 + 16))); // ciaddr
      this.macs.add(key(f.subarray(udp + 8 + 28, udp + 8 + 34))); // chaddr
    }
  }

  /** Asserts one frame from the NAT is well-formed and for the guest. Returns it parsed,
   *  and with it the whole datagram when it completes a fragmented one. */
  check(f: Uint8Array): Parsed[] {
    assert.ok(f.length <= ETH + MTU, `frame of ${f.length} bytes beyond the MTU`);
    const p = parse(f);
    assert.ok(this.macs.has(key(p.dstMac)), `frame to ${key(p.dstMac)}, a MAC the guest never used`);
    if (p.type === 0x0806) {
      checkArp(p, this.ips);
      return [p];
    }
    assert.equal(p.type, 0x0800, `EtherType 0x${p.type.toString(16)}`);
    const ipv4 = p.ip;
    assert.ok(ipv4, 'IPv4 parsed');
    assert.ok(this.peers.has(ipv4.src), `IP from ${ipv4.src}, an address the guest never sent to`);
    assert.ok(this.ips.has(ipv4.dst) || isDhcpOfferTo(p, ipv4.dst), `IP to ${ipv4.dst}, an address the guest never used`);
    assert.ok(ipv4.ttl > 0, 'TTL 0');
    assert.ok([1, 6, 17].includes(ipv4.proto), `IP protocol ${ipv4.proto}`);
    if (ipv4.flags & 0x3fff) {
      const whole = this.reassemble(f, p);
      return whole ? [p, whole] : [p];
    }
    if (ipv4.proto === 1) checkIcmp(ipv4.payload);
    // No published ports here: every SYN the NAT sends answers one of the guest's.
    if (ipv4.proto === 6) assert.ok(p.tcp && ((p.tcp.flags & 0x02) === 0 || (p.tcp.flags & 0x10) !== 0), 'a SYN without ACK');
    return [p];
  }

  /** Files a fragment; once the pieces from offset 0 to one without MF are all there,
   *  checks the datagram's transport header over the whole and returns it parsed. */
  private reassemble(f: Uint8Array, p: Parsed): Parsed | null {
    const ipv4 = p.ip as NonNullable<Parsed['ip']>;
    const offset = (ipv4.flags & 0x1fff) * 8, more = (ipv4.flags & 0x2000) !== 0;
    assert.ok(!more || ipv4.payload.length % 8 === 0, 'a fragment with MF is a multiple of 8 bytes');
    const id = `${ipv4.src}/${ipv4.id}/${ipv4.proto}`;
    const pieces = this.fragments.get(id) ?? [];
    pieces.push({ offset, more, data: ipv4.payload });
    pieces.sort((a, b) => a.offset - b.offset);
    this.fragments.set(id, pieces);
    let end = 0;
    for (const q of pieces) {
      if (q.offset !== end) return null; // a gap: more to come
      end += q.data.length;
    }
    if (pieces[pieces.length - 1].more) return null;
    assert.ok(pieces.slice(0, -1).every((q) => q.more), 'a fragment without MF before the last');
    this.fragments.delete(id);
    // The same frame with the whole datagram in it and no fragment bits: parse() checks it.
    const payload = cat(...pieces.map((q) => q.data));
    const hdr = f.slice(ETH, ETH + 20);
    hdr.set([(20 + payload.length) >> 8, (20 + payload.length) & 0xff], 2);
    hdr.set([0, 0], 6); // no MF, offset 0
    hdr[10] = hdr[11] = 0;
    const c = csum(hdr);
    hdr.set([c >> 8, c & 0xff], 10);
    return parse(cat(f.subarray(0, ETH), hdr, payload));
  }
}

/** `guestIps`: the addresses the guest used; a request asks for one of them. */
function checkArp(p: Parsed, guestIps: ReadonlySet<string>): void {
  const a = p.payload;
  assert.ok(a.length >= 28, 'ARP shorter than 28 bytes');
  assert.deepEqual(Array.from(a.subarray(0, 6)), [0, 1, 8, 0, 6, 4], 'ARP for Ethernet/IPv4');
  const op = be16(a, 6);
  assert.ok(op === 1 || op === 2, `ARP op ${op}`);
  assert.deepEqual(a.subarray(8, 14), GATEWAY_MAC, 'ARP from the gateway MAC');
  const sender = key(a.subarray(14, 18));
  assert.ok(sender === key(GATEWAY) || sender === key(DNS), `ARP from ${sender}`);
  if (op === 2) assert.deepEqual(a.subarray(18, 24), p.dstMac, 'ARP reply to its target');
  else assert.ok(guestIps.has(key(a.subarray(24, 28))), `ARP request for ${key(a.subarray(24, 28))}, not an address of the guest`);
}

function checkIcmp(icmp: Uint8Array): void {
  assert.ok(icmp.length >= 8, 'ICMP shorter than 8 bytes');
  assert.equal(csum(icmp), 0, 'ICMP checksum');
  const [type, code] = icmp;
  assert.ok((type === 0 && code === 0) || (type === 3 && code === 3), `ICMP type ${type} code ${code}`);
}

/** A DHCP server reply unicast to the address it offers (RFC 2131 4.1). */
function isDhcpOfferTo(p: Parsed, dst: string): boolean {
  const u = p.udp;
  return u !== undefined && u.sport === 67 && u.dport === 68 && u.payload.length >= 20 && key(u.payload.subarray(16, 20)) === dst;
}
