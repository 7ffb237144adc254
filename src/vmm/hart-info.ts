// What the monitors show of a machine's harts: `info cpus` / query-cpus-fast and
// `info registers`, read from the harts' state without side effects.

import type { Hart } from '../cpu/hart.js';
import type { CpuInfo, NamedValue } from './control.js';
import { DEBUG_CSRS } from './gdb/registers.js';
import { readHartRegister } from './hart-regs.js';

const X_NAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7',
  's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];

/** `halted(i)`: stopped by SBI HSM or waiting in WFI (default: waiting in WFI). */
export function cpuInfo(harts: readonly Hart[], halted?: (index: number) => boolean): CpuInfo[] {
  return harts.map((h, index) => ({
    index,
    hartId: Number(readHartRegister(h, { kind: 'csr', csr: 0xf14 }) ?? BigInt(index)),
    pc: h.pc,
    priv: h.priv,
    halted: halted?.(index) ?? h.waiting,
  }));
}

export function hartRegisters(harts: readonly Hart[], cpu: number): NamedValue[] {
  const h = harts[cpu];
  if (!h) throw new Error(`no CPU ${cpu}`);
  const out: NamedValue[] = [{ name: 'pc', value: h.pc }, { name: 'priv', value: BigInt(h.priv) }];
  for (const [name, csr] of DEBUG_CSRS) {
    const v = readHartRegister(h, { kind: 'csr', csr });
    if (v !== undefined) out.push({ name, value: v });
  }
  for (let i = 0; i < 32; i++) out.push({ name: `x${i}/${X_NAMES[i]}`, value: h.s.getX(i) });
  return out;
}
