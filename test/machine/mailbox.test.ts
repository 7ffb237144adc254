// MMIO from hart threads to the device thread through the mailboxes: two real worker
// threads write and read back their own registers on a device served on this thread,
// whose event loop keeps running meanwhile.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { PhysBus } from '../../src/cpu/memory.js';
import { MailboxServer, mailboxMemory } from '../../src/machine/smp/mailbox.js';

/** 64-bit registers at 0x1000_0000..; 0x3000_0000 throws; nothing else answers. */
function registerFile(): PhysBus & { regs: Map<number, [number, number]> } {
  const regs = new Map<number, [number, number]>();
  return {
    regs,
    read(pa, _size, out) {
      if (pa >= 0x2000_0000) return false;
      const v = regs.get(pa) ?? [0, 0];
      out[0] = v[0];
      out[1] = v[1];
      return true;
    },
    write(pa, _size, lo, hi) {
      if (pa === 0x3000_0000) throw new Error('a device bug');
      if (pa >= 0x2000_0000) return false;
      regs.set(pa, [lo, hi]);
      return true;
    },
  };
}

test('two hart threads do MMIO through their mailboxes: every answer is theirs, in order; faults and a throwing device answer "no"', async () => {
  const memory = mailboxMemory(2);
  const errors: unknown[] = [];
  const server = new MailboxServer(memory, registerFile(), (e) => errors.push(e));
  const serving = server.run();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const count = 2000;
  const results = await Promise.all([0, 1].map((hart) => new Promise<{ wrong: number; unmapped: boolean; thrown: boolean }>((resolve, reject) => {
    const w = new Worker(new URL('./mailbox-worker.js', import.meta.url), { workerData: { memory, hart, count } });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  clearInterval(timer);
  server.stop();
  await serving;
  for (const r of results) assert.deepEqual(r, { wrong: 0, unmapped: false, thrown: false });
  assert.equal(server.served, 2 * (2 * count + 2));
  assert.ok(ticks > 0, 'the device thread\'s event loop ran while it served');
  assert.deepEqual(errors.map((e) => (e as Error).message), ['a device bug', 'a device bug']);
});
