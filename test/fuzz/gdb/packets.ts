// GDB remote protocol inputs for the fuzzer: every packet the stub supports, built valid
// from fields (addresses, lengths, register numbers, thread ids, signals, data), then
// mutated. A number field replaced by something that is not a valid number of its kind
// is the one mutation with a known answer (E..); the others (fields dropped, doubled or
// cut, junk appended, bytes flipped, bad checksums, noise) only owe a well-formed reply.

import { encodePacket } from '../../../src/vmm/gdb/packet.js';
import { G_REGS, REGISTERS } from '../../../src/vmm/gdb/registers.js';
import { mutateBytes, type Rng } from '../harness.js';

/** Where the target under test keeps RAM, and how many harts it has. */
export interface Machine {
  harts: number;
  base: number;
  size: number;
  /** Memory below this offset holds code the fuzzer should mostly leave alone. */
  codeEnd: number;
}

type NumKind = 'addr' | 'len' | 'reg' | 'tid' | 'sig' | 'type' | 'hex';
interface Field {
  text: string;
  /** What kind of number the field is; `optional`: empty is valid (c's address). */
  num?: NumKind;
  optional?: boolean;
  /** Hex data whose length the packet fixes (G, P, M): a byte more or less is wrong. */
  exact?: boolean;
}

/** One segment of an input, fed to the session as one read. */
export interface Segment {
  bytes: Uint8Array;
  /** The packet's payload as built (before any frame-level mutation). */
  payload?: string;
  /** Unmutated and valid for the machine: it must not be refused. */
  valid?: boolean;
  /** A number field was made invalid and nothing else changed: the answer is E.. */
  badNumber?: boolean;
}

const hex = (n: number | bigint) => n.toString(16);
const latin1 = (text: string) => Uint8Array.from(Buffer.from(text, 'latin1'));
const lit = (text: string): Field => ({ text });
const num = (num: NumKind, text: string, optional = false): Field => ({ text, num, optional });
const data = (text: string, exact = true): Field => ({ text, num: 'hex', exact });

function hexBytes(rng: Rng, n: number): string {
  return Buffer.from(rng.bytes(n)).toString('hex');
}

function address(rng: Rng, m: Machine, len = 1): Field {
  // Mostly RAM the program does not run from; sometimes anywhere, or the very edges.
  const off = rng.chance(0.8) ? m.codeEnd + rng.int(m.size - m.codeEnd - len) : rng.int(m.size);
  const a = rng.chance(0.9) ? BigInt(m.base + off) : rng.pick([0n, 0xffffffffffffffffn, BigInt(m.base - 1), BigInt(m.base + m.size - 1)]);
  return num('addr', hex(a));
}

const tid = (rng: Rng, m: Machine, any = true) => num('tid', any ? rng.pick(['-1', '0', hex(1 + rng.int(m.harts))]) : hex(1 + rng.int(m.harts)));
const sig = (rng: Rng) => num('sig', rng.pick(['00', '02', '05', '0b', 'ff']));
const resumeAddr = (m: Machine) => num('addr', hex(m.base), true);

function vContActions(rng: Rng, m: Machine): Field[] {
  const out: Field[] = [lit('vCont')];
  for (let n = 1 + rng.int(2); n > 0; n--) {
    const act = rng.pick(['c', 's', 't', 'C', 'S']);
    out.push(lit(';'), lit(act));
    if (act === 'C' || act === 'S') out.push(sig(rng));
    if (rng.chance(0.6)) out.push(lit(':'), tid(rng, m));
  }
  return out;
}

/** Valid packets, one builder per packet the stub handles. Those that end the session
 *  (k, D, vKill) are rare, so most inputs go on past them. */
const BUILDERS: [weight: number, build: (rng: Rng, m: Machine) => Field[]][] = [
  [2, () => [lit('?')]],
  [1, () => [lit('qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386')]],
  [1, () => [lit('QStartNoAckMode')]],
  [3, (rng, m) => [lit('H'), lit(rng.pick(['g', 'c'])), tid(rng, m)]],
  [1, (rng, m) => [lit('T'), tid(rng, m, false)]],
  [2, () => [lit('g')]],
  [2, (rng) => [lit('G'), data(hexBytes(rng, G_REGS * 8))]],
  [3, (rng) => [lit('p'), num('reg', hex(rng.pick(REGISTERS).regnum))]],
  [3, (rng) => {
    const r = rng.pick(REGISTERS.filter((x) => x.ref.kind !== 'csr'));
    return [lit('P'), num('reg', hex(r.regnum)), lit('='), data(hexBytes(rng, r.bits / 8))];
  }],
  [4, (rng, m) => [lit('m'), address(rng, m), lit(','), num('len', hex(rng.int(0x400)))]],
  [3, (rng, m) => { const n = 1 + rng.int(64); return [lit('M'), address(rng, m, n), lit(','), num('len', hex(n)), lit(':'), data(hexBytes(rng, n))]; }],
  [3, (rng, m) => { const n = rng.int(64); return [lit('X'), address(rng, m, n), lit(','), num('len', hex(n)), lit(':'), lit(Buffer.from(rng.bytes(n)).toString('latin1'))]; }],
  [3, (rng, m) => [lit('c'), ...(rng.chance(0.2) ? [resumeAddr(m)] : [])]],
  [3, (rng, m) => [lit('s'), ...(rng.chance(0.2) ? [resumeAddr(m)] : [])]],
  [2, (rng, m) => [lit(rng.pick(['C', 'S'])), sig(rng), ...(rng.chance(0.3) ? [lit(';'), resumeAddr(m)] : [])]],
  [1, () => [lit('vCont?')]],
  [5, vContActions],
  [4, (rng, m) => [lit(rng.pick(['Z', 'z'])), num('type', String(rng.int(5))), lit(','), address(rng, m), lit(','), num('len', hex(rng.pick([1, 2, 4, 8])))]],
  [2, (rng) => [lit('qXfer:features:read:target.xml:'), num('len', hex(rng.int(8000))), lit(','), num('len', hex(1 + rng.int(0x1000)))]],
  [2, (rng) => [lit(rng.pick(['qAttached', 'qC', 'qfThreadInfo', 'qsThreadInfo', 'qSymbol::', 'vMustReplyEmpty', 'qFrobnicate', 'Qfoo']))]],
  [1, (rng, m) => [lit('qThreadExtraInfo,'), tid(rng, m, false)]],
  [1, (rng) => [lit('qRcmd,'), data(Buffer.from(rng.pick(['info status', 'info cpus', 'info registers', 'help', 'cpu 1', 'frob', 'loadvm nosuch'])).toString('hex'), false)]],
  [0.2, () => [lit('D')]],
  [0.1, () => [lit('k')]],
  [0.1, () => [lit('vKill;1')]],
];
const TOTAL = BUILDERS.reduce((n, [w]) => n + w, 0);

