// Timing inside the guest: BusyBox has no `time -f` and its dd prints no rate, so a
// command is bracketed by /proc/uptime reads (10 ms resolution) and awk prints
// "LABEL VALUE", VALUE being `expr` over the elapsed seconds `s`.

import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { openImage } from '../src/host/index.js';

export function timed(label: string, cmd: string, expr = 's'): string {
  return `t0=$(cut -d' ' -f1 /proc/uptime); ${cmd}; t1=$(cut -d' ' -f1 /proc/uptime); awk -v a=$t0 -v b=$t1 'BEGIN { s = b - a; printf "${label} %.2f\\n", ${expr} }'`;
}

/** The value of a "LABEL VALUE" line, if the guest printed one. */
export function timedValue(out: string, label: string): number | undefined {
  const m = new RegExp(`^${label} ([\\d.]+)\\s*$`, 'm').exec(out);
  return m ? Number(m[1]) : undefined;
}

/** Runs a VMM (rvisor or QEMU) to its end and returns what the guest printed. */
export function guestOutput(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env });
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => resolve(out));
  });
}

/** The Debian image, or undefined after saying that bench `what` is skipped without it. */
export async function debianImageFor(what: string): Promise<Awaited<ReturnType<typeof openImage>> | undefined> {
  try {
    return await openImage('debian');
  } catch {
    console.log(`\n${what}: skipped (run \`rvisor image pull debian\` first)`);
    return undefined;
  }
}

/** A loopback TCP port nothing listens on now. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}
