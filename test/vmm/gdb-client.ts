// A GdbSession driven directly (bytes in, bytes out) with its output parsed back into
// frames: '+', '-', and packets as strings. The session tests and the hostile-input
// tests share it.

import { encodePacket, PacketReader } from '../../src/vmm/gdb/packet.js';
import { GdbSession, type GdbSessionOptions } from '../../src/vmm/gdb/session.js';
import type { DebugTarget } from '../../src/vmm/gdb/target.js';
import { FakeTarget } from './fakes.js';

export function openSession<T extends DebugTarget = FakeTarget>(target: T = new FakeTarget() as unknown as T, o: Partial<GdbSessionOptions> = {}) {
  const out: string[] = [];
  const reader = new PacketReader();
  let closed = false;
  const session = new GdbSession({
    target,
    write: (b) => { for (const f of reader.push(b)) out.push(f.kind === 'packet' ? Buffer.from(f.data).toString('latin1') : f.kind === 'ack' ? '+' : f.kind === 'nack' ? '-' : f.kind); },
    close: () => { closed = true; },
    monitor: async (line) => `ran ${line}\r\n`,
    ...o,
  });
  const send = (p: string) => session.receive(encodePacket(p));
  /** Sends a packet, returns the reply (skipping the ack). */
  const ask = (p: string) => {
    out.length = 0;
    send(p);
    return out.filter((x) => x !== '+').join('|');
  };
  const waitReply = async () => {
    for (let i = 0; i < 50 && !out.some((x) => x !== '+'); i++) await new Promise((r) => setImmediate(r));
    return out.filter((x) => x !== '+').join('|');
  };
  /** Sends a resuming packet and waits for the stop reply. */
  const go = async (p: string) => {
    out.length = 0;
    send(p);
    return waitReply();
  };
  return { target, session, out, send, ask, go, waitReply, closed: () => closed };
}
