// Atomic memory operations for the interpreter: a tiny WebAssembly module over guest
// RAM's memory, so that AMOs and SC are single atomic instructions on the host (as in
// translated code) when harts run on several threads, with 64-bit values as int32 pairs
// (no BigInt). On an unshared memory the same instructions are simply not contended.
//
// The module, in the text format:
//   (import "e" "m" (memory 1 [65536 shared]))
//   (func $a32_<op> (param addr v) (result i32)            ;; the old value
//   (func $a64_<op> (param addr lo hi) (result i32)        ;; old low word; old high in $hi
//   (func $hi (result i32))                                 ;; that high word
//   (func $cas32 (param addr expect new) (result i32)      ;; 1 when memory held `expect`
//   (func $cas64 (param addr eLo eHi nLo nHi) (result i32)
//   (func $fence)                                           ;; atomic.fence
// for each AmoOp below; min/max are compare-exchange loops.

/** The AMO operations, numbered for the module's br_table. */
export const enum AmoOp { Swap = 0, Add, Xor, And, Or, Min, Max, MinU, MaxU }

/** AmoOp of an AMO's funct5 (RISC-V A extension), or -1 when it is not one. */
export function amoOpOf(funct5: number): number {
  switch (funct5) {
    case 0x01: return AmoOp.Swap;
    case 0x00: return AmoOp.Add;
    case 0x04: return AmoOp.Xor;
    case 0x0c: return AmoOp.And;
    case 0x08: return AmoOp.Or;
    case 0x10: return AmoOp.Min;
    case 0x14: return AmoOp.Max;
    case 0x18: return AmoOp.MinU;
    case 0x1c: return AmoOp.MaxU;
    default: return -1;
  }
}

/** amo32[op](addr, v) -> old; amo64[op](addr, lo, hi) -> old low word, and hi() the old
 *  high word (a global of this thread's instance); cas: 1 when memory held the expected
 *  value and took the new. */
export interface AtomicOps {
  amo32: ((addr: number, v: number) => number)[];
  amo64: ((addr: number, lo: number, hi: number) => number)[];
  hi(): number;
  cas32(addr: number, expect: number, next: number): number;
  cas64(addr: number, eLo: number, eHi: number, nLo: number, nHi: number): number;
  fence(): void;
}

const I32 = 0x7f, I64 = 0x7e, VOID = 0x40;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, I64_CONST = 0x42, SELECT = 0x1b, LOOP = 0x03, BR_IF = 0x0d, END = 0x0b;
const I32_EQ = 0x46, I32_NE = 0x47, I32_LT_S = 0x48, I32_LT_U = 0x49, I64_EQ = 0x51, I64_NE = 0x52, I64_LT_S = 0x53, I64_LT_U = 0x54;
const GLOBAL_GET = 0x23, GLOBAL_SET = 0x24, I32_WRAP = 0xa7, I64_EXTEND_U = 0xad, I64_SHL = 0x86, I64_SHR_U = 0x88, I64_OR = 0x84;
// The threads proposal's opcodes after the 0xfe prefix; each rmw group has the i32 form
// first and the i64 form next.
const ATOMIC = 0xfe, FENCE = 0x03, LOAD32 = 0x10, ADD = 0x1e, AND = 0x2c, OR = 0x33, XOR = 0x3a, XCHG = 0x41, CMPXCHG = 0x48;

const get = (i: number) => [LOCAL_GET, i];
/** An atomic op of the i32 or i64 group, naturally aligned, offset 0. */
const atomic = (code: number, wide: boolean) => [ATOMIC, code + (wide ? 1 : 0), wide ? 3 : 2, 0];

/** The old value of an rmw on [local addr] with operand local v; min/max are
 *  compare-exchange loops (new = old when old wins, else v) with the old value in `old`. */
function rmw(op: AmoOp, wide: boolean, addr: number, v: number, old: number): number[] {
  const simple = [XCHG, ADD, XOR, AND, OR][op];
  if (simple !== undefined) return [...get(addr), ...get(v), ...atomic(simple, wide)];
  const ltS = wide ? I64_LT_S : I32_LT_S, ltU = wide ? I64_LT_U : I32_LT_U;
  const lt = op === AmoOp.Min || op === AmoOp.Max ? ltS : ltU;
  // min: old wins when old < v; max: when v < old.
  const oldWins = op === AmoOp.Min || op === AmoOp.MinU ? [...get(old), ...get(v), lt] : [...get(v), ...get(old), lt];
  return [
    LOOP, VOID,
    ...get(addr), ...atomic(LOAD32, wide), LOCAL_SET, old,
    ...get(addr), ...get(old), ...get(old), ...get(v), ...oldWins, SELECT,
    ...atomic(CMPXCHG, wide),
    ...get(old), wide ? I64_NE : I32_NE, BR_IF, 0,
    END,
    ...get(old),
  ];
}

