// A daemon stand-in for the crash test: owns the inventory in argv[2] and changes it as
// fast as it can until it is killed. Each change is announced on stdout before it starts
// ("will ...") and after it returned ("did ..."), so the parent knows which single change
// a SIGKILL may have cut short. Writes to a pipe are synchronous on Linux, so a line
// written is a line the parent gets.
//
// With argv[4] = N it kills itself in the middle of its Nth file write (half the bytes
// written): the worst moment, which a kill from outside almost never hits, since a write
// to the page cache takes microseconds and the fsyncs around it milliseconds.

import fs, { writeSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { Inventory } from '../../src/host/daemon/inventory.js';
import { makeRecord } from './inventory-fixture.js';

const [dir, tag, tearAt] = process.argv.slice(2);
const inventory = Inventory.open(dir, { warn: (m) => writeSync(2, `${m}\n`), touchIntervalMs: 0 });
const say = (line: string) => writeSync(1, `${line}\n`);
const ids = inventory.list().map((r) => r.id);
if (tearAt) {
  let left = Number(tearAt);
  const write = fs.writeSync;
  // durable.ts writes Uint8Arrays as (fd, bytes, offset, length); the rest passes through.
  fs.writeSync = ((fd: number, b: Uint8Array, offset: number, length: number) => {
    if (fd > 2 && --left === 0) {
      write(fd, b, offset, Math.floor(length / 2));
      process.kill(process.pid, 'SIGKILL');
    }
    return write(fd, b, offset, length);
  }) as typeof fs.writeSync;
  // The named imports (durable.ts's among them) are bound to the builtin's ESM exports.
  syncBuiltinESMExports();
}
say(`ready ${process.pid}`);

for (let n = 0; ; n++) {
  const r = Math.random();
  if (ids.length < 10 || (r < 0.4 && ids.length < 50)) {
    const record = makeRecord(`${tag}-${n}`, { labels: { gen: '0' } });
    say(`will add ${record.id}`);
    inventory.add(record);
    ids.push(record.id);
    say(`did add ${record.id}`);
  } else if (r < 0.55) {
    const [id] = ids.splice(Math.floor(Math.random() * ids.length), 1);
    say(`will rm ${id}`);
    inventory.remove(id);
    say(`did rm ${id}`);
  } else {
    const id = ids[Math.floor(Math.random() * ids.length)];
    say(`will gen ${id}`);
    inventory.update(id, (v) => ({ ...v, labels: { gen: String(Number(v.labels.gen) + 1) } }));
    inventory.touch(id, new Date());
    say(`did gen ${id}`);
  }
}
