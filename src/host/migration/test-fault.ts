// Tests only: a destination that dies, as a crashed or killed process would (SIGKILL, no
// orderly anything), at a chosen phase of an incoming migration, so tests can show that
// the source keeps its guest running whatever the moment. Enabled by the CLI only with
// RVISOR_TEST_HOOKS=1 and RVISOR_TEST_MIGRATION_FAULT=<phase>.

import type { MigrationChannel, MigrationDestination } from '../../vmm/migration/engine.js';
import { FrameType } from '../../vmm/migration/stream.js';

export type FaultPhase = 'setup' | 'iteration' | 'stop-and-copy' | 'confirmation';
export const FAULT_PHASES: readonly FaultPhase[] = ['setup', 'iteration', 'stop-and-copy', 'confirmation'];

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: killed');
}

/** The channel and destination, dying at `phase`: on HELLO (before it is answered), at
 *  the third RAM frame, on the STATE frame (the source has paused), or once the state is
 *  restored (before RESUMED is sent). */
export function withFault(phase: FaultPhase, channel: MigrationChannel, dst: MigrationDestination): [MigrationChannel, MigrationDestination] {
  let ram = 0;
  const next = async () => {
    const f = await channel.next();
    if (phase === 'setup' && f.type === FrameType.Hello) die();
    if (phase === 'iteration' && f.type === FrameType.Ram && ++ram === 3) die();
    if (phase === 'stop-and-copy' && f.type === FrameType.State) die();
    return f;
  };
  const start = async (state: Parameters<MigrationDestination['start']>[0]) => {
    await dst.start(state);
    if (phase === 'confirmation') die();
  };
  return [{ ...channel, next }, { ...dst, start }];
}
