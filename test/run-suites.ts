// `npm test`: every *.test.js under dist/test, in two node:test runs side by side. The
// debian-system suite spends most of its time in one long build (its `image pull`
// installs Debian inside rvisor: one core for twenty minutes or more); the rest of the
// suite, one file at a time as before, runs meanwhile on the other core. Each run's lines
// are passed through as they come, the long one's with a prefix; the exit status is the
// first failing run's.

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST_TEST = fileURLToPath(new URL('.', import.meta.url));
/** Files that run beside the rest, not after it. */
const ALONGSIDE = ['boot/debian-system.test.js'];

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.js') ? [path] : [];
  });
}

function run(files: string[], prefix: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-force-exit', '--test-reporter=spec', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pass = (out: NodeJS.WriteStream) => {
      let pending = '';
      return (chunk: Buffer) => {
        if (!prefix) return void out.write(chunk);
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) out.write(`${prefix}${line}\n`);
      };
    };
    child.stdout.on('data', pass(process.stdout));
    child.stderr.on('data', pass(process.stderr));
    child.on('close', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
}

const all = testFiles(DIST_TEST).sort();
const alongside = all.filter((f) => ALONGSIDE.includes(relative(DIST_TEST, f)));
const rest = all.filter((f) => !alongside.includes(f));
const statuses = await Promise.all([run(rest, ''), ...(alongside.length ? [run(alongside, 'debian-system | ')] : [])]);
process.exitCode = statuses.find((s) => s !== 0) ?? 0;
