// The DNS forwarder behind 10.0.2.3:53. Queries go to the host's own resolvers (from
// /etc/resolv.conf; 127.0.0.53 and friends are fine since we run on the host) through one
// socket per address family; each query gets a fresh ID so concurrent guest sockets cannot
// collide, and the guest's ID is put back on the answer. A resolver that leaves a query
// unanswered for 2 s is abandoned for the next one in the list.

import dgram from 'node:dgram';
import { getServers } from 'node:dns';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { GuestSocket } from './addresses.js';

export interface Nameserver {
  address: string;
  port: number;
}

const FAILOVER_MS = 2000;
const FORGET_MS = 10_000;
const MAX_PENDING = 4096;

/** "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353", "fe80::1%eth0"; null for junk. */
export function parseNameserver(s: string): Nameserver | null {
  const t = s.trim();
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(t) ?? /^([\d.]+)(?::(\d+))?$/.exec(t);
  const address = m ? m[1] : t; // otherwise a bare IPv6 address
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (isIP(address.split('%')[0]) === 0 || !(port > 0 && port < 65536)) return null;
  return { address, port };
}

export function parseResolvConf(text: string): Nameserver[] {
  const out: Nameserver[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const ns = m && parseNameserver(m[1]);
    if (ns) out.push(ns);
  }
  return out;
}

/** The host's resolvers: /etc/resolv.conf first, then whatever Node's resolver uses. */
export function hostNameservers(resolvConf = '/etc/resolv.conf'): Nameserver[] {
  try {
    const found = parseResolvConf(readFileSync(resolvConf, 'utf8'));
    if (found.length > 0) return found;
  } catch {
    // no resolv.conf (containers, other OSes): fall through
  }
  return getServers().map(parseNameserver).filter((ns): ns is Nameserver => ns !== null);
}

export interface DnsHooks {
  toGuest(guest: GuestSocket, payload: Uint8Array): void;
  log(line: string): void;
}

interface Pending {
  guest: GuestSocket;
  guestId: number;
  sent: number;
  server: number;
  timedOut: boolean;
}

export class DnsForwarder {
  private readonly sockets = new Map<'udp4' | 'udp6', dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 0x10000);
  private current = 0;
  private closed = false;

  constructor(readonly servers: readonly Nameserver[], private readonly hooks: DnsHooks) {}

  /** The resolver queries go to now (TCP to 10.0.2.3:53 is relayed there too). */
  server(): Nameserver | undefined {
    return this.servers[this.current];
  }

  query(guest: GuestSocket, payload: Uint8Array): void {
    const server = this.server();
    if (!server || this.closed || payload.length < 12 || this.pending.size >= MAX_PENDING) return;
    let id = this.nextId;
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    this.pending.set(id, { guest, guestId: (payload[0] << 8) | payload[1], sent: Date.now(), server: this.current, timedOut: false });
    const msg = Buffer.from(payload);
    msg[0] = id >>> 8;
    msg[1] = id & 0xff;
    const index = this.current;
    this.socket(server).send(msg, server.port, server.address, (err) => {
      if (!err) return;
      this.hooks.log(`dns: ${server.address}:${server.port}: ${err.message}`);
      this.failover(index);
    });
  }

  private socket(server: Nameserver): dgram.Socket {
    const type = isIP(server.address.split('%')[0]) === 6 ? 'udp6' : 'udp4';
    let s = this.sockets.get(type);
    if (!s) {
      s = dgram.createSocket(type);
      s.on('message', (msg, rinfo) => this.answer(msg, rinfo));
      s.on('error', (err) => this.hooks.log(`dns socket: ${err.message}`));
      this.sockets.set(type, s);
    }
    return s;
  }

  private answer(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const fromServer = this.servers.some((s) => s.port === rinfo.port && s.address.split('%')[0] === rinfo.address.split('%')[0]);
    const id = (msg[0] << 8) | msg[1];
    const p = this.pending.get(id);
    if (!fromServer || !p) return; // spoofed or late: only answers to our queries pass
    this.pending.delete(id);
    msg[0] = p.guestId >>> 8;
    msg[1] = p.guestId & 0xff;
    this.hooks.toGuest(p.guest, msg);
  }

  private failover(from: number): void {
    if (this.servers.length > 1 && this.current === from) {
      this.current = (from + 1) % this.servers.length;
      const next = this.servers[this.current];
      this.hooks.log(`dns: switching to ${next.address}:${next.port}`);
    }
  }

  sweep(now = Date.now()): void {
    for (const [id, p] of this.pending) {
      if (now - p.sent > FAILOVER_MS && !p.timedOut) {
        p.timedOut = true;
        this.failover(p.server);
      }
      if (now - p.sent > FORGET_MS) this.pending.delete(id);
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    this.pending.clear();
  }
}
