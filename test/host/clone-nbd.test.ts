// Linked clones of a template whose disk is on an NBD server: the server owns that disk,
// so a clone may share it read-only and is refused a writable one.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cloneSpec } from '../../src/host/daemon/clone.js';
import { parseVmSpec } from '../../src/vmm/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'rvisor-clone-nbd-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const identity = { dir: join(dir, 'c1'), mac: () => '52:54:00:12:34:99', machineId: '0'.repeat(32), hostname: 'c1', name: 'c1' };

test('a read-only NBD disk is shared by the clone; a writable one is refused with the reason', () => {
  const ro = parseVmSpec({ memory: 64 << 20, disks: [{ file: 'nbd://10.0.0.1/base', readOnly: true }] });
  assert.deepEqual(cloneSpec(ro, identity).disks, [{ file: 'nbd://10.0.0.1/base', readOnly: true }]);
  const rw = parseVmSpec({ memory: 64 << 20, disks: [{ file: 'nbd://10.0.0.1/base' }] });
  assert.throws(() => cloneSpec(rw, identity), /a writable NBD disk cannot be cloned/);
});
