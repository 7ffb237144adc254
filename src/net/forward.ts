// Published ports (slirp's hostfwd): a host listener per rule. A TCP connection accepted
// on the host becomes a connection the NAT opens to the guest; a UDP datagram from a host
// client becomes a flow whose replies from the guest go back to that client. In both the
// guest sees the gateway, 10.0.2.2, with an ephemeral port, as the peer.

import dgram from 'node:dgram';
import net from 'node:net';

export interface PublishRule {
  proto: 'tcp' | 'udp';
  /** Host address to listen on; 127.0.0.1 unless given (publishing wider is a choice). */
  hostAddress?: string;
  /** Host port; 0 lets the system choose (start() reports the one it got). */
  hostPort: number;
  guestPort: number;
}

export type BoundRule = Required<PublishRule>;

export interface ForwardHooks {
  /** A host client connected to a TCP rule; the socket is paused. */
  tcpAccepted(socket: net.Socket, rule: BoundRule): void;
  /** A datagram for the guest from 10.0.2.2:`fromPort`. */
  udpToGuest(fromPort: number, guestPort: number, payload: Uint8Array): void;
  log(line: string): void;
}

interface UdpClient {
  socket: dgram.Socket;
  guestPort: number;
  address: string;
  port: number;
  ephemeral: number;
  lastUsed: number;
}

const UDP_IDLE_MS = 60_000;
const FIRST_EPHEMERAL = 49152;

export class Forwards {
  private readonly servers: net.Server[] = [];
  private readonly sockets: dgram.Socket[] = [];
  private readonly clients = new Map<string, UdpClient>();
  private readonly byEphemeral = new Map<number, UdpClient>();
  private nextPort = FIRST_EPHEMERAL;

  constructor(private readonly rules: readonly PublishRule[], private readonly hooks: ForwardHooks) {}

  /** Binds every rule; rejects (and unbinds the rest) when one cannot be bound. */
  async start(): Promise<BoundRule[]> {
    const bound: BoundRule[] = [];
    try {
      for (const r of this.rules) bound.push(await this.bind({ ...r, hostAddress: r.hostAddress ?? '127.0.0.1' }));
    } catch (err) {
      this.close();
      throw err;
    }
    return bound;
  }

  private bind(rule: BoundRule): Promise<BoundRule> {
    const what = `${rule.proto} ${rule.hostAddress}:${rule.hostPort} -> guest port ${rule.guestPort}`;
    const fail = (err: NodeJS.ErrnoException) =>
      new Error(`cannot publish ${what}: ${err.code === 'EADDRINUSE' ? 'the host port is already in use' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
    return new Promise((resolve, reject) => {
      if (rule.proto === 'tcp') {
        const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => this.hooks.tcpAccepted(s, rule));
        server.once('error', (err) => reject(fail(err)));
        server.listen(rule.hostPort, rule.hostAddress, () => {
          server.removeAllListeners('error');
          server.on('error', (err) => this.hooks.log(`publish ${what}: ${err.message}`));
          this.servers.push(server);
          resolve({ ...rule, hostPort: (server.address() as net.AddressInfo).port });
        });
      } else {
        const socket = dgram.createSocket(net.isIPv6(rule.hostAddress) ? 'udp6' : 'udp4');
        socket.once('error', (err) => reject(fail(err)));
        socket.bind(rule.hostPort, rule.hostAddress, () => {
          socket.removeAllListeners('error');
          socket.on('error', (err) => this.hooks.log(`publish ${what}: ${err.message}`));
          socket.on('message', (msg, rinfo) => this.fromClient(socket, rule, msg, rinfo));
          this.sockets.push(socket);
          resolve({ ...rule, hostPort: socket.address().port });
        });
      }
    });
  }

  private fromClient(socket: dgram.Socket, rule: BoundRule, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rule.hostAddress}|${rule.hostPort}|${rinfo.address}|${rinfo.port}`;
    let c = this.clients.get(key);
    if (!c) {
      const ephemeral = this.allocate((p) => this.byEphemeral.has(p));
      c = { socket, guestPort: rule.guestPort, address: rinfo.address, port: rinfo.port, ephemeral, lastUsed: 0 };
      this.clients.set(key, c);
      this.byEphemeral.set(ephemeral, c);
    }
    c.lastUsed = Date.now();
    this.hooks.udpToGuest(c.ephemeral, c.guestPort, msg);
  }

  /** A datagram from the guest to 10.0.2.2:`toPort`: true when it answered a published
   *  flow (and went back to that host client). */
  udpFromGuest(guestPort: number, toPort: number, payload: Uint8Array): boolean {
    const c = this.byEphemeral.get(toPort);
    if (!c || c.guestPort !== guestPort) return false;
    c.lastUsed = Date.now();
    c.socket.send(payload, c.port, c.address);
    return true;
  }

  /** An unused ephemeral port (49152-65535), as `inUse` judges. */
  allocate(inUse: (port: number) => boolean): number {
    for (let i = 0; i < 16384; i++) {
      const p = this.nextPort;
      this.nextPort = p === 65535 ? FIRST_EPHEMERAL : p + 1;
      if (!inUse(p)) return p;
    }
    throw new Error('no free ephemeral port');
  }

  sweep(now = Date.now()): void {
    for (const [key, c] of this.clients) {
      if (now - c.lastUsed <= UDP_IDLE_MS) continue;
      this.clients.delete(key);
      this.byEphemeral.delete(c.ephemeral);
    }
  }

  close(): void {
    for (const s of this.servers) s.close();
    for (const s of this.sockets) s.close();
    this.servers.length = 0;
    this.sockets.length = 0;
    this.clients.clear();
    this.byEphemeral.clear();
  }
}
