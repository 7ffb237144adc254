// A DHCP server (RFC 2131/2132) for slirp's network: a client gets the address its
// caller's lease table gives its MAC (10.0.2.15 for the first), with the gateway, netmask
// and DNS. The messages themselves are stateless; the table (segment-hosts.ts) is the one
// place that remembers who holds what.

import { DNS_IP, GATEWAY_IP, type Ip, LIMITED_BROADCAST, NETMASK, SUBNET_BROADCAST, readIp, writeIp } from './addresses.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const LEASE_SECONDS = 86400;

const DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5, NAK = 6, INFORM = 8;
const COOKIE = 0x63825363;
const OPT_PAD = 0, OPT_END = 255;
const OPT_SUBNET = 1, OPT_ROUTER = 3, OPT_DNS = 6, OPT_BROADCAST = 28, OPT_REQUESTED_IP = 50;
const OPT_LEASE = 51, OPT_MSG_TYPE = 53, OPT_SERVER_ID = 54, OPT_T1 = 58, OPT_T2 = 59;
const BOOTP_FIXED = 236;
/** RFC 1542: replies at least as long as the classic 300-byte BOOTP message. */
const BOOTP_MIN = 300;

export interface DhcpReply {
  payload: Uint8Array;
  /** Where to send it: 255.255.255.255 to the broadcast MAC, or unicast to `clientMac`. */
  dstIp: Ip;
  broadcast: boolean;
  clientMac: Uint8Array;
}

/** Options as code → value; null when the options area is malformed. */
export function parseOptions(b: Uint8Array, start: number): Map<number, Uint8Array> | null {
  const opts = new Map<number, Uint8Array>();
  let i = start;
  while (i < b.length) {
    const code = b[i++];
    if (code === OPT_PAD) continue;
    if (code === OPT_END) return opts;
    if (i >= b.length) return null;
    const len = b[i++];
    if (i + len > b.length) return null;
    if (!opts.has(code)) opts.set(code, b.subarray(i, i + len));
    i += len;
  }
  return opts; // no END: tolerated, as most servers do
}

function ipOption(opts: Map<number, Uint8Array>, code: number): Ip | null {
  const v = opts.get(code);
  return v && v.length === 4 ? readIp(v, 0) : null;
}

/** Gives `mac` an address, preferably `wanted` (0: no preference); null when none is left. */
export type LeaseFor = (mac: Uint8Array, wanted: Ip) => Ip | null;

/** The server's answer to one client message (the UDP payload), or null to stay silent. */
export function dhcpReply(req: Uint8Array, leaseFor: LeaseFor): DhcpReply | null {
  if (req.length < BOOTP_FIXED + 4 || req[0] !== 1 || req[1] !== 1 || req[2] !== 6) return null;
  if (readIp(req, BOOTP_FIXED) !== COOKIE) return null;
  const opts = parseOptions(req, BOOTP_FIXED + 4);
  const type = opts?.get(OPT_MSG_TYPE);
  if (!opts || !type || type.length !== 1) return null;
  const ciaddr = readIp(req, 12);
  const giaddr = readIp(req, 24);
  const broadcastFlag = (req[10] & 0x80) !== 0;
  const clientMac = req.slice(28, 34);

  let replyType: number;
  let yiaddr: Ip;
  switch (type[0]) {
    case DISCOVER: {
      const offered = leaseFor(clientMac, ipOption(opts, OPT_REQUESTED_IP) ?? 0);
      if (offered === null) return null; // nothing left to offer: the client keeps asking
      replyType = OFFER;
      yiaddr = offered;
      break;
    }
    case REQUEST: {
      const server = ipOption(opts, OPT_SERVER_ID);
      if (server !== null && server !== GATEWAY_IP) return null; // the client chose another server
      const wanted = ipOption(opts, OPT_REQUESTED_IP) ?? ciaddr;
      const given = leaseFor(clientMac, wanted);
      replyType = given !== null && (wanted === 0 || wanted === given) ? ACK : NAK;
      yiaddr = given ?? 0;
      break;
    }
    case INFORM:
      replyType = ACK;
      yiaddr = 0;
      break;
    default:
      return null; // DECLINE, RELEASE and server-to-server messages need no answer
  }

  const out = new Uint8Array(Math.max(BOOTP_MIN, BOOTP_FIXED + 4 + 64));
  out[0] = 2; // BOOTREPLY
  out[1] = 1;
  out[2] = 6;
  out.set(req.subarray(4, 8), 4); // xid
  out.set(req.subarray(10, 12), 10); // flags
  if (replyType === ACK) writeIp(out, 12, ciaddr); // RFC 2131 table 3: ACK echoes ciaddr
  if (replyType !== NAK) {
    writeIp(out, 16, yiaddr);
    writeIp(out, 20, GATEWAY_IP); // siaddr, "next server", as slirp sets it
  }
  writeIp(out, 24, giaddr);
  out.set(req.subarray(28, 44), 28); // chaddr
  writeIp(out, BOOTP_FIXED, COOKIE);

  let at = BOOTP_FIXED + 4;
  // A number is written as 32 bits big-endian (addresses and times alike).
  const put = (code: number, value: number[] | number) => {
    const bytes = typeof value === 'number' ? [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff] : value;
    out[at++] = code;
    out[at++] = bytes.length;
    out.set(bytes, at);
    at += bytes.length;
  };
  put(OPT_MSG_TYPE, [replyType]);
  put(OPT_SERVER_ID, GATEWAY_IP);
  if (replyType !== NAK) {
    if (type[0] !== INFORM) {
      put(OPT_LEASE, LEASE_SECONDS);
      put(OPT_T1, LEASE_SECONDS / 2);
      put(OPT_T2, (LEASE_SECONDS * 7) / 8);
    }
    put(OPT_SUBNET, NETMASK);
    put(OPT_ROUTER, GATEWAY_IP);
    put(OPT_DNS, DNS_IP);
    put(OPT_BROADCAST, SUBNET_BROADCAST);
  }
  out[at++] = OPT_END;

  // RFC 2131 4.1: NAKs and broadcast-flagged replies are broadcast; a client with an
  // address gets unicast to it; otherwise unicast to the offered address and chaddr.
  let dstIp: Ip;
  let broadcast = false;
  if (replyType === NAK || (broadcastFlag && ciaddr === 0)) {
    dstIp = LIMITED_BROADCAST;
    broadcast = true;
  } else {
    dstIp = ciaddr !== 0 ? ciaddr : yiaddr;
  }
  return { payload: out, dstIp, broadcast, clientMac };
}
