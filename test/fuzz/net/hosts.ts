// What the NAT may reach on the host while it is fuzzed: servers of our own on
// 127.0.0.1 and nothing else. A TCP and a UDP echo server, a DNS server answering on
// UDP and TCP on one port, and a TCP port found closed. The frame generator only aims at
// these, confine() (generate.ts) takes care that no mutation aims anywhere else, and
// guardEgress() refuses, at the socket calls themselves, whatever would still get out.

import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

export interface HostPorts {
  tcpEcho: number;
  udpEcho: number;
  /** UDP and TCP. */
  dns: number;
  /** Nothing listens there (probed once: the NAT's connect is refused). */
  closedTcp: number;
}

/** A DNS answer for any query: the question back with QR set and NXDOMAIN. */
function dnsAnswer(q: Buffer): Buffer | null {
  if (q.length < 12) return null;
  const a = Buffer.from(q);
  a[2] = 0x80 | (q[2] & 0x01);
  a[3] = 0x83;
  return a;
}

export class HostServices {
  /** Everything refused by guardEgress(), as "tcp|udp host:port". */
  readonly blocked: string[] = [];

  private constructor(
    readonly ports: HostPorts,
    private readonly closers: (() => void)[],
    /** Our servers' own UDP sockets, which answer whoever asked. */
    private readonly own: Set<dgram.Socket>,
  ) {}

  /**
   * Wraps the socket calls the NAT uses (TCP connect, UDP send) so that anything not for
   * one of our servers on 127.0.0.1 throws instead of leaving: the NAT then takes its
   * internal-error path, which fails the input, and the address is in `blocked`.
   */
  guardEgress(): void {
    const { ports, blocked, own } = this;
    const refuse = (what: string) => {
      blocked.push(what);
      throw new Error(`fuzz: egress to ${what} blocked`);
    };
    const tcpOk = [ports.tcpEcho, ports.dns, ports.closedTcp];
    const udpOk = [ports.udpEcho, ports.dns];
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
      // net.connect() passes its arguments normalised: [[options, callback]].
      const first = Array.isArray(args[0]) ? args[0][0] : args[0];
      const o = (typeof first === 'object' && first !== null ? first : { port: first, host: args[1] }) as { port?: unknown; host?: unknown; path?: unknown };
      if (o.path === undefined && (o.host !== '127.0.0.1' || !tcpOk.includes(Number(o.port)))) refuse(`tcp ${String(o.host)}:${String(o.port)}`);
      return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof connect;
    const send = dgram.Socket.prototype.send;
    dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
      // send(msg, port, address, cb) or send(msg, offset, length, port, address, cb)
      const [port, address] = typeof args[3] === 'number' ? [args[3], args[4]] : [args[1], args[2]];
      if (!own.has(this) && (address !== '127.0.0.1' || !udpOk.includes(Number(port)))) refuse(`udp ${String(address)}:${String(port)}`);
      return (send as (...a: unknown[]) => void).apply(this, args);
    } as typeof send;
    this.closers.push(() => {
      net.Socket.prototype.connect = connect;
      dgram.Socket.prototype.send = send;
    });
  }

  static async start(): Promise<HostServices> {
    const closers: (() => void)[] = [];
    const sockets = new Set<net.Socket>();
    const track = (s: net.Socket) => {
      sockets.add(s);
      s.on('error', () => {}); // the NAT resets connections all the time
      s.on('close', () => sockets.delete(s));
    };
    closers.push(() => { for (const s of sockets) s.destroy(); });

    const echo = net.createServer({ allowHalfOpen: true }, (s) => {
      track(s);
      s.on('data', (d) => s.write(d));
      s.on('end', () => s.end());
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    closers.push(() => echo.close());

    const own = new Set<dgram.Socket>();
    const udpEcho = dgram.createSocket('udp4');
    own.add(udpEcho);
    udpEcho.on('message', (m, r) => udpEcho.send(m, r.port, r.address));
    udpEcho.bind(0, '127.0.0.1');
    await once(udpEcho, 'listening');
    closers.push(() => udpEcho.close());

    const dns = await HostServices.dnsServer(track, own);
    closers.push(dns.close);

    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const closedTcp = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));

    const port = (s: net.Server | dgram.Socket) => (s.address() as net.AddressInfo).port;
    return new HostServices({ tcpEcho: port(echo), udpEcho: port(udpEcho), dns: dns.port, closedTcp }, closers, own);
  }

  /** UDP on a free port, then TCP on the same number (retried if TCP's is taken). */
  private static async dnsServer(track: (s: net.Socket) => void, own: Set<dgram.Socket>): Promise<{ port: number; close: () => void }> {
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket('udp4');
      own.add(udp);
      udp.on('message', (m, r) => {
        const a = dnsAnswer(m);
        if (a) udp.send(a, r.port, r.address);
      });
      udp.bind(0, '127.0.0.1');
      await once(udp, 'listening');
      const port = udp.address().port;
      // DNS over TCP: each message behind a 2-byte length.
      const tcp = net.createServer((s) => {
        track(s);
        let buf = Buffer.alloc(0);
        s.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const a = dnsAnswer(buf.subarray(2, 2 + buf.readUInt16BE(0)));
            buf = buf.subarray(2 + buf.readUInt16BE(0));
            if (a) s.write(Buffer.concat([Buffer.from([a.length >> 8, a.length & 0xff]), a]));
          }
        });
      });
      const listening = await new Promise<boolean>((resolve) => {
        tcp.once('error', () => resolve(false));
        tcp.listen(port, '127.0.0.1', () => resolve(true));
      });
      if (listening) return { port, close: () => { udp.close(); tcp.close(); } };
      udp.close();
      if (attempt === 20) throw new Error('no port free for both UDP and TCP DNS');
    }
  }

  close(): void {
    for (const c of this.closers.reverse()) c();
  }
}
