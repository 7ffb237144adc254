// VXLAN encapsulation (RFC 7348): an Ethernet frame behind an 8-byte header, carried in
// a UDP datagram (port 4789). The header is flags (the I bit, 0x08, says the VNI is
// valid), 24 reserved bits, the 24-bit VXLAN Network Identifier and 8 reserved bits.
// Reserved bits are zero on transmission and ignored on receipt (RFC 7348, 5); a
// datagram without the I bit is not ours to take.

export const VXLAN_PORT = 4789;
export const VXLAN_HEADER = 8;
export const MAX_VNI = 0xffffff;
/** The smallest inner frame: destination, source and EtherType. */
const MIN_INNER = 14;
/** An inner frame at most a tagged full-size one; anything longer is junk. */
const MAX_INNER = 1518;

export type VxlanError = 'short' | 'no-vni-flag' | 'oversize';

export function encodeVxlan(vni: number, frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(VXLAN_HEADER + frame.length);
  out[0] = 0x08;
  out[4] = (vni >>> 16) & 0xff;
  out[5] = (vni >>> 8) & 0xff;
  out[6] = vni & 0xff;
  out.set(frame, VXLAN_HEADER);
  return out;
}

/** The VNI and inner frame of a datagram (the frame a view into it), or why not. */
export function decodeVxlan(datagram: Uint8Array): { vni: number; frame: Uint8Array } | { error: VxlanError } {
  if (datagram.length < VXLAN_HEADER + MIN_INNER) return { error: 'short' };
  if (!(datagram[0] & 0x08)) return { error: 'no-vni-flag' };
  if (datagram.length > VXLAN_HEADER + MAX_INNER) return { error: 'oversize' };
  const vni = (datagram[4] << 16) | (datagram[5] << 8) | datagram[6];
  return { vni, frame: datagram.subarray(VXLAN_HEADER) };
}
