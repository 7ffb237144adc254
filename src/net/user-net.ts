// The user-mode NAT gateway (QEMU's `-netdev user`, slirp): an EthernetEndpoint that plays
// the 10.0.2.0/24 network's router: ARP, DHCP, DNS, ping to the gateway, and TCP/UDP to
// anywhere through ordinary host sockets, so no privileges are needed. 10.0.2.2 is the
// host's loopback, as in slirp. It serves one guest on its own NIC, or every guest of a
// switched segment as the segment's router port: each gets its own DHCP address and its
// own flows (segment-hosts.ts keeps who is where). Published ports reach 10.0.2.15, the
// first guest, as slirp's hostfwd does when no guest address is given.
//
// Frames to the guest are queued and handed to the peer from a microtask, never from
// inside our own deliver(): the device may call straight back into us.

import net from 'node:net';
import type { EthernetEndpoint, EthernetPort } from '../devices/ethernet.js';
import {
  BROADCAST_MAC, DNS_IP, GATEWAY_IP, GATEWAY_MAC, GUEST_IP, type GuestSocket, type Ip, LIMITED_BROADCAST, SUBNET_BROADCAST,
  ipToString, isSpecial, macEquals, macToString,
} from './addresses.js';
import { SegmentHosts, isGuestAddress } from './segment-hosts.js';
import { ARP_REQUEST, arpReply, buildArp, parseArp } from './arp.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, dhcpReply } from './dhcp.js';
import { DnsForwarder, type Nameserver, hostNameservers, parseNameserver } from './dns.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETH_HEADER, isMulticastMac, parseEthernet } from './ethernet.js';
import { type BoundRule, Forwards, type PublishRule } from './forward.js';
import { echoReply, unreachable } from './icmp.js';
import { type Ipv4Packet, PROTO_ICMP, PROTO_TCP, PROTO_UDP, buildIpv4, parseIpv4 } from './ipv4.js';
import { TcpConnection, type TcpEnds } from './tcp.js';
import { ACK, FIN, RST, SYN, type TcpSegment, buildTcp, parseTcp, resetFor } from './tcp-segment.js';
import { UdpNat, buildUdp, parseUdp } from './udp.js';

export interface UserNetOptions {
  publish?: PublishRule[];
  /** Resolvers for 10.0.2.3 ("addr", "addr:port", "[v6]:port"); default: the host's. */
  dnsServers?: string[];
  log?: (line: string) => void;
}

export interface UserNetStats {
  framesFromGuest: number;
  framesToGuest: number;
  /** Frames from the guest we could not use, and frames for the guest with nowhere to go. */
  dropped: number;
  tcpConnections: number;
  tcpRetransmits: number;
  udpFlows: number;
}

const MAX_TCP = 4096;

/** A TCP connection is known by both ends, so two guests may use the same source port. */
function flowKey(guestIp: Ip, guestPort: number, peerIp: Ip, peerPort: number): string {
  return `${guestIp}|${guestPort}|${peerIp}|${peerPort}`;
}

export class UserNet implements EthernetEndpoint {
  readonly stats: UserNetStats = { framesFromGuest: 0, framesToGuest: 0, dropped: 0, tcpConnections: 0, tcpRetransmits: 0, udpFlows: 0 };
  private peer: EthernetPort | undefined;
  /** The guests on the segment: DHCP leases and where each address's frames go. */
  readonly hosts = new SegmentHosts();
  private readonly outbox: Uint8Array[] = [];
  private flushing = false;
  private scheduled = false;
  private readonly tcp = new Map<string, TcpConnection>();
  private readonly udp: UdpNat;
  private readonly dns: DnsForwarder;
  private readonly forwards: Forwards;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private ipId = 0;
  private closed = false;
  private readonly log: (line: string) => void;

