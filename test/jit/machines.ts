// Machines for the targeted translator tests: the same program on the interpreter and
// on the translator (translating on first sight), run to a stop label, compared.

import assert from 'node:assert/strict';
import type { Hart } from '../../src/cpu/hart.js';
import { Slot } from '../../src/cpu/state.js';
import { jitOf } from '../../src/jit/index.js';
import { Machine, slot } from '../support/run-asm.js';

export type Exec = (h: Hart, budget: number) => number;

/** Runs until the pc rests on one of the stop symbols (each a `j .` loop). */
export function runTo(m: Machine, exec: Exec, stops: string[], budget = 1000): string {
  for (let i = 0; i < 10_000; i++) {
    exec(m.h, budget);
    for (const s of stops) if (m.h.pc === m.sym(s)) return s;
  }
  throw new Error(`never reached ${stops.join('/')}: pc 0x${m.h.pc.toString(16)}`);
}

/** Loads the program twice; returns (interpreter machine, translator machine). */
export function both(make: () => Machine): [Machine, Machine] {
  const a = make();
  const b = make();
  jitOf(b.mem).threshold = 1;
  return [a, b];
}

/** Registers and trap state. Instret is compared where the programs read it (s11): at a
 *  spin loop the two executors have looped a different number of times. */
export function sameState(a: Machine, b: Machine): void {
  for (let r = 1; r < 32; r++) assert.equal(b.h.s.getX(r), a.h.s.getX(r), `x${r}`);
  for (const s of [Slot.Pc, Slot.Mcause, Slot.Mepc, Slot.Mtval]) {
    assert.equal(slot(b.h, s), slot(a.h, s), `slot ${s}`);
  }
}

