// A vCPU thread: runs one hart of a virt machine (machine/smp/hart-thread.ts) and posts
// its events to the VM's thread.

import { parentPort, workerData } from 'node:worker_threads';
import { runHartThread, type HartThreadInit } from '../../machine/smp/hart-thread.js';
import { reclaimTranslatedCode } from '../engine/code-reclaim.js';

const port = parentPort;
if (!port) throw new Error('vcpu-worker.js runs as a worker thread');
reclaimTranslatedCode();
runHartThread(workerData as HartThreadInit, (e) => port.postMessage(e));
