// npm run fuzz:diff -- --seed S --count N [--length L] [--batch B] [--max-reports K] [--minimize] [--save DIR]
//
// Runs N random sequences of seed S under qemu-riscv64 and rvisor and prints every
// divergence. With --minimize each divergence is shrunk (re-running QEMU) to the fewest
// blocks that still diverge; with --save the shrunk cases are written as regression
// fixtures. Exit status 1 on any divergence, 2 on a usage or setup error.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatDivergence, qemuAvailable, QEMU, runSeed, SEQ_LENGTH } from './runner.js';
import { minimize, toFixture } from './shrink.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      count: { type: 'string', default: '1000' },
      batch: { type: 'string', default: '500' },
      length: { type: 'string', default: String(SEQ_LENGTH) },
      'max-reports': { type: 'string', default: '10' },
      minimize: { type: 'boolean', default: false },
      save: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run fuzz:diff -- --seed S --count N [--length BLOCKS] [--batch B] [--max-reports K] [--minimize] [--save DIR]');
    return 0;
  }
  const seed = Number(values.seed), count = Number(values.count), batch = Number(values.batch);
  const maxReports = Number(values['max-reports']), length = Number(values.length);
  if (![seed, count, batch, maxReports, length].every(Number.isInteger) || count < 0 || batch < 1 || length < 1) {
    console.error('--seed, --count, --batch, --length and --max-reports take integers');
    return 2;
  }
  if (!qemuAvailable()) {
    console.error(`${QEMU} not found (install qemu-user, or set QEMU_RISCV64)`);
    return 2;
  }
  const t0 = Date.now();
  let done = 0;
  const divergences = await runSeed(seed, count, batch, (n) => {
    done += n;
    if (process.stderr.isTTY) process.stderr.write(`\r${done}/${count} sequences`);
  }, length);
  if (process.stderr.isTTY) process.stderr.write('\n');
  for (const d of divergences.slice(0, maxReports)) {
    console.log(formatDivergence(d));
    if (values.minimize || values.save) {
      const small = await minimize(d);
      console.log('--- minimized ---');
      console.log(formatDivergence(small));
      if (values.save) {
        mkdirSync(values.save, { recursive: true });
        const name = `seed${d.seed}-seq${d.index}`;
        const file = join(values.save, `${name}.json`);
        writeFileSync(file, JSON.stringify(await toFixture(small, name), null, 1) + '\n');
        console.log(`saved ${file}`);
      }
    }
    console.log();
  }
  if (divergences.length > maxReports) console.log(`... ${divergences.length - maxReports} more divergences not shown`);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`seed ${seed}: ${count} sequences, ${divergences.length} divergent, ${secs} s`);
  return divergences.length > 0 ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 2;
});
