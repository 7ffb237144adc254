// The VM's one run-state machine: legal moves and their QMP events, illegal ones refused
// with nothing changed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IllegalTransition, Lifecycle, type VmLifecycleEvent } from '../../src/vmm/lifecycle.js';

function watched() {
  const l = new Lifecycle();
  const events: string[] = [];
  l.on((e: VmLifecycleEvent) => events.push('data' in e ? `${e.event}:${e.data.reason}` : e.event));
  return { l, events };
}

test('a VM runs, pauses, resumes, stops for the debugger and shuts down, with QEMU events', () => {
  const { l, events } = watched();
  assert.equal(l.state, 'created');
  l.move('start');
  l.move('pause');
  l.move('resume');
  l.move('debug-stop');
  assert.equal(l.state, 'debug');
  l.move('resume');
  l.reset(true);
  l.powerdown();
  l.move('shutdown', { guest: true, reason: 'guest-shutdown' });
  assert.equal(l.state, 'shutdown');
  assert.deepEqual(events, ['RESUME', 'STOP', 'RESUME', 'STOP', 'RESUME', 'RESET:guest-reset', 'POWERDOWN', 'SHUTDOWN:guest-shutdown']);
  l.move('start');
  assert.equal(l.state, 'running');
});

test('started paused (-S): no STOP, and a reset keeps it paused', () => {
  const { l, events } = watched();
  l.move('start-paused');
  l.reset(false);
  assert.equal(l.state, 'paused');
  assert.deepEqual(events, ['RESET:host-qmp-system-reset']);
});

test('an illegal move throws and changes nothing', () => {
  const { l, events } = watched();
  assert.throws(() => l.move('pause'), (e: unknown) => e instanceof IllegalTransition && e.message === 'cannot pause a VM that is created');
  l.move('start');
  assert.throws(() => l.move('start'), /cannot start a VM that is running/);
  assert.throws(() => l.move('resume'), /cannot resume a VM that is running/);
  assert.equal(l.state, 'running');
  assert.deepEqual(events, ['RESUME']);
});
