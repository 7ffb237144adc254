// A stateful firewall for one switch port, the way cloud security groups work: rules say
// what the guest may send (out) and receive (in) by protocol, the remote's CIDR and the
// destination port; a flow a rule allowed is tracked, so its replies pass whatever the
// rules of the other direction say; anything else meets the direction's default policy.
// IPv4 only: ARP and a DHCP client's exchange always pass (the switch's IP guard checks
// both); other EtherTypes meet
// the default policy. Non-first IPv4 fragments carry no ports and meet it too.


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

interface CompiledRule {
  readonly spec: FirewallRule;
  readonly proto: number; // 0: any
  readonly net: number;
  readonly mask: number;
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
  let net = 0, mask = 0;
  if (r.cidr !== undefined) {
    // Strings only (cidr and port): a regex takes a number or an array as its text.
    const m = typeof r.cidr === 'string' ? /^([^/]+)(?:\/(\d{1,2}))?$/.exec(r.cidr) : null;
    const addr = m ? parseIpv4(m[1]) : null;
    const bits = m?.[2] === undefined ? 32 : Number(m[2]);
    if (addr === null || bits > 32) throw bad(`'${r.cidr}' is not an IPv4 CIDR`);
    mask = bits ? (~0 << (32 - bits)) >>> 0 : 0;
    net = (addr & mask) >>> 0;
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

/** An IPv4 packet's flow fields, from an untagged frame; null for anything else. */
interface Flow { proto: number; src: number; dst: number; sport: number; dport: number }

function flowOf(frame: Uint8Array): Flow | 'other' | null {
  if (frame.length < 14 || frame[12] !== 0x08 || frame[13] !== 0x00) return frame[12] === 0x08 && frame[13] === 0x06 ? null : 'other';
  const ihl = (frame[14] & 0x0f) * 4;
  if (frame.length < 14 + Math.max(20, ihl) || frame[14] >> 4 !== 4 || ihl < 20) return 'other';
  const v = new DataView(frame.buffer, frame.byteOffset, frame.length);
  const proto = frame[23];
  const src = v.getUint32(26), dst = v.getUint32(30);
  const fragment = v.getUint16(20) & 0x1fff;
  if (fragment) return 'other';
  const l4 = 14 + ihl;
  const ports = (proto === PROTO.tcp || proto === PROTO.udp) && frame.length >= l4 + 4;
  return { proto, src, dst, sport: ports ? v.getUint16(l4) : 0, dport: ports ? v.getUint16(l4 + 2) : 0 };
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
    if (f === null) return true; // ARP
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
    if (f.proto === PROTO.udp && (out ? f.sport === 68 && f.dport === 67 : f.sport === 67 && f.dport === 68)) return true;
    const remote = out ? f.dst : f.src;
    const key = out ? `${f.proto}|${f.src}:${f.sport}|${f.dst}:${f.dport}` : `${f.proto}|${f.dst}:${f.dport}|${f.src}:${f.sport}`;
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
      if (r.spec.direction !== direction || (r.proto && r.proto !== f.proto) || ((remote & r.mask) >>> 0) !== r.net) continue;
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
