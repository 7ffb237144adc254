// Records for the inventory tests and their writer child process.

import { randomUUID } from 'node:crypto';
import type { VmRecord } from '../../src/host/daemon/model.js';
import { parseVmSpec } from '../../src/vmm/spec.js';

export function makeRecord(name: string, extra: Partial<VmRecord> = {}): VmRecord {
  return {
    id: randomUUID(),
    name,
    spec: parseVmSpec({ name, memory: 64 * 2 ** 20 }),
    owner: 'alice',
    labels: {},
    created: new Date().toISOString(),
    ...extra,
  };
}
