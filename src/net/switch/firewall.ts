// A stateful firewall for one switch port, the way cloud security groups work: rules say
// what the guest may send (out) and receive (in) by protocol, the remote's CIDR and the
// destination port; a flow a rule allowed is tracked, so its replies pass whatever the
// rules of the other direction say; anything else meets the direction's default policy.
// IPv4 and IPv6 alike: a rule without a CIDR covers both, one with a CIDR its family, and
// 'icmp' means ICMP or ICMPv6. ARP and IPv6 neighbour discovery and MLD always pass (the
// switch's IP guard checks ARP; IPv6 has no guard yet), as does a DHCP or DHCPv6 client's
// exchange; other EtherTypes meet the default policy, as do non-first fragments, which
// carry no ports.


export type Direction = 'in' | 'out';
export type Action = 'allow' | 'deny';

export interface FirewallRule {
  action: Action;
  direction: Direction;
  /** Default any. */
  proto?: 'tcp' | 'udp' | 'icmp' | 'any';
  /** The remote end's addresses (the destination going out, the source coming in). */
  cidr?: string;
  /** The destination port, N or N-M (tcp and udp). */
  port?: string;
}

export interface FirewallSpec {
  /** Default: in deny, out allow (a security group's defaults). */
  policy?: { in?: Action; out?: Action };
  rules: FirewallRule[];
}

export class FirewallError extends Error {}

/** Flows remembered at most; past it the least recently seen go. */
const MAX_FLOWS = 8192;
const TCP_IDLE_MS = 600_000;
const OTHER_IDLE_MS = 60_000;
const PROTO = { icmp: 1, tcp: 6, udp: 17 } as const;

/** An address as four 32-bit words. IPv4 is ::ffff:a.b.c.d (RFC 4291 2.5.5.2), so one
 *  rule list and one flow table serve both families. */
type Address = readonly number[];

interface CompiledRule {
  readonly spec: FirewallRule;
  readonly proto: number; // 0: any
  readonly net: Address;
  readonly mask: Address;
  readonly lo: number;
  readonly hi: number;
  hits: number;
}

function parseIpv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.some((x) => x > 255) ? null : ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/** Eight groups of hex, '::' for one run of zero groups, the last 32 bits maybe dotted;
 *  no zone. Null for anything else. */
