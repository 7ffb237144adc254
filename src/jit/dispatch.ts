// The dispatcher: the one wasm function the runtime calls. It calls the entry block
// through the table of block functions, then keeps going from block to block while it can
// find the next one without JS: the pc's page in the fetch TLB (so mappings and
// permissions are exactly the interpreter's), and the host offset in a direct-mapped
// lookup table in guest RAM's memory (key host + 1, table slot, used since the cache's
// last trim, length). Anything
// else (a TLB miss, an untranslated block, the budget, the exit flag) returns to the
// runtime's loop. Calling only this function also gives V8 one JS-to-wasm wrapper to
// specialise instead of its slow generic one.

import { TLB_ARRAY_BYTES } from '../cpu/hart.js';
import { BLOCK_TYPE } from './module.js';
import { Gen, L_DELTA, L_LO, L_N, L_T, L_V, L_VA, P_BUDGET, P_ST, PC_OFF, SCR_DHI, SCR_DLO, SCR_EXIT, SCR_PAGE } from './regs.js';
import { Bytes, T, W } from './wasm.js';


export const LOOKUP_ENTRIES = 32768;
export const LOOKUP_BYTES = LOOKUP_ENTRIES * 16;

export type CallFn = (slot: number, budget: number, st: number, rset: number, wset: number,
  dlo: number, dhi: number, fset: number, host: number) => number;

const enum L { Slot, Budget, St, Rset, Wset, Dlo, Dhi, Fset, Host, N, Lo, T, E, Next, Pc, Delta, R }

/** Builds the dispatcher module; `lookup` is the table's offset in memory (-1: none);
 *  `shared`: guest memory is a shared WebAssembly.Memory (harts on several threads). */
export function dispatcherModule(lookup: number, shared: boolean): Uint8Array<ArrayBuffer> {
  const m = new Bytes();
  m.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const types = new Bytes();
  types.u32(2);
  types.bytes(BLOCK_TYPE);
  types.bytes([0x60, 9, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, T.I32, 1, T.I32]);
  m.section(1, types);
  const imports = new Bytes();
  imports.u32(2);
  imports.memoryImport(shared);
  imports.name('e'); imports.name('t'); imports.bytes([0x01, 0x70, 0x00, 0x00]);
  m.section(2, imports);
  const funcs = new Bytes();
  funcs.bytes([1, 1]);
  m.section(3, funcs);
  const exports = new Bytes();
  exports.u32(1); exports.name('call'); exports.bytes([0x00, 0]);
  m.section(7, exports);
  const b = new Bytes();
  b.u32(2);
  b.u32(5); b.byte(T.I32);
  b.u32(3); b.byte(T.I64);
  const delta = () => {
    b.get(L.Dlo); b.op(W.I64ExtendI32U); b.get(L.Dhi); b.op(W.I64ExtendI32U);
    b.i64(32); b.op(W.I64Shl, W.I64Or); b.set(L.Delta);
  };
  delta();
  b.op(W.Loop, T.Void);
  // Where a fault finds the pc: the page's delta and host offset.
  b.get(L.St); b.get(L.Dlo); b.mem(W.I32Store, SCR_DLO);
  b.get(L.St); b.get(L.Dhi); b.mem(W.I32Store, SCR_DHI);
  b.get(L.St); b.get(L.Host); b.i32(-4096); b.op(W.I32And); b.mem(W.I32Store, SCR_PAGE);
  // Blocks that chain without tail calls return the next slot (same page), called here.
  b.op(W.Loop, T.Void);
  b.get(L.N);
  for (const l of [L.Budget, L.St, L.Rset, L.Wset, L.Delta]) b.get(l);
  b.get(L.Slot);
  b.op(W.CallIndirect); b.u32(0); b.u32(0);
  b.tee(L.R); b.op(W.I32WrapI64); b.set(L.N);
  b.get(L.R); b.i64(32); b.op(W.I64ShrU, W.I32WrapI64); b.tee(L.Next);
  b.i32(0); b.op(W.I32GeS);
  b.op(W.If, T.Void); b.get(L.Next); b.set(L.Slot); b.op(W.Br, 1, W.End);
  b.op(W.End);
  const leaveIf = () => { b.op(W.If, T.Void); b.get(L.N); b.op(W.Return, W.End); };
  if (lookup < 0) { b.get(L.N); b.op(W.Return); }
  b.get(L.N); b.get(L.Budget); b.op(W.I32GeU);
  b.get(L.St); b.mem(W.I32Load, SCR_EXIT); b.op(W.I32Or);
  leaveIf();
  // The next pc through the fetch TLB.
  b.get(L.St); b.mem(W.I64Load, PC_OFF); b.tee(L.Pc); b.op(W.I32WrapI64); b.tee(L.Lo);
  b.i32(10); b.op(W.I32ShrU); b.i32(0x3fc); b.op(W.I32And); b.get(L.Fset); b.op(W.I32Add); b.tee(L.T);
  b.mem(W.I32Load, 0); b.get(L.Lo); b.i32(-4096); b.op(W.I32And, W.I32Ne);
  b.get(L.T); b.mem(W.I32Load, TLB_ARRAY_BYTES); b.get(L.Pc); b.i64(32); b.op(W.I64ShrU, W.I32WrapI64, W.I32Ne, W.I32Or);
  leaveIf();
  b.get(L.T); b.mem(W.I32Load, 2 * TLB_ARRAY_BYTES); b.get(L.Lo); b.i32(0xfff); b.op(W.I32And, W.I32Add); b.set(L.Host);
  // The block at that host offset.
  b.get(L.Host); b.i32(1); b.op(W.I32ShrU); b.i32(LOOKUP_ENTRIES - 1); b.op(W.I32And); b.i32(4); b.op(W.I32Shl);
  b.i32(Math.max(lookup, 0)); b.op(W.I32Add); b.tee(L.E);
  b.mem(W.I32Load, 0); b.get(L.Host); b.i32(1); b.op(W.I32Add, W.I32Ne);
  b.get(L.N); b.get(L.E); b.mem(W.I32Load, 12); b.op(W.I32Add); b.get(L.Budget); b.op(W.I32GtU, W.I32Or);
  leaveIf();
  b.get(L.E); b.mem(W.I32Load, 4); b.set(L.Slot);
  // Marks the block as used, for the cache's trims (blocks reached this way are not
  // entered from the runtime, which marks pages itself).
  b.get(L.E); b.i32(1); b.mem(W.I32Store, 8);
  // delta = pc - host
  b.get(L.Pc); b.get(L.Host); b.op(W.I64ExtendI32U, W.I64Sub); b.tee(L.Delta);
  b.op(W.I32WrapI64); b.set(L.Dlo);
  b.get(L.Delta); b.i64(32); b.op(W.I64ShrU, W.I32WrapI64); b.set(L.Dhi);
  b.op(W.Br, 0, W.End, W.Unreachable, W.End);
  const code = new Bytes();
  code.u32(1);
  code.u32(b.len); code.bytes(b.view());
  m.section(10, code);
  return m.view();
}

