// Every number a GDB packet carries goes through these: addresses, lengths, register
// numbers, signals and thread ids, all in hex without a prefix. They take the whole
// field or nothing (parseInt's "12zz" is 0x12; BigInt's "0xzz" throws), and they bound
// the value, since a number the stub accepts ends up in the machine (a watchpoint's
// length becomes a BigInt on every memory access, a step's hart an array index). A
// packet with a field they refuse is answered E22 (EINVAL), as QEMU's stub does.

const HEX = /^[0-9a-fA-F]+$/;

/** An unsigned hex field of at most `bits` bits (addresses: 64), else undefined. */
export function hexValue(text: string | undefined, bits = 64): bigint | undefined {
  if (text === undefined || !HEX.test(text)) return undefined;
  const v = BigInt(`0x${text}`);
  return v >> BigInt(bits) === 0n ? v : undefined;
}

/** An unsigned hex field no larger than `max` (a safe integer), else undefined. */
export function hexNumber(text: string | undefined, max: number): number | undefined {
  // More than 13 digits (after leading zeros) is above 2^52 whatever they are.
  if (text === undefined || !HEX.test(text) || text.replace(/^0+(?=.)/, '').length > 13) return undefined;
  const v = parseInt(text, 16);
  return v <= max ? v : undefined;
}

/** A thread id in a packet: -1 for all threads, 0 for any, or one hart. */
export type ThreadSel = { kind: 'all' } | { kind: 'any' } | { kind: 'hart'; hart: number };

/** Parses a thread id (hart index + 1 in hex); a thread that does not exist is undefined. */
export function threadSel(text: string | undefined, harts: number): ThreadSel | undefined {
  if (text === '-1') return { kind: 'all' };
  const tid = hexNumber(text, harts);
  if (tid === undefined) return undefined;
  return tid === 0 ? { kind: 'any' } : { kind: 'hart', hart: tid - 1 };
}