  constructor(options: UserNetOptions = {}) {
    const log = options.log ?? (() => {});
    this.log = (line) => log(`net: ${line}`);
    const servers: Nameserver[] = options.dnsServers
      ? options.dnsServers.map((s) => parseNameserver(s) ?? (() => { throw new Error(`bad DNS server address: ${s}`); })())
      : hostNameservers();
    if (servers.length === 0) this.log('no DNS server found on the host; 10.0.2.3 will not answer');
    this.dns = new DnsForwarder(servers, { toGuest: (guest, p) => this.sendUdp(DNS_IP, 53, guest, p), log: this.log });
    this.udp = new UdpNat({ toGuest: (ip, from, guest, p) => this.sendUdp(ip, from, guest, p), log: this.log });
    this.forwards = new Forwards(options.publish ?? [], {
      tcpAccepted: (socket, rule) => this.acceptPublished(socket, rule),
      udpToGuest: (from, port, p) => this.sendUdp(GATEWAY_IP, from, { ip: GUEST_IP, port }, p),
      log: this.log,
    });
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  connect(peer: EthernetPort): void {
    this.peer = peer;
  }

  /** Binds the published ports; resolves to the rules as bound (real ports for port 0). */
  start(): Promise<BoundRule[]> {
    return this.forwards.start();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.forwards.close();
    for (const c of [...this.tcp.values()]) c.finish();
    this.udp.close();
    this.dns.close();
    this.outbox.length = 0;
  }

  deliver(frame: Uint8Array): void {
    this.stats.framesFromGuest++;
    try {
      if (!this.closed && this.input(frame)) return;
    } catch (err) {
      // A bug must not take the VMM down with it; the frame is lost, the guest retries.
      this.log(`internal error on a guest frame: ${(err as Error).stack ?? String(err)}`);
    }
    this.stats.dropped++;
  }

  /** Returns false when the frame was dropped. */
  private input(frame: Uint8Array): boolean {
    const eth = parseEthernet(frame);
    if (!eth || isMulticastMac(eth.src)) return false;
    if (!macEquals(eth.dst, GATEWAY_MAC) && !macEquals(eth.dst, BROADCAST_MAC)) return false;
    if (eth.type === ETHERTYPE_ARP) {
      const arp = parseArp(eth.payload);
      if (!arp) return false;
      this.learn(arp.senderIp, arp.senderMac);
      const reply = arpReply(arp, [GATEWAY_IP, DNS_IP]);
      if (reply) this.emit(arp.senderMac, ETHERTYPE_ARP, [reply]);
      return true;
    }
    if (eth.type !== ETHERTYPE_IPV4) return false;
    const ip = parseIpv4(eth.payload);
    if (typeof ip === 'string') return false;
    this.learn(ip.src, eth.src);
    if (ip.proto === PROTO_UDP) return this.udpInput(ip);
    if (ip.proto === PROTO_TCP) return this.tcpInput(ip);
    if (ip.proto === PROTO_ICMP && (ip.dst === GATEWAY_IP || ip.dst === DNS_IP) && isGuestAddress(ip.src)) {
      const reply = echoReply(ip.payload);
      if (reply) this.sendIp(ip.dst, ip.src, PROTO_ICMP, reply, false);
      return reply !== null;
    }
    return false;
  }

  private learn(ip: Ip, mac: Uint8Array): void {
    if (this.hosts.seen(ip, mac)) this.log(`guest ${ipToString(ip)} at ${macToString(mac)}`);
  }

  private udpInput(ip: Ipv4Packet): boolean {
    const u = parseUdp(ip.payload, ip.src, ip.dst);
    if (!u) return false;
    if (u.dstPort === DHCP_SERVER_PORT && (ip.dst === LIMITED_BROADCAST || ip.dst === GATEWAY_IP)) {
      const r = dhcpReply(u.payload, (mac, wanted) => this.hosts.lease(mac, wanted));
      if (!r) return false;
      const udp = buildUdp(GATEWAY_IP, r.dstIp, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, r.payload);
      this.emit(r.broadcast ? BROADCAST_MAC : r.clientMac, ETHERTYPE_IPV4, buildIpv4(GATEWAY_IP, r.dstIp, PROTO_UDP, udp, this.ipId++, false, ETH_HEADER));
      return true;
    }
    if (!isGuestAddress(ip.src)) return false;
    const guest = { ip: ip.src, port: u.srcPort };
    if (ip.dst === DNS_IP) {
      if (u.dstPort === 53) this.dns.query(guest, u.payload);
      else this.sendIp(DNS_IP, ip.src, PROTO_ICMP, unreachable(3, ip.header, ip.payload), false);
      return u.dstPort === 53;
    }
    if (ip.dst === GATEWAY_IP && ip.src === GUEST_IP && this.forwards.udpFromGuest(u.srcPort, u.dstPort, u.payload)) return true;
    const host = this.hostAddress(ip.dst);
    if (host === null || u.dstPort === 0) return false;
    this.udp.send(guest, ip.dst, u.dstPort, host, u.dstPort, u.payload);
    return true;
  }

  /** Where a destination the guest names really is: 10.0.2.2 is the host's loopback;
   *  the rest of the virtual network, multicast and broadcast go nowhere. */
  private hostAddress(ip: Ip): string | null {
    if (ip === GATEWAY_IP) return '127.0.0.1';
    return isSpecial(ip) ? null : ipToString(ip);
  }

  private tcpInput(ip: Ipv4Packet): boolean {
    const seg = parseTcp(ip.payload, ip.src, ip.dst);
    if (!seg || !isGuestAddress(ip.src)) return false;
    const key = flowKey(ip.src, seg.srcPort, ip.dst, seg.dstPort);
    let conn = this.tcp.get(key);
    if (conn && conn.state === 'time-wait' && (seg.flags & (SYN | ACK)) === SYN) {
      conn.finish(); // the guest reuses the port pair for a new connection
      conn = undefined;
    }
    if (conn) {
      conn.input(seg);
      return true;
    }
    if ((seg.flags & (SYN | ACK | RST | FIN)) !== SYN) {
      if (!(seg.flags & RST)) this.refuse(ip, seg);
      return true;
    }
    let target: Nameserver | null = null;
    if (ip.dst === DNS_IP) target = seg.dstPort === 53 ? this.dns.server() ?? null : null;
    else {
      const host = this.hostAddress(ip.dst);
      target = host === null ? null : { address: host, port: seg.dstPort };
    }
    if (target === null || this.tcp.size >= MAX_TCP) {
      this.refuse(ip, seg);
      return true;
    }
    const socket = net.connect({ host: target.address, port: target.port, allowHalfOpen: true });
    this.open(key, { guestIp: ip.src, guestPort: seg.srcPort, peerIp: ip.dst, peerPort: seg.dstPort }, socket, seg);
    return true;
  }

  private acceptPublished(socket: net.Socket, rule: BoundRule): void {
    if (this.closed || this.tcp.size >= MAX_TCP) return void socket.destroy();
    const port = this.forwards.allocate((p) => this.tcp.has(flowKey(GUEST_IP, rule.guestPort, GATEWAY_IP, p)));
    this.log(`published tcp ${rule.hostAddress}:${rule.hostPort}: connection from ${socket.remoteAddress}:${socket.remotePort}`);
    this.open(flowKey(GUEST_IP, rule.guestPort, GATEWAY_IP, port), { guestIp: GUEST_IP, guestPort: rule.guestPort, peerIp: GATEWAY_IP, peerPort: port }, socket);
  }

  private open(key: string, ends: TcpEnds, socket: net.Socket, syn?: TcpSegment): void {
    const conn: TcpConnection = new TcpConnection(ends, socket, {
      send: (segment) => this.sendIp(ends.peerIp, ends.guestIp, PROTO_TCP, segment, true),
      closed: () => {
        if (this.tcp.get(key) === conn) this.tcp.delete(key);
        this.stats.tcpConnections = this.tcp.size;
      },
      retransmitted: () => this.stats.tcpRetransmits++,
      log: this.log,
    }, syn);
    if (conn.state !== 'closed') this.tcp.set(key, conn);
    this.stats.tcpConnections = this.tcp.size;
  }

  /** RST for a segment no connection owns. */
  private refuse(ip: Ipv4Packet, seg: TcpSegment): void {
    this.sendIp(ip.dst, ip.src, PROTO_TCP, buildTcp(ip.dst, ip.src, resetFor(seg)), true);
  }

  private sendUdp(srcIp: Ip, srcPort: number, guest: GuestSocket, payload: Uint8Array): void {
    this.sendIp(srcIp, guest.ip, PROTO_UDP, buildUdp(srcIp, guest.ip, srcPort, guest.port, payload), false);
  }

  private sendIp(src: Ip, dst: Ip, proto: number, payload: Uint8Array, dontFragment: boolean): void {
    const broadcast = dst === LIMITED_BROADCAST || dst === SUBNET_BROADCAST;
    const mac = broadcast ? BROADCAST_MAC : this.hosts.macFor(dst);
    if (!mac && !isGuestAddress(dst)) {
      this.stats.dropped++; // nobody on the segment can be there: not worth an ARP
      return;
    }
    if (!mac) {
      // Nobody known there yet: ask, and let the sender's retransmission carry the data.
      this.emit(BROADCAST_MAC, ETHERTYPE_ARP, [buildArp(ARP_REQUEST, GATEWAY_MAC, GATEWAY_IP, new Uint8Array(6), dst)]);
      this.stats.dropped++;
      return;
    }
    this.emit(mac, ETHERTYPE_IPV4, buildIpv4(src, dst, proto, payload, this.ipId++, dontFragment, ETH_HEADER));
  }

  /** Queues frames to the guest. `packets` either have ETH_HEADER bytes of headroom
   *  (IPv4) or are bare payloads (ARP) that get copied behind a header. */
  private emit(dstMac: Uint8Array, type: number, packets: Uint8Array[]): void {
    if (this.closed) return;
    for (let p of packets) {
      if (type === ETHERTYPE_ARP) {
        const f = new Uint8Array(ETH_HEADER + p.length);
        f.set(p, ETH_HEADER);
        p = f;
      }
      p.set(dstMac.subarray(0, 6), 0);
      p.set(GATEWAY_MAC, 6);
      p[12] = type >>> 8;
      p[13] = type & 0xff;
      this.outbox.push(p);
    }
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.flushing) return;
    this.flushing = true;
    try {
      // The peer may answer synchronously, adding to the outbox while we walk it.
      for (let i = 0; i < this.outbox.length; i++) {
        if (!this.peer) {
          this.stats.dropped++;
          continue;
        }
        this.stats.framesToGuest++;
        try {
          this.peer.deliver(this.outbox[i]);
        } catch (err) {
          // Ports must not throw; if one does, it must not cost the frames behind it.
          this.log(`the guest's port threw: ${(err as Error).message}`);
        }
      }
    } finally {
      this.outbox.length = 0;
      this.flushing = false;
    }
  }

  private sweep(): void {
    this.udp.sweep();
    this.dns.sweep();
    this.forwards.sweep();
    this.stats.udpFlows = this.udp.size;
  }
}
