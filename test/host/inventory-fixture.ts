// Records for the inventory tests and their writer child process.

import { randomUUID } from 'node:crypto';
import type { VmRecord } from '../../src/host/daemon/model.js';
import { parseVmSpec } from '../../src/vmm/spec.js';

/** Creation times one millisecond apart, in the order records are made: the inventory
 *  lists by creation time, and two records made in the same millisecond would be ordered
 *  by their random ids. */
let clock = Date.now();

export function makeRecord(name: string, extra: Partial<VmRecord> = {}): VmRecord {
  return {
    id: randomUUID(),
    name,
    spec: parseVmSpec({ name, memory: 64 * 2 ** 20 }),
    owner: 'alice',
    labels: {},
    created: new Date(clock++).toISOString(),
    ...extra,
  };
}
