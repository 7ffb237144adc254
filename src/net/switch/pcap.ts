// Packet capture in the classic libpcap format (what tcpdump -r and Wireshark read):
// a 24-byte file header, then a 16-byte record header before each frame.

const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
/** Frames are captured whole: the switch never carries more than this. */
export const PCAP_SNAPLEN = 65535;

export function pcapFileHeader(): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setUint32(0, MAGIC_MICROSECONDS, true);
  v.setUint16(4, 2, true); // version 2.4
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true); // timestamps in UTC
  v.setUint32(12, 0, true);
  v.setUint32(16, PCAP_SNAPLEN, true);
  v.setUint32(20, LINKTYPE_ETHERNET, true);
  return b;
}

/** One record: the header and the frame, at wall-clock time `ms` (ms since the epoch). */
export function pcapRecord(frame: Uint8Array, ms: number): Uint8Array {
  const kept = Math.min(frame.length, PCAP_SNAPLEN);
  const b = new Uint8Array(16 + kept);
  const v = new DataView(b.buffer);
  const micros = Math.round(ms * 1000);
  v.setUint32(0, Math.floor(micros / 1e6), true);
  v.setUint32(4, micros % 1e6, true);
  v.setUint32(8, kept, true);
  v.setUint32(12, frame.length, true);
  b.set(frame.subarray(0, kept), 16);
  return b;
}
