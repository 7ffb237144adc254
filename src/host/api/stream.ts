// The two long-lived operations: the event stream (Server-Sent Events) and the console
// (a WebSocket). A reader that stops reading is dropped once it has this much queued,
// rather than held in the daemon's memory: it can reconnect.

import type { ServerResponse } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import type { ConsoleAttachment, HostBackend } from '../daemon/model.js';

const BACKLOG = 1 << 20;
/** A comment line now and then, so that proxies and idle timers see a live stream. */
const KEEPALIVE_MS = 15_000;

/** GET /v1/events: `event:` is the HostEvent's name (QMP's), `data:` the HostEvent. */
export function streamEvents(backend: HostBackend, res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  // Sent at once, so that a client holding the headers knows it is subscribed.
  res.write(': rvisor events\n\n');
  const send = (text: string) => {
    if (res.writableLength > BACKLOG) res.destroy();
    else res.write(text);
  };
  const unsubscribe = backend.events((e) => send(`event: ${e.event}\ndata: ${JSON.stringify(e)}\n\n`));
  const keepalive = setInterval(() => send(': keepalive\n\n'), KEEPALIVE_MS);
  res.once('close', () => {
    unsubscribe();
    clearInterval(keepalive);
  });
}

const bytes = (data: RawData): Uint8Array =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;

/** GET /v1/vms/{vm}/console, upgraded: output out as binary frames, any frame in is
 *  input (text frames as their UTF-8 bytes); closing the socket detaches. */
export function serveConsole(attachment: ConsoleAttachment, ws: WebSocket, log: (line: string) => void): void {
  attachment.onOutput((out) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > BACKLOG) ws.terminate();
    else ws.send(out, { binary: true });
  });
  ws.on('message', (data) => {
    try {
      attachment.input(bytes(data));
    } catch (e) {
      log(`api: console input refused: ${e instanceof Error ? e.message : String(e)}`);
      ws.close(1011, 'input refused');
    }
  });
  ws.on('error', () => ws.terminate());
  ws.once('close', () => attachment.detach());
}
