// `rvisor run` on a real terminal: a pseudo-terminal from util-linux's `script`, a
// command typed at the BusyBox prompt, the monitor (Ctrl-A C), and Ctrl-A X to quit, as a
// person would.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, test } from 'node:test';
import { BOOT_TIMEOUT_MS, CLI, ensureImage } from './support.js';

before(() => ensureImage());

/** One step's allowance: typed text echoed, a monitor command answered, the exit. */
const STEP_MS = 90_000;

test('an interactive shell on the console; Ctrl-A C opens the monitor; Ctrl-A X quits and the terminal comes back', { timeout: BOOT_TIMEOUT_MS }, async (t) => {
  // `script` gives rvisor a pty as stdin/stdout; what we write to script's stdin is typed.
  const child = spawn('script', ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} run; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'`, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A step that never comes must fail the test with what the terminal showed, and must
  // not leave rvisor running: the test runner waits for every child of a test file.
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const waitFor = (re: RegExp, from: number, ms = STEP_MS) =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${JSON.stringify(out.slice(-3000))}`)), ms);
      const check = () => {
        const m = re.exec(out.slice(from));
        if (m) {
          clearTimeout(timer);
          child.stdout.off('data', check);
          resolve(from + m.index + m[0].length);
        }
      };
      child.stdout.on('data', check);
      check();
    });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const exited = () => new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rvisor did not exit after C-a x; output:\n${JSON.stringify(out.slice(-3000))}`)), STEP_MS);
    void closed.then((status) => {
      clearTimeout(timer);
      resolve(status);
    });
  });
  // BusyBox's prompt may be followed by its terminal-size query (ESC [6n), and the pty
  // turns the guest's CRLF into CR CR LF.
  const PROMPT = new RegExp(`# (?:${String.fromCharCode(27)}\\[6n)?$`, 'm');
  // The guest's output goes on while the monitor is shown (as with QEMU's mux): that
  // query may come after the monitor's prompt when the shell's prompt was seen without it.
  const MONITOR = new RegExp(`\\(qemu\\) (?:${String.fromCharCode(27)}\\[6n)?$`, 'm');

  let at = await waitFor(PROMPT, 0, BOOT_TIMEOUT_MS / 2);
  child.stdin.write('echo $((191*7))\r');
  at = await waitFor(/^1337\r*$/m, at);
  at = await waitFor(PROMPT, at);
  // Ctrl-A C: QEMU's monitor on the same terminal, and back to the guest.
  child.stdin.write('\x01c');
  at = await waitFor(MONITOR, at);
  child.stdin.write('stop\r');
  at = await waitFor(MONITOR, at);
  child.stdin.write('info status\r');
  at = await waitFor(/^VM status: paused\r*$/m, at);
  // Each command's own prompt is awaited after its echo: a prompt seen earlier is the
  // previous command's, and a toggle sent before the monitor answered would let its
  // next prompt land in the guest's output.
  at = await waitFor(MONITOR, at);
  child.stdin.write('cont\r');
  at = await waitFor(/^cont\r*$/m, at);
  at = await waitFor(MONITOR, at);
  child.stdin.write('\x01c');
  child.stdin.write('echo $((6*7))\r');
  at = await waitFor(/^42\r*$/m, at);
  await waitFor(PROMPT, at);
  child.stdin.write('\x01x');
  const status = await exited();
  assert.equal(status, 0, out.slice(-2000));
  assert.match(out, /terminated by C-a x/);
  // After rvisor exits, the same terminal is back in canonical (cooked) mode.
  assert.match(out, /^icanon\r*$/m);
});
