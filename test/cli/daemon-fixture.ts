// What the VM command tests share: the real API over the daemon double (FakeHost) on a
// socket in a temp dir, and the real `rvisor` binary run against it as a child process
// (asynchronously: the API answers from this process's event loop).

import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConsoleAttachment } from '../../src/host/daemon/model.js';
import { startApi, type ApiServer } from '../../src/host/api/server.js';
import { FakeHost } from '../host/api-double.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The double, telling when a console reader starts listening and when it detaches:
 *  tests wait on these rather than sleep. */
export class WatchedHost extends FakeHost {
  readonly watch = new EventEmitter();

  override console(name: string): ConsoleAttachment {
    const a = super.console(name);
    const { onOutput, detach } = a;
    a.onOutput = (listener) => {
      onOutput.call(a, listener);
      this.watch.emit('attached', name);
    };
    a.detach = () => {
      detach.call(a);
      this.watch.emit('detached', name);
    };
    return a;
  }
}

export interface Result { status: number | null; stdout: string; stderr: string }

export interface Run extends Promise<Result> {
  child: ReturnType<typeof spawn>;
}

export class Daemon {
  private constructor(readonly host: WatchedHost, readonly api: ApiServer, readonly dir: string) {}

  static async start(): Promise<Daemon> {
    const dir = mkdtempSync(join(tmpdir(), 'rvisor-cli-api-'));
    const host = new WatchedHost();
    return new Daemon(host, await startApi(host, { socketPath: join(dir, 'api.sock'), log: () => {} }), dir);
  }

  get hostFlag(): string[] {
    return ['--host', `unix:${this.api.socketPath}`];
  }

  /** `rvisor ARGS --host unix:SOCKET` (before a `--`: what follows is the guest's), in
   *  the temp dir, with RVISOR_HOST unset and stdin at its end. */
  rvisor(...args: string[]): Run {
    const dash = args.includes('--') ? args.indexOf('--') : args.length;
    return this.spawn([...args.slice(0, dash), ...this.hostFlag, ...args.slice(dash)]);
  }

  /** `rvisor console VM`, its stdin a pipe the test writes to and ends. */
  attach(vm: string): Run {
    return this.spawn(['console', vm, ...this.hostFlag], {}, true);
  }

  spawn(args: string[], env: NodeJS.ProcessEnv = {}, keepStdin = false): Run {
    const base = { ...process.env };
    delete base.RVISOR_HOST;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: this.dir, env: { ...base, ...env }, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const done = new Promise<Result>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    });
    if (!keepStdin) child.stdin.end();
    return Object.assign(done, { child });
  }

  async stop(): Promise<void> {
    await this.api.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The message a call on the double refuses with: what the CLI must print. */
export async function refusal(call: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await call();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the double did not refuse');
}
