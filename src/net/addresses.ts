// The virtual network's fixed plan, the same as QEMU's `-netdev user` (slirp) so guest
// images, documentation and habits carry over: 10.0.2.0/24, the gateway (which is also
// "the host") at .2, the DNS forwarder at .3 and the first guest at .15 (more on a
// shared segment get .16, .17, ...: segment-hosts.ts).

/** IPv4 addresses are kept as unsigned 32-bit numbers (network order read as big-endian). */
export type Ip = number;

/** A guest's end of a UDP exchange through the NAT: several guests may share it. */
export interface GuestSocket {
  ip: Ip;
  port: number;
}

export const NETWORK: Ip = 0x0a000200;
export const NETMASK: Ip = 0xffffff00;
export const GATEWAY_IP: Ip = 0x0a000202;
export const DNS_IP: Ip = 0x0a000203;
export const GUEST_IP: Ip = 0x0a00020f;
export const SUBNET_BROADCAST: Ip = 0x0a0002ff;
export const LIMITED_BROADCAST: Ip = 0xffffffff;
export const LOOPBACK: Ip = 0x7f000001;

/** slirp's gateway MAC: 52:55 then the gateway's IPv4 address. */
export const GATEWAY_MAC = Uint8Array.of(0x52, 0x55, 0x0a, 0x00, 0x02, 0x02);
export const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export function ipToString(ip: Ip): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** Dotted quad to number; null for anything else (IPv6, names, junk). */
export function parseIp(s: string): Ip | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function inSubnet(ip: Ip): boolean {
  return ((ip & NETMASK) >>> 0) === NETWORK;
}

/** Addresses the NAT never forwards to the host: this network, loopback as the guest
 *  means it, "this host", multicast and broadcast. */
export function isSpecial(ip: Ip): boolean {
  const top = ip >>> 24;
  return inSubnet(ip) || top === 0 || top === 127 || top >= 224;
}

export function readIp(b: Uint8Array, at: number): Ip {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

export function writeIp(b: Uint8Array, at: number, ip: Ip): void {
  b[at] = ip >>> 24;
  b[at + 1] = ip >>> 16;
  b[at + 2] = ip >>> 8;
  b[at + 3] = ip;
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function macToString(m: Uint8Array): string {
  return Array.from(m.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}
