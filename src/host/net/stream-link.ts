// A NIC's wire to one peer over QEMU's stream network protocol (net/switch/stream-framing.ts):
// `-netdev socket,listen=` / `connect=` and `-netdev stream` in QEMU, so the peer may be
// another rvisor or a QEMU guest. Listening, it takes one peer at a time (as QEMU does) and
// takes the next once that one hangs up; connecting, it fails at once when nobody listens.
// Frames with no peer connected are dropped, as on an unplugged cable.

import { createServer, connect as connectSocket, type Server, type Socket } from 'node:net';
import type { EthernetEndpoint, EthernetPort } from '../../devices/ethernet.js';
import { encodeStreamFrame, StreamFrameDecoder, StreamFramingError } from '../../net/switch/index.js';

/** Bytes a slow peer may leave unread before frames to it are dropped (a wire that
 *  stalls must not grow the host's memory). */
export const MAX_UNSENT = 1 << 20;

/** Sends one frame in QEMU's framing; false (and nothing sent) when the peer has left
 *  MAX_UNSENT bytes unread. */
export function writeStreamFrame(s: Socket, frame: Uint8Array): boolean {
  if (s.writableLength > MAX_UNSENT) return false;
  s.write(encodeStreamFrame(frame));
  return true;
}

/** Hands each frame the socket carries to `frame`; a peer that breaks the framing is told
 *  to `bad` and hung up on (nothing it sent after that is read). */
export function readStreamFrames(s: Socket, frame: (f: Uint8Array) => void, bad: (e: StreamFramingError) => void): void {
  const decoder = new StreamFrameDecoder();
  s.on('data', (chunk: Buffer) => {
    let frames: Uint8Array[];
    try {
      frames = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    } catch (e) {
      if (!(e instanceof StreamFramingError)) throw e;
      bad(e);
      s.destroy();
      return;
    }
    for (const f of frames) frame(f);
  });
}

export type StreamAddress = { host: string; port: number } | { path: string };

/** HOST:PORT ([::1]:PORT for IPv6; an empty host is loopback, so nothing is exposed by
 *  accident) or unix:PATH. Null when the text is neither. */
export function parseStreamAddress(text: string): StreamAddress | null {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    return path ? { path } : null;
  }
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function formatStreamAddress(a: StreamAddress): string {
  return 'path' in a ? `unix:${a.path}` : a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export interface StreamLinkStats {
  /** Frames dropped: no peer, or the peer not reading. */
  txDropped: number;
  /** Peers that broke the framing and were hung up on. */
  badPeers: number;
  connections: number;
}

export class StreamLink implements EthernetEndpoint {
  readonly stats: StreamLinkStats = { txDropped: 0, badPeers: 0, connections: 0 };
  private peer: EthernetPort | null = null;
  private socket: Socket | null = null;
  private server: Server | null = null;
  private closed = false;

  private constructor(private readonly warn: (message: string) => void) {}

  /** Listens at `address`; resolves once listening. */
  static async listen(address: StreamAddress, warn: (message: string) => void = () => {}): Promise<StreamLink> {
    const link = new StreamLink(warn);
    const server = createServer({ noDelay: true }, (s) => link.accept(s));
    link.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        server.off('error', reject);
        server.on('error', (e) => warn(`network socket ${formatStreamAddress(address)}: ${e.message}`));
        resolve();
      };
      if ('path' in address) server.listen(address.path, done);
      else server.listen(address.port, address.host, done);
    }).catch((e: NodeJS.ErrnoException) => {
      throw new Error(`cannot listen on ${formatStreamAddress(address)}: ${e.code === 'EADDRINUSE' ? 'the address is already in use' : e.message}`);
    });
    return link;
  }

  /** Connects to `address`; rejects when nobody listens there. */
  static async connect(address: StreamAddress, warn: (message: string) => void = () => {}): Promise<StreamLink> {
    const link = new StreamLink(warn);
    const socket = 'path' in address ? connectSocket(address.path) : connectSocket(address.port, address.host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }).catch((e: NodeJS.ErrnoException) => {
      socket.destroy();
      throw new Error(`cannot connect to ${formatStreamAddress(address)}: ${e.code === 'ECONNREFUSED' ? 'nobody listens there' : e.message}`);
    });
    socket.setNoDelay(true);
    link.attach(socket, formatStreamAddress(address));
    return link;
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  connect(peer: EthernetPort): void {
    this.peer = peer;
  }

  deliver(frame: Uint8Array): void {
    if (!this.socket || !writeStreamFrame(this.socket, frame)) this.stats.txDropped++;
  }

  close(): void {
    this.closed = true;
    this.server?.close();
    this.server = null;
    this.socket?.destroy();
    this.socket = null;
  }

  private accept(s: Socket): void {
    if (this.closed || this.socket) {
      // One wire, one peer: QEMU's listening netdev does not take a second either.
      s.destroy();
      return;
    }
    this.attach(s, `${s.remoteAddress ?? 'unix'}${s.remotePort ? `:${s.remotePort}` : ''}`);
  }

  private attach(s: Socket, who: string): void {
    this.socket = s;
    this.stats.connections++;
    readStreamFrames(s, (f) => this.peer?.deliver(f), (e) => {
      this.stats.badPeers++;
      this.warn(`network peer ${who} sent ${e.message}: hung up on it`);
    });
    s.on('error', () => {}); // 'close' follows; a peer that vanishes is an unplugged cable
    s.on('close', () => {
      if (this.socket === s) this.socket = null;
    });
  }
}

