// A minimal QMP test client: connects, collects every JSON line, and hands them out in
// order (waiting when none has arrived yet).

import { connect, type Socket } from 'node:net';

export type Msg = Record<string, unknown>;

export class QmpClient {
  private buf = '';
  private queue: Msg[] = [];
  private waiters: ((m: Msg) => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Msg;
        const w = this.waiters.shift();
        if (w) w(msg);
        else this.queue.push(msg);
      }
    });
    socket.on('close', () => { this.closed = true; });
  }

  static open(path: string): Promise<QmpClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new QmpClient(s)));
      s.once('error', reject);
    });
  }

  next(timeoutMs = 2000): Promise<Msg> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no QMP message in time')), timeoutMs);
      this.waiters.push((msg) => { clearTimeout(t); resolve(msg); });
    });
  }

  send(raw: string): void {
    this.socket.write(raw);
  }

  async execute(cmd: string, args?: unknown, id?: unknown): Promise<Msg> {
    const req: Msg = { execute: cmd };
    if (args !== undefined) req.arguments = args;
    if (id !== undefined) req.id = id;
    this.send(JSON.stringify(req));
    return this.next();
  }

  close(): void {
    this.socket.destroy();
  }
}
