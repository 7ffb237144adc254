// Register naming shared by the assembler and the disassembler.

export const XREG_NAMES: readonly string[] = [
  'zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2',
  's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7',
  's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6',
];

export const FREG_NAMES: readonly string[] = [
  'ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7',
  'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3', 'fa4', 'fa5',
  'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7',
  'fs8', 'fs9', 'fs10', 'fs11', 'ft8', 'ft9', 'ft10', 'ft11',
];

function buildLookup(abi: readonly string[], prefix: string): Map<string, number> {
  const m = new Map<string, number>();
  abi.forEach((n, i) => {
    m.set(n, i);
    m.set(prefix + i, i);
  });
  return m;
}

const XREGS = buildLookup(XREG_NAMES, 'x');
XREGS.set('fp', 8);
const FREGS = buildLookup(FREG_NAMES, 'f');

/** Integer register number for a name (x5, t0, fp...), or undefined. */
export function parseXReg(name: string): number | undefined {
  return XREGS.get(name.trim().toLowerCase());
}

/** Floating-point register number for a name (f5, ft5...), or undefined. */
export function parseFReg(name: string): number | undefined {
  return FREGS.get(name.trim().toLowerCase());
}

export const ROUNDING_MODES: readonly (string | undefined)[] = [
  'rne', 'rtz', 'rdn', 'rup', 'rmm', undefined, undefined, 'dyn',
];
