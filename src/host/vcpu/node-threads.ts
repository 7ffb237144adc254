// vCPU threads on Node: one worker_threads Worker per hart, running vcpu-worker.js.

import { Worker } from 'node:worker_threads';
import type { HartThreadEvent } from '../../machine/smp/hart-thread.js';
import type { HartThreadSpawner } from '../../machine/smp/threaded-harts.js';

/** Whether this host can run harts on threads (shared memory across workers). */
export function threadsAvailable(): boolean {
  return typeof SharedArrayBuffer === 'function' && typeof Atomics.waitAsync === 'function';
}

export function nodeHartThreads(): HartThreadSpawner {
  return (init, events, failed) => {
    let ending = false;
    const w = new Worker(new URL('./vcpu-worker.js', import.meta.url), { workerData: init, name: `vcpu${init.hart}` });
    w.on('message', (e: HartThreadEvent) => events(e));
    w.on('error', (e) => failed(e));
    w.on('exit', (code) => {
      if (!ending && code !== 0) failed(new Error(`the thread of vCPU ${init.hart} exited with status ${code}`));
    });
    return {
      terminate: () => {
        ending = true;
        void w.terminate();
      },
    };
  };
}