function build(rng: Rng, m: Machine): Field[] {
  let x = rng.next() * TOTAL;
  for (const [w, b] of BUILDERS) if ((x -= w) < 0) return b(rng, m);
  return BUILDERS[0][1](rng, m);
}

/** A text that is not a valid number of this kind, whatever the packet. */
function badNumber(rng: Rng, f: Field, m: Machine): string {
  const common = ['zz', 'ZZ', '1zz', 'g', '-', '0x10', ' 1', '+1', '1 ', '\u00ff'];
  const empty = f.optional ? [] : [''];
  switch (f.num) {
    case 'addr': return rng.pick([...common, ...empty, `1${'0'.repeat(16)}`, 'f'.repeat(17 + rng.int(300))]);
    case 'len': return rng.pick([...common, ...empty, 'f'.repeat(9 + rng.int(300)), `1${'0'.repeat(8 + rng.int(8))}`]);
    case 'reg': return rng.pick([...common, ...empty, '10000', 'f'.repeat(5 + rng.int(300))]);
    case 'tid': return rng.pick([...common, ...empty, hex(m.harts + 1 + rng.int(100)), '-2', '-0', 'f'.repeat(14 + rng.int(20))]);
    case 'sig': return rng.pick([...common, ...empty, '100', 'f'.repeat(3 + rng.int(300))]);
    case 'type': return rng.pick([...common, ...empty, '5', '9', '00', 'a']);
    default: {
      // Data in hex: an odd length, a non-hex digit, or (where the packet fixes the
      // length) a byte more or less.
      const t = f.text;
      const wrong = [`${t}0`, `${t}z`, `zz${t.slice(2)}`, ...(f.exact ? [`${t}00`, t.slice(0, -2)] : [])];
      return rng.pick(wrong);
    }
  }
}

/** Structure mutations with no single right answer. */
function mutateFields(rng: Rng, fields: Field[]): void {
  if (fields.length === 0) fields.push(lit(''));
  const at = rng.int(fields.length);
  switch (rng.int(5)) {
    case 0: fields.splice(at, 1); break;
    case 1: fields.splice(at, 0, fields[at]); break;
    case 2: fields.push(lit(rng.pick([',', ';', ':', '=', ',0', ';0', ':1', 'junk', ',,', '\u0000', '#', '$', '}']))); break;
    case 3: fields[at] = lit(fields[at].text.slice(0, rng.int(fields[at].text.length + 1))); break;
    default: fields[at] = lit(fields[at].text.replace(/[,;:=]/, rng.pick([',', ';', ':', '=', '']))); break;
  }
}

/** A packet segment: built, maybe mutated in its fields, framed, maybe mutated as bytes. */
export function packet(rng: Rng, m: Machine): Segment {
  const fields = build(rng, m);
  const numbers = fields.filter((f) => f.num && !(f.num === 'addr' && f.optional && f.text === ''));
  let valid = true, badNum = false;
  if (numbers.length && rng.chance(0.3)) {
    const f = rng.pick(numbers);
    fields[fields.indexOf(f)] = lit(badNumber(rng, f, m));
    valid = false;
    badNum = true;
  } else if (rng.chance(0.2)) {
    for (let r = 1 + rng.int(2); r > 0; r--) mutateFields(rng, fields);
    valid = false;
  }
  const payload = fields.map((f) => f.text).join('');
  // A plain copy: mutateBytes works on Uint8Array (Buffer's fill and slice differ).
  const bytes = Uint8Array.from(encodePacket(Buffer.from(payload, 'latin1')));
  if (rng.chance(0.1)) {
    // The frame itself: a wrong checksum, or bytes flipped anywhere in it.
    if (rng.chance(0.5)) bytes[bytes.length - 1] = rng.pick([0x30, 0x7a, 0x2b, 0x24, bytes[bytes.length - 1] ^ 1]);
    return { bytes: rng.chance(0.5) ? bytes : mutateBytes(rng, bytes), payload };
  }
  return { bytes, payload, valid, badNumber: badNum };
}

/** Everything else a debugger's connection carries: acks, nacks, Ctrl-C, line noise. */
export function noise(rng: Rng): Segment {
  switch (rng.int(4)) {
    case 0: return { bytes: latin1(rng.pick(['+', '-', '+++', '+-'])) };
    case 1: return { bytes: Uint8Array.of(3) };
    case 2: return { bytes: rng.bytes(1 + rng.int(16)) };
    default: return { bytes: latin1(rng.pick(['$', '$#', '#00', '}', '$}', '$g#6', '$g#67$', '\x03\x03'])) };
  }
}
