// ICMP: echo replies for the gateway's own addresses (so `ping 10.0.2.2` works) and the
// "port unreachable" error that makes a UDP client fail fast instead of timing out.
// Echo to outside addresses is dropped: unprivileged Node has no ICMP sockets.

import { checksum, verifies } from './checksum.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;

/** The echo reply for an echo request (same identifier, sequence and data), else null. */
export function echoReply(icmp: Uint8Array): Uint8Array | null {
  if (icmp.length < 8 || icmp[0] !== ICMP_ECHO_REQUEST || icmp[1] !== 0 || !verifies(icmp)) return null;
  const out = icmp.slice();
  out[0] = ICMP_ECHO_REPLY;
  out[2] = 0;
  out[3] = 0;
  const c = checksum(out);
  out[2] = c >>> 8;
  out[3] = c & 0xff;
  return out;
}

/** Destination unreachable (`code` 3 = port) quoting the offending IP header and the
 *  first 8 bytes of its payload, as RFC 792 asks. */
export function unreachable(code: number, ipHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  const quoted = payload.subarray(0, 8);
  const out = new Uint8Array(8 + ipHeader.length + quoted.length);
  out[0] = ICMP_UNREACHABLE;
  out[1] = code;
  out.set(ipHeader, 8);
  out.set(quoted, 8 + ipHeader.length);
  const c = checksum(out);
  out[2] = c >>> 8;
  out[3] = c & 0xff;
  return out;
}
