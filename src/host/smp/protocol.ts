// What runSmp and a hart's worker thread pass each other: the job at start (workerData),
// console bytes back. Everything else goes through the run's shared control block.

import type { SmpJob } from '../../machine/smp-board.js';

export interface HartWorkerData {
  job: SmpJob;
  index: number;
}

export type HartWorkerMessage = { type: 'output'; bytes: Uint8Array };
