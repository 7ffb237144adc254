// npm run fuzz -- --target qcow2|qmp|gdb|virtqueue|net|9p|all --seed S --count N [--from I]
//
// Runs N structure-aware inputs against one surface a guest or a client can reach and
// prints one summary line per target; every failing input is printed with its index, so
// `--seed S --from I --count 1` replays it. Exit status 1 on any failure, 2 on bad usage.

import { parseArgs } from 'node:util';
import { runFuzz } from './harness.js';
import { loadTarget, targetNames } from './targets.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: 'string', default: 'all' },
      seed: { type: 'string', default: '1' },
      count: { type: 'string', default: '10000' },
      from: { type: 'string', default: '0' },
      'max-failures': { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: npm run fuzz -- --target NAME|all --seed S --count N [--from I] [--max-failures K]');
    for (const name of targetNames()) console.log(`  ${name.padEnd(10)} ${(await loadTarget(name)).surface}`);
    return 0;
  }
  const seed = Number(values.seed), count = Number(values.count), from = Number(values.from);
  const maxFailures = Number(values['max-failures']);
  if (![seed, count, from, maxFailures].every(Number.isSafeInteger) || count < 0 || from < 0 || maxFailures < 1) {
    console.error('rvisor fuzz: --seed, --count, --from and --max-failures take integers');
    return 2;
  }
  const names = values.target === 'all' ? targetNames() : (values.target as string).split(',');
  let failed = 0;
  for (const name of names) {
    let target;
    try {
      target = await loadTarget(name);
    } catch (e) {
      console.error(`rvisor fuzz: ${(e as Error).message}`);
      return 2;
    }
    const tty = process.stderr.isTTY;
    const report = await runFuzz(target, {
      seed, count, from, maxFailures,
      progress: (n) => { if (tty) process.stderr.write(`\r${name}: ${n}/${count}`); },
    });
    if (tty) process.stderr.write('\r\x1b[K');
    for (const f of report.failures) console.log(`FAIL ${name} seed ${seed} input ${f.index}:\n${f.error}\n`);
    const rate = report.inputs / (report.ms / 1000);
    console.log(`${name}: ${report.inputs} inputs, seed ${seed}, from ${from}, ${report.failures.length} failures, ${(report.ms / 1000).toFixed(1)} s (${rate.toFixed(0)}/s)`);
    failed += report.failures.length;
  }
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e) => { console.error(e); process.exitCode = 2; });
