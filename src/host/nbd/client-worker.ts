// The worker thread behind NbdBackend: owns the NBD connection and answers the requests
// the VMM's thread posts in the shared control block (sync-channel.ts). A connection that
// drops is opened again (for up to reconnectMs) and the request sent again: reads,
// writes, trims, zeroes and flushes are all idempotent, so a request whose reply was lost
// may safely run twice.

import { workerData } from 'node:worker_threads';
import { NbdConnection } from './connection.js';
import { type ChannelInit, putText, Slot, State } from './sync-channel.js';

const init = workerData as ChannelInit;
const control = new Int32Array(init.control);
const data = new Uint8Array(init.data);

function answer(result: number, message = ''): void {
  control[Slot.Result] = result;
  putText(init.text, control, message);
  Atomics.store(control, Slot.State, State.Done);
  Atomics.notify(control, Slot.State);
}

async function reconnect(since: number, last: unknown): Promise<NbdConnection> {
  for (;;) {
    try {
      return await NbdConnection.open(init.address, init.connectMs);
    } catch (e) {
      last = e;
      if (Date.now() - since >= init.reconnectMs) throw last;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function main(): Promise<void> {
  let conn: NbdConnection;
  try {
    conn = await NbdConnection.open(init.address, init.connectMs);
  } catch (e) {
    answer(-1, (e as Error).message);
    return;
  }
  control[Slot.SizeHigh] = Math.floor(conn.info.size / 2 ** 32);
  control[Slot.SizeLow] = conn.info.size >>> 0;
  control[Slot.ExportFlags] = conn.info.flags;
  control[Slot.MaxRequest] = conn.info.maxRequest ?? 0;
  answer(0);
  // A pending Atomics.waitAsync does not keep a worker's event loop alive: without a
  // handle of its own the thread would end the moment the socket closed, and the next
  // request would wait for nobody.
  const keepAlive = setInterval(() => {}, 1 << 30);
  for (;;) {
    const w = Atomics.waitAsync(control, Slot.State, State.Idle);
    if (w.async) await w.value;
    const state = Atomics.load(control, Slot.State);
    if (state === State.Close) {
      clearInterval(keepAlive);
      conn.close();
      return;
    }
    if (state !== State.Request) {
      // Done, not yet taken back to Idle by the VMM thread: wait for that.
      const d = Atomics.waitAsync(control, Slot.State, state);
      if (d.async) await d.value;
      continue;
    }
    const type = control[Slot.Type];
    const length = control[Slot.Length] >>> 0;
    const offset = (control[Slot.OffsetHigh] >>> 0) * 2 ** 32 + (control[Slot.OffsetLow] >>> 0);
    const r = { type, flags: control[Slot.Flags], offset, length };
    const payload = type === 1 ? data.slice(0, length) : undefined;
    const started = Date.now();
    for (;;) {
      try {
        const got = await conn.request(r, payload);
        if (type === 0) data.set(got);
        answer(0);
        break;
      } catch (e) {
        const errno = (e as { errno?: number }).errno;
        if (errno !== undefined) {
          answer(errno, (e as Error).message);
          break;
        }
        // The connection is gone (or spoke nonsense): open it again and resend.
        conn.destroy();
        try {
          conn = await reconnect(started, e);
        } catch (again) {
          answer(-1, `lost the connection to the NBD server: ${(again as Error).message}`);
          // The dead connection stays: the next request fails on it and reconnects afresh.
          break;
        }
      }
    }
  }
}

void main();
