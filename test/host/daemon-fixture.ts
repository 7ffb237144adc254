// A real `rvisor serve` in a child process, with its own state directory and socket, and
// the means to drive it as a client would: REST requests, the event stream, consoles.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CLI, sleep, until } from '../boot/support.js';
import { Contract, send, type Reply } from './api-fixture.js';

/** The image's shell prompt (ash then asks for the cursor position: ESC [6n). */
const PROMPT = /~ # /;

export class Daemon {
  readonly state: string;
  readonly socketPath: string;
  private child: ChildProcess | undefined;
  /** The served OpenAPI document: every response is checked against it. */
  private contract: Contract | undefined;
  log = '';

  constructor() {
    this.state = mkdtempSync(join(tmpdir(), 'rvisor-daemon-'));
    this.socketPath = join(this.state, 'api.sock');
  }

  /** `args`: more options of `rvisor serve` (e.g. --cpus). */
  async start(args: string[] = []): Promise<void> {
    this.log = '';
    const child = spawn(process.execPath, [CLI, 'serve', '--socket', this.socketPath, ...args], {
      env: { ...process.env, RVISOR_STATE: this.state, RVISOR_TEST_HOOKS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    child.stderr?.on('data', (b: Buffer) => (this.log += b.toString()));
    await until('the daemon to listen', () => /listening on/.test(this.log) || child.exitCode !== null, 30_000);
    assert.equal(child.exitCode, null, `the daemon exited: ${this.log}`);
    this.contract = await Contract.load({ socketPath: this.socketPath });
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('the daemon is not running');
    return pid;
  }

  /** kill -9: no orderly anything. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const gone = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    return gone;
  }

  async cleanup(): Promise<void> {
    await this.kill9();
    rmSync(this.state, { recursive: true, force: true });
  }

  /** A request; its response must be one the OpenAPI document describes, and a request
   *  the daemon took (2xx) one the document allows. */
  async api(method: string, path: string, json?: unknown): Promise<Reply> {
    const r = await send({ socketPath: this.socketPath }, method, path, json === undefined ? {} : { json });
    if (this.contract) {
      this.contract.checkResponse(method, path, r);
      if (r.status < 300) assert.deepEqual(this.contract.requestProblems(method, path, json), [], `${method} ${path}: the document allows it`);
    }
    return r;
  }

  /** A request that must succeed: its JSON body. */
  async ok<T = Record<string, unknown>>(method: string, path: string, json?: unknown): Promise<T> {
    const r = await this.api(method, path, json);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
    return r.json as T;
  }

  console(vm: string): Promise<GuestConsole> {
    return GuestConsole.open(this.socketPath, vm);
  }

  /** The console of a VM whose guest has reached its shell prompt. */
  async shell(vm: string): Promise<GuestConsole> {
    const c = await this.console(vm);
    c.send('\n');
    await c.expect(PROMPT);
    return c;
  }

  /** Server-Sent Events, collected as they come. */
  /** Resolves once the daemon has answered the subscription: events from then on are seen. */
  async events(): Promise<{ seen: { event: string; data: { vm: { name: string }; event: string } }[]; close(): void }> {
    const seen: { event: string; data: { vm: { name: string }; event: string } }[] = [];
    let buf = '';
    let subscribed!: () => void;
    const ready = new Promise<void>((resolve) => (subscribed = resolve));
    const req = request({ socketPath: this.socketPath, path: '/v1/events', method: 'GET' }, (res) => {
      subscribed();
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) seen.push({ event, data: JSON.parse(data) as { vm: { name: string }; event: string } });
        }
      });
    });
    req.on('error', () => {});
    req.end();
    await ready;
    return { seen, close: () => req.destroy() };
  }
}

/** A VM's serial console over the API's WebSocket. */
export class GuestConsole {
  text = '';

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => (this.text += data.toString('latin1')));
  }

  static open(socketPath: string, vm: string): Promise<GuestConsole> {
    const ws = new WebSocket(`ws+unix://${socketPath}:/v1/vms/${encodeURIComponent(vm)}/console`);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new GuestConsole(ws)));
      ws.once('error', reject);
    });
  }

  send(text: string): void {
    this.ws.send(Buffer.from(text));
  }

  /** Waits for `pattern` in what arrives after `from` (default: everything so far). */
  async expect(pattern: RegExp, timeoutMs = 300_000, from = 0): Promise<RegExpExecArray> {
    let m: RegExpExecArray | null = null;
    await until(`${pattern} on the console (got ${JSON.stringify(this.text.slice(-300))})`, () => (m = pattern.exec(this.text.slice(from))) !== null, timeoutMs);
    return m as unknown as RegExpExecArray;
  }

  /** Runs a shell command and returns what it printed between two markers. */
  async run(command: string, timeoutMs = 120_000): Promise<string> {
    const tag = `m${Math.random().toString(36).slice(2, 8)}`;
    const from = this.text.length;
    // The markers are split so the echoed command line cannot match them.
    this.send(`echo ${tag}''-begin; ${command}; echo ${tag}''-end\n`);
    const m = await this.expect(new RegExp(`${tag}-begin\\r?\\n([\\s\\S]*?)${tag}-end`), timeoutMs, from);
    return m[1].replace(/\r/g, '');
  }

  close(): void {
    this.ws.close();
  }
}

export { sleep };
