// ARP (RFC 826) for Ethernet/IPv4 only. Like slirp, the gateway answers for its own
// virtual addresses (10.0.2.2 and 10.0.2.3) and nothing else: answering for other
// addresses would break the guest's duplicate-address checks of its own 10.0.2.15.

import { GATEWAY_MAC, type Ip, readIp, writeIp } from './addresses.js';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const ARP_LENGTH = 28;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: Ip;
  targetMac: Uint8Array;
  targetIp: Ip;
}

export function parseArp(b: Uint8Array): ArpPacket | null {
  if (b.length < ARP_LENGTH) return null;
  // htype Ethernet, ptype IPv4, hlen 6, plen 4: anything else is not for us.
  if (b[0] !== 0 || b[1] !== 1 || b[2] !== 0x08 || b[3] !== 0 || b[4] !== 6 || b[5] !== 4) return null;
  return {
    op: (b[6] << 8) | b[7],
    senderMac: b.subarray(8, 14),
    senderIp: readIp(b, 14),
    targetMac: b.subarray(18, 24),
    targetIp: readIp(b, 24),
  };
}

export function buildArp(op: number, senderMac: Uint8Array, senderIp: Ip, targetMac: Uint8Array, targetIp: Ip): Uint8Array {
  const b = new Uint8Array(ARP_LENGTH);
  b.set([0, 1, 0x08, 0, 6, 4, 0, op]);
  b.set(senderMac.subarray(0, 6), 8);
  writeIp(b, 14, senderIp);
  b.set(targetMac.subarray(0, 6), 18);
  writeIp(b, 24, targetIp);
  return b;
}

/** The reply to `req` when it asks for one of `ours`, else null. */
export function arpReply(req: ArpPacket, ours: readonly Ip[]): Uint8Array | null {
  if (req.op !== ARP_REQUEST || !ours.includes(req.targetIp)) return null;
  return buildArp(ARP_REPLY, GATEWAY_MAC, req.targetIp, req.senderMac, req.senderIp);
}
