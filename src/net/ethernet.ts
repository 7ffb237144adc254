// Ethernet II framing: 14 bytes of header, no FCS (virtio-net carries none). 802.1Q tags
// are not expected from a virtio guest and are dropped as unknown EtherTypes.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETH_HEADER = 14;

export interface EthernetFrame {
  dst: Uint8Array;
  src: Uint8Array;
  type: number;
  payload: Uint8Array;
}

export function parseEthernet(frame: Uint8Array): EthernetFrame | null {
  if (frame.length < ETH_HEADER) return null;
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    type: (frame[12] << 8) | frame[13],
    payload: frame.subarray(ETH_HEADER),
  };
}

/** Allocates a frame with its header filled; the caller writes the payload at ETH_HEADER. */
export function ethernetFrame(dst: Uint8Array, src: Uint8Array, type: number, payloadLength: number): Uint8Array {
  const f = new Uint8Array(ETH_HEADER + payloadLength);
  f.set(dst.subarray(0, 6), 0);
  f.set(src.subarray(0, 6), 6);
  f[12] = type >>> 8;
  f[13] = type & 0xff;
  return f;
}

export function isMulticastMac(mac: Uint8Array): boolean {
  return (mac[0] & 1) !== 0;
}
