// The shared memory between NbdBackend (synchronous, on the VMM's thread) and the worker
// thread that owns the NBD socket. One request at a time: the VMM fills the fields, flips
// `state` to REQUEST and sleeps in Atomics.wait; the worker answers, flips it to DONE and
// wakes it. Disk I/O in rvisor is synchronous by design (BlockBackend), and a socket in
// Node is not, so this is the bridge.

export const enum State { Idle = 0, Request = 1, Done = 2, Close = 3 }

/** Int32 slots of the control block. */
export const enum Slot {
  State = 0,
  Type = 1,
  Flags = 2,
  Length = 3,
  OffsetHigh = 4,
  OffsetLow = 5,
  /** 0 done, > 0 the server's errno, -1 failed (the text says why). */
  Result = 6,
  TextLength = 7,
  SizeHigh = 8,
  SizeLow = 9,
  ExportFlags = 10,
  MaxRequest = 11,
}
export const CONTROL_SLOTS = 16;
/** Bytes moved per request; larger reads and writes are split. */
export const CHUNK_BYTES = 4 << 20;
export const TEXT_BYTES = 1024;

/** What the worker gets as workerData. */
export interface ChannelInit {
  address: import('../../storage/nbd/uri.js').NbdAddress;
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
  text: SharedArrayBuffer;
  /** How long a lost connection may take to come back before requests fail. */
  reconnectMs: number;
  connectMs: number;
}

export function putText(text: SharedArrayBuffer, control: Int32Array, message: string): void {
  const bytes = new TextEncoder().encode(message).subarray(0, TEXT_BYTES);
  new Uint8Array(text).set(bytes);
  control[Slot.TextLength] = bytes.length;
}

export function getText(text: SharedArrayBuffer, control: Int32Array): string {
  return new TextDecoder().decode(new Uint8Array(text).slice(0, control[Slot.TextLength]));
}