function parseIpv6(text: string): Address | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const items = part.split(':');
    for (const [i, g] of items.entries()) {
      if (i === items.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(parseInt(g, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 2 ? head.length + tail.length > 7 : head.length !== 8) return null;
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  return [0, 1, 2, 3].map((w) => ((all[2 * w] << 16) | all[2 * w + 1]) >>> 0);
}

const mapped = (v4: number): Address => [0, 0, 0xffff, v4];

/** The mask of a /bits prefix over four words. */
function prefixMask(bits: number): Address {
  return [0, 1, 2, 3].map((w) => {
    const n = Math.max(0, Math.min(32, bits - 32 * w));
    return n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  });
}

/** A spec read from a file edited by hand has had no schema check: a rule or policy that is
 *  not an object must be a FirewallError (a 422 naming it), not a TypeError later. */
const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

function compile(r: FirewallRule, i: number): CompiledRule {
  const bad = (why: string) => new FirewallError(`rule ${i}: ${why}`);
  if (!isObject(r)) throw bad('not an object');
  if (r.action !== 'allow' && r.action !== 'deny') throw bad(`action '${r.action}' is not allow or deny`);
  if (r.direction !== 'in' && r.direction !== 'out') throw bad(`direction '${r.direction}' is not in or out`);
  // A string and an own key: PROTO['constructor'] is Object's, and a deny rule for that
  // protocol would be taken and then match nothing, letting through what it was to stop.
  const known = typeof r.proto === 'string' && Object.hasOwn(PROTO, r.proto);
  const proto = r.proto === undefined || r.proto === 'any' ? 0 : known ? PROTO[r.proto] : undefined;
  if (proto === undefined) throw bad(`protocol '${r.proto}' is not tcp, udp, icmp or any`);
  let net: Address = [0, 0, 0, 0], mask: Address = [0, 0, 0, 0];
  if (r.cidr !== undefined) {
    // Strings only (cidr and port): a regex takes a number or an array as its text.
    const m = typeof r.cidr === 'string' ? /^([^/]+)(?:\/(\d{1,3}))?$/.exec(r.cidr) : null;
    const v6 = m !== null && m[1].includes(':');
    const v4 = m !== null && !v6 ? parseIpv4(m[1]) : null;
    const addr = v6 ? parseIpv6(m[1]) : v4 === null ? null : mapped(v4);
    const bits = m?.[2] === undefined ? (v6 ? 128 : 32) : Number(m[2]);
    if (addr === null || bits > (v6 ? 128 : 32)) throw bad(`'${r.cidr}' is not an IPv4 or IPv6 CIDR`);
    mask = prefixMask(v6 ? bits : 96 + bits);
    net = addr.map((a, w) => (a & mask[w]) >>> 0);
  }
  let lo = 0, hi = 65535;
  if (r.port !== undefined) {
    const m = typeof r.port === 'string' ? /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(r.port) : null;
    if (!m || (proto !== PROTO.tcp && proto !== PROTO.udp)) throw bad(m ? 'a port needs tcp or udp' : `port '${r.port}' is not N or N-M`);
    lo = Number(m[1]);
    hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || lo > hi) throw bad(`port '${r.port}' is not within 1-65535`);
  }
  return { spec: r, proto, net, mask, lo, hi, hits: 0 };
}

/** An IP packet's flow fields, from an untagged frame; null for what always passes. */
interface Flow { proto: number; src: Address; dst: Address; sport: number; dport: number }

const ICMPV6 = 58;
/** ICMPv6 that IPv6 needs to work at all, as IPv4 needs ARP: MLD (130-132, 143) and
 *  neighbour discovery (133-137). */
const ICMPV6_LINK = new Set([130, 131, 132, 133, 134, 135, 136, 137, 143]);
/** IPv6 extension headers walked to the transport header, at most this many. */
const EXTENSIONS = new Set([0, 43, 44, 51, 60]);
const MAX_EXTENSIONS = 8;

function flowOf(frame: Uint8Array): Flow | 'other' | null {
  if (frame.length < 14) return 'other';
  const type = (frame[12] << 8) | frame[13];
  if (type === 0x0806) return null;
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  if (type === 0x86dd) return flowOfIpv6(frame, v);
  if (type !== 0x0800) return 'other';
  const ihl = (frame[14] & 0x0f) * 4;
  if (frame.length < 14 + Math.max(20, ihl) || frame[14] >> 4 !== 4 || ihl < 20) return 'other';
  const proto = frame[23];
  const fragment = v.getUint16(20) & 0x1fff;
  if (fragment) return 'other';
  return withPorts(frame, v, proto, mapped(v.getUint32(26)), mapped(v.getUint32(30)), 14 + ihl);
}

function flowOfIpv6(frame: Uint8Array, v: DataView): Flow | 'other' | null {
  if (frame.length < 54 || frame[14] >> 4 !== 6) return 'other';
  const word = (at: number): Address => [v.getUint32(at), v.getUint32(at + 4), v.getUint32(at + 8), v.getUint32(at + 12)];
  let next = frame[20];
  let at = 54;
  for (let n = 0; EXTENSIONS.has(next); n++) {
    if (n === MAX_EXTENSIONS || frame.length < at + 8) return 'other';
    if (next === 44 && (v.getUint16(at + 2) & 0xfff8) !== 0) return 'other'; // not the first fragment
    const length = next === 44 ? 8 : next === 51 ? (frame[at + 1] + 2) * 4 : (frame[at + 1] + 1) * 8;
    next = frame[at];
    at += length;
  }
  if (next === ICMPV6) {
    if (frame.length < at + 1) return 'other';
    if (ICMPV6_LINK.has(frame[at])) return null;
    next = PROTO.icmp; // one 'icmp' in the rules for both families
  }
  return withPorts(frame, v, next, word(22), word(38), at);
}

function withPorts(frame: Uint8Array, v: DataView, proto: number, src: Address, dst: Address, l4: number): Flow {
  const ports = (proto === PROTO.tcp || proto === PROTO.udp) && frame.length >= l4 + 4;
  return { proto, src, dst, sport: ports ? v.getUint16(l4) : 0, dport: ports ? v.getUint16(l4 + 2) : 0 };
}

/** A DHCP or DHCPv6 client's side of the exchange (out: the request, in: the reply). */
function isDhcpClient(f: Flow, out: boolean): boolean {
  if (f.proto !== PROTO.udp) return false;
  const [client, server] = f.src[2] === 0xffff && f.src[0] === 0 && f.src[1] === 0 ? [68, 67] : [546, 547];
  return out ? f.sport === client && f.dport === server : f.sport === server && f.dport === client;
}

export interface FirewallCounters {
  /** Packets passed as part of a tracked flow. */
  established: number;
  policy: Record<Direction, { allowed: number; denied: number }>;
}

export class Firewall {
  readonly counters: FirewallCounters = { established: 0, policy: { in: { allowed: 0, denied: 0 }, out: { allowed: 0, denied: 0 } } };
  private readonly rules: CompiledRule[];
  private readonly policy: Record<Direction, Action>;
  /** Tracked flows, keyed from the guest's side, in least-recently-seen order. */
  private readonly flows = new Map<string, number>();

  constructor(spec: FirewallSpec, private readonly now: () => number = () => performance.now()) {
    if (!isObject(spec)) throw new FirewallError('a firewall is an object with a list of rules');
    if (!Array.isArray(spec.rules)) throw new FirewallError('rules: a list of rules');
    if (spec.policy !== undefined && !isObject(spec.policy)) throw new FirewallError('policy: an object with in and out');
    this.rules = spec.rules.map(compile);
    for (const d of ['in', 'out'] as const) {
      const p = spec.policy?.[d];
      if (p !== undefined && p !== 'allow' && p !== 'deny') throw new FirewallError(`policy ${d}: '${p}' is not allow or deny`);
    }
    this.policy = { in: spec.policy?.in ?? 'deny', out: spec.policy?.out ?? 'allow' };
  }

  /** Each rule with how many packets it decided. */
  ruleHits(): { rule: FirewallRule; hits: number }[] {
    return this.rules.map((r) => ({ rule: r.spec, hits: r.hits }));
  }

  get trackedFlows(): number {
    return this.flows.size;
  }

  /** Whether a frame may pass: `out` from the guest, `in` to it. */
  allows(frame: Uint8Array, direction: Direction): boolean {
    const f = flowOf(frame);
    if (f === null) return true; // ARP, neighbour discovery
    const policy = this.counters.policy[direction];
    if (f === 'other') {
      const ok = this.policy[direction] === 'allow';
      if (ok) policy.allowed++; else policy.denied++;
      return ok;
    }
    const out = direction === 'out';
    // A DHCP client's exchange passes, as ARP does and as cloud security groups let it:
    // its reply comes from an address the request never named, so no flow would match
    // it. Acting as a DHCP server is what the IP guard stops.
    if (isDhcpClient(f, out)) return true;
    const remote = out ? f.dst : f.src;
    const key = out ? `${f.proto}|${f.src.join('.')}:${f.sport}|${f.dst.join('.')}:${f.dport}` : `${f.proto}|${f.dst.join('.')}:${f.dport}|${f.src.join('.')}:${f.sport}`;
    const now = this.now();
    const seen = this.flows.get(key);
    if (seen !== undefined) {
      this.flows.delete(key);
      if (now - seen <= (f.proto === PROTO.tcp ? TCP_IDLE_MS : OTHER_IDLE_MS)) {
        this.flows.set(key, now);
        this.counters.established++;
        return true;
      }
    }
    let action: Action | undefined;
    for (const r of this.rules) {
      if (r.spec.direction !== direction || (r.proto && r.proto !== f.proto) || !inNet(remote, r)) continue;
      if (r.lo !== 0 || r.hi !== 65535) if (f.dport < r.lo || f.dport > r.hi) continue;
      r.hits++;
      action = r.spec.action;
      break;
    }
    if (action === undefined) {
      action = this.policy[direction];
      if (action === 'allow') policy.allowed++; else policy.denied++;
    }
    if (action === 'deny') return false;
    if (this.flows.size >= MAX_FLOWS) this.flows.delete(this.flows.keys().next().value!);
    this.flows.set(key, now);
    return true;
  }
}

function inNet(a: Address, r: CompiledRule): boolean {
  for (let w = 0; w < 4; w++) if (((a[w] & r.mask[w]) >>> 0) !== r.net[w]) return false;
  return true;
}
