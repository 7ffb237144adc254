// `rvisor console NAME`: a daemon VM's serial console on this terminal, over the API's
// WebSocket. On a terminal it is raw, with run's Ctrl-A keys, and Ctrl-A X detaches (the
// VM goes on running, as with `docker attach`'s detach keys); from a pipe, stdin goes to
// the guest as it is and the console ends when stdin does.

import type { ApiClient } from './api-client.js';
import { TerminalConsole } from './console.js';

/** Closes that are no failure: ours (detach, end of input) or the daemon's normal one. */
const NORMAL_CLOSE = [1000, 1005];

export async function attachConsole(client: ApiClient, vm: string): Promise<number> {
  const ws = await client.console(vm, (bytes) => process.stdout.write(bytes));
  let leaving = false;
  const leave = () => {
    leaving = true;
    // After the input already sent: close() goes out behind queued frames.
    ws.close(1000);
  };
  const terminal = new TerminalConsole({ input: (b) => ws.send(b), quit: leave, detaches: true });
  const restore = () => terminal.stop();
  process.once('exit', restore);
  process.stdin.once('end', leave);
  // The close that follows says how it ended.
  ws.on('error', () => {});
  terminal.start();
  const [code, reason] = await new Promise<[number, Buffer]>((resolve) => ws.once('close', (c: number, r: Buffer) => resolve([c, r])));
  terminal.stop();
  process.off('exit', restore);
  process.stdin.off('end', leave);
  if (leaving || NORMAL_CLOSE.includes(code)) return 0;
  process.stderr.write(`\r\nrvisor: the console of ${vm} closed (${code}${reason.length ? `: ${reason.toString()}` : ''})\r\n`);
  return 1;
}
