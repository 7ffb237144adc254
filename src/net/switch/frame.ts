// Layer-2 header handling for the switch: addresses as numbers (a MAC is 48 bits, exact in
// a double, so it keys a Map without allocating strings) and 802.1Q tags.

export const ETH_HEADER = 14;
export const TPID_8021Q = 0x8100;
/** 802.1ad (Q-in-Q) service tag: a nested tag the switch refuses. */
export const TPID_8021AD = 0x88a8;
/** The largest frame without FCS: 1500 bytes of payload, the header, one tag. Jumbo frames
 *  are not switched (no port here negotiates them). */
export const MAX_UNTAGGED = 1514;
export const MAX_TAGGED = 1518;

export function macAt(frame: Uint8Array, offset: number): number {
  return (frame[offset] * 2 ** 40) + (frame[offset + 1] * 2 ** 32)
    + ((frame[offset + 2] << 24) >>> 0) + (frame[offset + 3] << 16) + (frame[offset + 4] << 8) + frame[offset + 5];
}

export function isGroupMac(frame: Uint8Array, offset: number): boolean {
  return (frame[offset] & 1) !== 0;
}

export function macToString(mac: number): string {
  return mac.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
}

export function parseMac(text: string): number | null {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(text)) return null;
  return parseInt(text.replace(/:/g, ''), 16);
}

/** What a frame's header says, once checked; `vid` is 0 for an untagged frame. */
export interface L2Header {
  dst: number;
  src: number;
  groupDst: boolean;
  groupSrc: boolean;
  vid: number;
  tagged: boolean;
}

export type L2Error = 'runt' | 'oversize' | 'nested-tag';

/** Parses and checks the header: a runt, an oversized frame or one tagged twice is refused. */
export function parseL2(frame: Uint8Array): L2Header | L2Error {
  if (frame.length < ETH_HEADER) return 'runt';
  const type = (frame[12] << 8) | frame[13];
  const tagged = type === TPID_8021Q || type === TPID_8021AD;
  if (tagged) {
    if (frame.length < ETH_HEADER + 4) return 'runt';
    if (frame.length > MAX_TAGGED) return 'oversize';
    const inner = (frame[16] << 8) | frame[17];
    if (type === TPID_8021AD || inner === TPID_8021Q || inner === TPID_8021AD) return 'nested-tag';
  } else if (frame.length > MAX_UNTAGGED) {
    return 'oversize';
  }
  return {
    dst: macAt(frame, 0),
    src: macAt(frame, 6),
    groupDst: isGroupMac(frame, 0),
    groupSrc: isGroupMac(frame, 6),
    vid: tagged ? ((frame[14] & 0x0f) << 8) | frame[15] : 0,
    tagged,
  };
}

/** The frame without its 802.1Q tag. */
export function untag(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(frame.length - 4);
  out.set(frame.subarray(0, 12), 0);
  out.set(frame.subarray(16), 12);
  return out;
}

/** The frame with an 802.1Q tag for `vid` (priority 0) after its addresses. */
export function tag(frame: Uint8Array, vid: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12), 0);
  out[12] = TPID_8021Q >>> 8;
  out[13] = TPID_8021Q & 0xff;
  out[14] = (vid >>> 8) & 0x0f;
  out[15] = vid & 0xff;
  out.set(frame.subarray(12), 16);
  return out;
}