/**
 * The end of a block with a computed target (JALR, e.g. a return): when the target lies in
 * the same page (so the same delta holds) and the lookup table has a block there, chain to
 * it like a direct branch; otherwise return with pc. The target address is in L_VA.
 */
export function emitIndirectExit(g: Gen, page: number, count: number, lookup: number): void {
  const b = g.b;
  g.flush();
  if (lookup >= 0) {
    b.get(L_VA); b.get(L_DELTA); b.op(W.I64Sub); b.tee(L_V); b.i64(12); b.op(W.I64ShrU); b.i64n(page); b.op(W.I64Eq);
    b.op(W.If, T.Void);
    b.get(L_V); b.op(W.I32WrapI64); b.tee(L_LO); b.i32(1); b.op(W.I32ShrU); b.i32(LOOKUP_ENTRIES - 1); b.op(W.I32And);
    b.i32(4); b.op(W.I32Shl); b.i32(lookup); b.op(W.I32Add); b.tee(L_T);
    b.mem(W.I32Load, 0); b.get(L_LO); b.i32(1); b.op(W.I32Add, W.I32Eq);
    b.op(W.If, T.Void);
    b.get(L_N); b.i32(count); b.op(W.I32Add); b.tee(L_N);
    b.get(L_T); b.mem(W.I32Load, 12); b.op(W.I32Add); b.get(P_BUDGET); b.op(W.I32GtU);
    b.get(P_ST); b.mem(W.I32Load, SCR_EXIT); b.op(W.I32Or);
    b.op(W.If, T.Void); b.get(P_ST); b.get(L_VA); b.mem(W.I64Store, PC_OFF); b.get(L_N); g.exit(); b.op(W.End);
    b.get(L_N); g.chainIndirect(() => { b.get(L_T); b.mem(W.I32Load, 4); });
    b.op(W.End, W.End);
  }
  b.get(P_ST); b.get(L_VA); b.mem(W.I64Store, PC_OFF);
  b.get(L_N); b.i32(count); b.op(W.I32Add); g.exit();
}
