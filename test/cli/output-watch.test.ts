// The console stream's marker lines (/init's exit status, its boot-snapshot point) are
// taken out and reported; everything else passes through unchanged, however it is split.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputWatch } from '../../src/cli/output-watch.js';
import { snapshotPointInput } from '../../src/host/image/init-script.js';

test('marker lines are held back, taken out and reported; other text passes, split anywhere', () => {
  const seen: string[] = [];
  let out = '';
  const w = new OutputWatch([{ text: 'rvisor-exit-status:', seen: (l) => seen.push(l), anywhere: true }, { text: 'rvisor-boot-snapshot-point', seen: (l) => seen.push(l) }],
    (b) => (out += Buffer.from(b).toString('latin1')));
  const text = 'hello\r\nrvisor-boot-snapshot-point\r\nrvisor runs\r\nbarrvisor-exit-status: 5\r\n';
  for (const ch of text) w.write(Buffer.from(ch, 'latin1'));
  w.flush();
  assert.equal(out, 'hello\r\nrvisor runs\r\nbar', 'a marker may follow output without a newline, even one ending in its first letter');
  assert.deepEqual(seen, ['rvisor-boot-snapshot-point', 'rvisor-exit-status: 5']);
  out = '';
  w.write(Buffer.from('rvisor-'));
  w.flush();
  assert.equal(out, 'rvisor-', 'a held prefix that never became a marker is let out');
  out = '';
  const line = new OutputWatch([{ text: 'rvisor-boot-snapshot-point' }], (b) => (out += Buffer.from(b).toString('latin1')));
  line.write(Buffer.from('\n~ # r'));
  assert.equal(out, '\n~ # r', 'inside a line nothing is held for a line marker: typing echoes at once');
});

test('the boot-snapshot point is typed the words, then the command as shell words; a line break sends it as rvisor.cmd=', () => {
  assert.equal(snapshotPointInput(['rvisor.now=5'], ['sh', '-c', 'echo "a b"']), `rvisor.now=5\nsh -c 'echo "a b"'\n`);
  assert.equal(snapshotPointInput(['rvisor.now=5'], []), 'rvisor.now=5\n\n');
  const multi = snapshotPointInput(['rvisor.now=5'], ['sh', '-c', 'echo a\necho b']);
  const [words, command, rest] = multi.split('\n');
  assert.equal(command, '');
  assert.equal(rest, '');
  const b64 = /rvisor\.cmd=(\S+)/.exec(words)![1];
  assert.equal(Buffer.from(b64, 'base64').toString(), `sh -c 'echo a\necho b'`);
});
