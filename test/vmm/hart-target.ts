// A real hart under HartDebugTarget, with a tiny run loop standing in for VirtMachine's:
// while resumed, it calls runHart() for each hart from setImmediate, as the board's loop
// would between slices.

import { Hart } from '../../src/cpu/hart.js';
import { HartDebugTarget, type RunControl } from '../../src/vmm/virt-target.js';
import { load, type Machine } from '../support/run-asm.js';

export const PROGRAM = `
_start:
  li t0, 1
  li t1, 2
loop:
  add t0, t0, t1
  la a0, cell
  sd t0, 0(a0)
  ld a1, 0(a0)
  c.sd a2, 8(a0)
  c.addi a2, 1
  j loop
fault:
  nop
  sd t0, 4(a0)
  j fault
  .data
  .align 3
cell: .dword 0
cell2: .dword 0
`;

export class PumpLoop implements RunControl {
  running = false;
  calls: string[] = [];
  target!: HartDebugTarget;

  pause(): void { this.calls.push('pause'); this.running = false; }
  resume(): void {
    this.calls.push('resume');
    if (this.running) return;
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      for (let i = 0; i < this.target.harts; i++) this.target.runHart(i, 500);
      if (this.running) setImmediate(tick);
    };
    setImmediate(tick);
  }
  kill(): void { this.calls.push('kill'); this.running = false; }
}

export function hartTarget(harts = 1): Machine & { target: HartDebugTarget; loop: PumpLoop; harts: Hart[] } {
  const m = load(PROGRAM);
  const hs = [m.h];
  for (let i = 1; i < harts; i++) {
    const h = new Hart(m.mem, { hartId: i });
    h.pc = m.sym('_start');
    hs.push(h);
  }
  const loop = new PumpLoop();
  const target = new HartDebugTarget(hs, loop);
  loop.target = target;
  return { ...m, target, loop, harts: hs };
}
