// A hart thread's side of the mailbox test: writes then reads back through MailboxBus.

import { parentPort, workerData } from 'node:worker_threads';
import { MailboxBus, type MailboxMemory } from '../../src/machine/smp/mailbox.js';

const { memory, hart, count } = workerData as { memory: MailboxMemory; hart: number; count: number };
const bus = new MailboxBus(memory, hart);
const out = new Int32Array(2);
let wrong = 0;
for (let i = 0; i < count; i++) {
  const pa = 0x1000_0000 + hart * 0x100 + (i % 4) * 8;
  if (!bus.write(pa, 8, i, hart)) wrong++;
  if (!bus.read(pa, 8, out) || out[0] !== i || out[1] !== hart) wrong++;
}
// An address nothing answers at, and a device that throws: both answer "no".
const unmapped = bus.read(0x2000_0000, 4, out);
const thrown = bus.write(0x3000_0000, 4, 1, 0);
parentPort?.postMessage({ wrong, unmapped, thrown });
