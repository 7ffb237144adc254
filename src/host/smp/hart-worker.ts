// The entry script of one hart's worker thread in an SMP bare-metal run (runSmp): it runs
// the platform-neutral hart loop and forwards the program's console output. A throw here
// reaches the main thread as the worker's 'error' event, which ends the run as a crash.

import { parentPort, workerData } from 'node:worker_threads';
import { runHart } from '../../machine/smp-hart.js';
import type { HartWorkerData, HartWorkerMessage } from './protocol.js';

if (!parentPort) throw new Error('hart-worker.js runs in a worker thread');
const port = parentPort;
const { job, index } = workerData as HartWorkerData;
// Copied: Htif may hand out a view it reuses.
runHart(job, index, { output: (bytes) => port.postMessage({ type: 'output', bytes: Uint8Array.from(bytes) } satisfies HartWorkerMessage) });
