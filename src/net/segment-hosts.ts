// Who is who on the NAT's segment: the DHCP leases it hands out (MAC -> address) and the
// neighbours it sends to (address -> MAC). One guest on a private NAT and many guests
// behind a switch sharing one NAT use the same table; the first guest gets 10.0.2.15, as
// under slirp, and the next ones .16, .17 and so on.
//
// The table is bounded by the subnet itself: only addresses in 10.0.2.0/24 that can be a
// guest's are kept, so it can never hold more than FIRST_GUEST..LAST_GUEST entries.

import { DNS_IP, GATEWAY_IP, GUEST_IP, type Ip, NETWORK, inSubnet, macEquals } from './addresses.js';

export const FIRST_GUEST = GUEST_IP;
export const LAST_GUEST: Ip = NETWORK | 0xfe;

interface Host {
  mac: Uint8Array;
  /** Handed out by DHCP (a lease) rather than only seen in use (a static address). */
  leased: boolean;
  lastSeen: number;
}

/** An address a guest may hold: in the subnet, not the network, broadcast, gateway or DNS. */
export function isGuestAddress(ip: Ip): boolean {
  const host = ip & 0xff;
  return inSubnet(ip) && host !== 0 && host !== 0xff && ip !== GATEWAY_IP && ip !== DNS_IP;
}

export class SegmentHosts {
  private readonly hosts = new Map<Ip, Host>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.hosts.size;
  }

  /** The MAC frames for `ip` go to, if anyone has been seen or leased there. */
  macFor(ip: Ip): Uint8Array | undefined {
    return this.hosts.get(ip)?.mac;
  }

  /** A guest used `ip` from `mac` (an ARP sender or an IPv4 source): frames for it go
   *  there from now on, as an ARP cache would. Returns true when this is news. */
  seen(ip: Ip, mac: Uint8Array): boolean {
    if (!isGuestAddress(ip)) return false;
    const h = this.hosts.get(ip);
    if (h && macEquals(h.mac, mac)) {
      h.lastSeen = this.now();
      return false;
    }
    this.hosts.set(ip, { mac: mac.slice(0, 6), leased: h?.leased ?? false, lastSeen: this.now() });
    return true;
  }

  /** The address DHCP gives `mac`: the one it already holds, else `wanted` when that is
   *  free or already used by this MAC (a guest renewing after the VMM restarted keeps its
   *  address), else the lowest free one. When every address is taken, the longest-unseen
   *  lease is taken back; null only when none is a lease (the segment is full of static
   *  addresses). */
  lease(mac: Uint8Array, wanted: Ip): Ip | null {
    for (const [ip, h] of this.hosts) {
      if (h.leased && macEquals(h.mac, mac)) {
        h.lastSeen = this.now();
        return ip;
      }
    }
    const holder = this.hosts.get(wanted);
    const wantedFree = holder === undefined || (!holder.leased && macEquals(holder.mac, mac));
    let ip: Ip | null = wanted >= FIRST_GUEST && isGuestAddress(wanted) && wantedFree ? wanted : null;
    for (let a = FIRST_GUEST; ip === null && a <= LAST_GUEST; a++) if (!this.hosts.has(a)) ip = a;
    if (ip === null) ip = this.oldestLease();
    if (ip === null) return null;
    this.hosts.set(ip, { mac: mac.slice(0, 6), leased: true, lastSeen: this.now() });
    return ip;
  }

  private oldestLease(): Ip | null {
    let oldest: Ip | null = null;
    let at = Infinity;
    for (const [ip, h] of this.hosts) {
      if (h.leased && h.lastSeen < at) {
        oldest = ip;
        at = h.lastSeen;
      }
    }
    return oldest;
  }

  /** The table as plain data, for introspection. */
  list(): { ip: Ip; mac: Uint8Array; leased: boolean }[] {
    return [...this.hosts].map(([ip, h]) => ({ ip, mac: h.mac, leased: h.leased }));
  }
}
