// Stop replies (GDB's T and W packets) for the target's stop reasons.

import type { StopReason } from './target.js';

const WATCH_NAMES = { write: 'watch', read: 'rwatch', access: 'awatch' } as const;

/** GDB thread ids are hart index + 1 (0 and -1 mean "any" and "all" in the protocol). */
export const threadId = (hart: number) => (hart + 1).toString(16);

export function stopReply(r: StopReason): string {
  switch (r.kind) {
    case 'break': return `T05thread:${threadId(r.hart)};${r.type === 'sw' ? 'swbreak' : 'hwbreak'}:;`;
    case 'watch': return `T05${WATCH_NAMES[r.type]}:${BigInt.asUintN(64, r.addr).toString(16)};thread:${threadId(r.hart)};`;
    case 'step': return `T05thread:${threadId(r.hart)};`;
    case 'paused': return `T02thread:${threadId(r.hart)};`;
    case 'exit': return `W${(r.code & 0xff).toString(16).padStart(2, '0')}`;
  }
}