function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const func = (locals: [number, number][], body: number[]) => {
  const b = [...leb(locals.length), ...locals.flatMap(([n, t]) => [...leb(n), t]), ...body, END];
  return [...leb(b.length), ...b];
};
const name = (s: string) => [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
/** The i64 of int32 locals lo, hi. */
const pair = (lo: number, hi: number) => [...get(lo), I64_EXTEND_U, ...get(hi), I64_EXTEND_U, I64_CONST, 32, I64_SHL, I64_OR];

const OPS = [AmoOp.Swap, AmoOp.Add, AmoOp.Xor, AmoOp.And, AmoOp.Or, AmoOp.Min, AmoOp.Max, AmoOp.MinU, AmoOp.MaxU];

function moduleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const types = vec([
    [0x60, 2, I32, I32, 1, I32], // amo32: addr, v
    [0x60, 3, I32, I32, I32, 1, I32], // amo64: addr, lo, hi
    [0x60, 3, I32, I32, I32, 1, I32], // cas32
    [0x60, 5, I32, I32, I32, I32, I32, 1, I32], // cas64
    [0x60, 0, 0], // fence
    [0x60, 0, 1, I32], // hi
  ]);
  // A shared memory's import must say so, with a maximum (any at least the memory's).
  const memType = shared ? [0x03, 1, ...leb(65536)] : [0x00, 1];
  const imports = vec([[...name('e'), ...name('m'), 0x02, ...memType]]);
  const bodies: { name: string; type: number; code: number[] }[] = [];
  for (const op of OPS) {
    // amo32: params 0 addr, 1 v; local 2 old.
    bodies.push({ name: `a32_${op}`, type: 0, code: func([[1, I32]], rmw(op, false, 0, 1, 2)) });
    // amo64: params 0 addr, 1 lo, 2 hi; locals 3 v, 4 old (i64).
    bodies.push({ name: `a64_${op}`, type: 1, code: func([[2, I64]], [
      ...pair(1, 2), LOCAL_SET, 3,
      ...rmw(op, true, 0, 3, 4), LOCAL_SET, 4,
      ...get(4), I64_CONST, 32, I64_SHR_U, I32_WRAP, GLOBAL_SET, 0,
      ...get(4), I32_WRAP,
    ]) });
  }
  bodies.push({ name: 'cas32', type: 2, code: func([], [...get(0), ...get(1), ...get(2), ...atomic(CMPXCHG, false), ...get(1), I32_EQ]) });
  bodies.push({ name: 'cas64', type: 3, code: func([], [...get(0), ...pair(1, 2), ...pair(3, 4), ...atomic(CMPXCHG, true), ...pair(1, 2), I64_EQ]) });
  bodies.push({ name: 'fence', type: 4, code: func([], [ATOMIC, FENCE, 0x00]) });
  bodies.push({ name: 'hi', type: 5, code: func([], [GLOBAL_GET, 0]) });
  const funcs = vec(bodies.map((b) => [b.type]));
  const exports = vec(bodies.map((b, i) => [...name(b.name), 0x00, ...leb(i)]));
  const code = vec(bodies.map((b) => b.code));
  // One mutable i32 global, 0: the last amo64's old high word.
  const globals = vec([[I32, 0x01, 0x41, 0, END]]);
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types), ...section(2, imports), ...section(3, funcs), ...section(6, globals), ...section(7, exports), ...section(10, code)]);
}

const instances = new WeakMap<WebAssembly.Memory, AtomicOps>();
const modules = new Map<boolean, WebAssembly.Module>();

/** The atomic operations over `memory` (one instance per memory and thread). */
export function atomicOps(memory: WebAssembly.Memory, shared: boolean): AtomicOps {
  let ops = instances.get(memory);
  if (!ops) {
    let module = modules.get(shared);
    if (!module) modules.set(shared, (module = new WebAssembly.Module(moduleBytes(shared))));
    const e = new WebAssembly.Instance(module, { e: { m: memory } }).exports as Record<string, CallableFunction>;
    ops = {
      amo32: OPS.map((op) => e[`a32_${op}`] as AtomicOps['amo32'][number]),
      amo64: OPS.map((op) => e[`a64_${op}`] as AtomicOps['amo64'][number]),
      cas32: e.cas32 as AtomicOps['cas32'],
      cas64: e.cas64 as AtomicOps['cas64'],
      fence: e.fence as AtomicOps['fence'],
      hi: e.hi as AtomicOps['hi'],
    };
    instances.set(memory, ops);
  }
  return ops;
}
