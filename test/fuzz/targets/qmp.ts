// Fuzz target `qmp`: the real QmpServer over a FakeVm. Each input is a fresh client
// connection (in memory: the server's own connection handler gets a MemorySocket)
// that usually negotiates, then sends one to five items (valid commands, mutated ones,
// things that are not requests), split across reads at random places. Checked: every
// message is a well-formed greeting, reply or event; every complete request gets
// exactly one answer, in order, echoing its id; an unmutated valid command succeeds;
// every job started concludes on one of QEMU's two paths (its error in query-jobs when
// it failed); nothing is thrown past the server (uncaught, unhandled). The liveness
// check asks query-status over a real Unix socket.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMAND_NAMES } from '../../../src/vmm/qmp/commands.js';
import { QmpServer } from '../../../src/vmm/qmp/server.js';
import { FakeVm } from '../../vmm/fakes.js';
import { QmpClient } from '../../vmm/qmp-client.js';
import type { FuzzTarget, Rng } from '../harness.js';
import { MemorySocket } from '../memory-socket.js';
import { ProcessErrors, turn } from '../process-errors.js';
import { item, VALID, type Item } from '../qmp/requests.js';
import { assertGreeting, classify, jobPaths, messages, owed, type Msg } from '../qmp/replies.js';

/** Small enough that the fuzzer reaches the size cap cheaply; the logic is the same. */
const MAX_BYTES = 64 * 1024;

/** A client connection in memory, negotiated or not. */
class Client {
  readonly socket = new MemorySocket();
  private next = 0;

  constructor(server: QmpServer) {
    server.server.emit('connection', this.socket);
  }

  /** Sends one request and waits (event-loop turns, not time) for its reply. */
  async call(execute: string, args?: Msg): Promise<{ reply: Msg; events: Msg[] }> {
    const id = `fuzz-${this.next++}`;
    this.socket.feed(Buffer.from(JSON.stringify(args ? { execute, arguments: args, id } : { execute, id })));
    const events: Msg[] = [];
    for (let t = 0; t < 20; t++) {
      for (const m of messages(this.socket.takeText())) {
        if (m.id === id) return { reply: m, events };
        events.push(m);
      }
      await turn();
    }
    throw new Error(`no reply to ${execute}`);
  }
}

/** Bytes cut into 1 to 3 reads at random places. */
function reads(rng: Rng, items: Item[]): Buffer[] {
  const all = Buffer.concat(items.map((i) => i.bytes));
  const cuts = Array.from({ length: rng.int(3) }, () => rng.int(all.length + 1)).sort((a, b) => a - b);
  return [0, ...cuts].map((start, i, a) => all.subarray(start, a[i + 1] ?? all.length));
}

/** The replies (not events) the items are owed, checked in order. */
function checkReplies(items: Item[], replies: Msg[]): void {
  let negotiated = false;
  let k = 0;
  for (const it of items) {
    // After a text cut short or mangled, the server may be inside any value: nothing
    // more is owed (it still must not crash or answer malformed).
    if (!it.complete) return;
    const r = replies[k++];
    const text = () => new TextDecoder().decode(it.bytes).slice(0, 300);
    assert.ok(r, `no answer to item ${k}: ${text()}`);
    const o = owed(it.bytes, MAX_BYTES);
    if (o.id) assert.deepEqual(r.id, o.id.value, `reply to item ${k} has the wrong id: ${text()}`);
    else assert.ok(!('id' in r), `reply to item ${k} has an id it was not given: ${text()}`);
    const kind = classify(r);
    if (kind === 'return' && o.command === 'qmp_capabilities') negotiated = true;
    else if (kind === 'return') assert.ok(negotiated, `answered before negotiation: ${text()}`);
    if (it.valid && negotiated) assert.equal(kind, 'return', `valid ${it.valid} failed: ${JSON.stringify(r).slice(0, 300)}`);
  }
  assert.equal(replies.length, k, `more answers than requests: ${JSON.stringify(replies.slice(k)).slice(0, 300)}`);
}

export const target: FuzzTarget = {
  name: 'qmp',
  surface: 'the QMP server: framing, negotiation, every command and its arguments, jobs, human-monitor-command',
  async open() {
    const untested = COMMAND_NAMES.filter((n) => !Object.hasOwn(VALID, n));
    if (untested.length) throw new Error(`fuzz qmp: no valid arguments for ${untested.join(', ')} in qmp/requests.ts`);
    const vm = new FakeVm();
    // As the CLI's loadSnapshot does: an unknown tag throws before any promise exists.
    vm.syncLoadErrors = true;
    const server = new QmpServer({ control: vm, maxRequestBytes: MAX_BYTES });
    const dir = mkdtempSync(join(tmpdir(), 'rvisor-fuzz-qmp-'));
    await server.listen({ kind: 'unix', path: join(dir, 'qmp.sock') });
    const errors = new ProcessErrors();
    const janitor = new Client(server);
    await janitor.call('qmp_capabilities');
    const probe = await QmpClient.open(join(dir, 'qmp.sock'));
    await probe.next();
    assert.deepEqual(await probe.execute('qmp_capabilities'), { return: {} });
    let probes = 0;

    return {
      async one(rng: Rng, index: number) {
        // The fake's records would grow for the whole run.
        vm.calls.length = 0;
        if (vm.snapshots.size > 64) vm.snapshots.clear();
        const client = new Client(server);
        const negotiate = rng.chance(0.9);
        const items: Item[] = negotiate ? [{ bytes: Buffer.from(`{"execute":"qmp_capabilities","id":"cap${index}"}`), complete: true }] : [];
        for (let n = 1 + rng.int(5); n > 0; n--) items.push(item(rng, index, negotiate));
        for (const chunk of reads(rng, items)) client.socket.feed(chunk);
        // The fake answers at once; jobs run one event-loop turn later.
        const out: Msg[] = [];
        for (let t = 0; t < 4; t++) {
          await turn();
          out.push(...messages(client.socket.takeText()));
        }
        client.socket.destroy();
        errors.check();
        assertGreeting(out[0]);
        const rest = out.slice(1);
        const replies = rest.filter((m) => classify(m) !== 'event');
        checkReplies(items, replies);
        const paths = jobPaths(rest.filter((m) => m.event === 'JOB_STATUS_CHANGE'));
        // Events reach the janitor too; it reads them only when it calls.
        janitor.socket.takeText();
        if (paths.size || index % 64 === 0) {
          // Every job concluded, with an error exactly when it was aborted; then the
          // janitor dismisses them so the table stays small.
          const jobs = (await janitor.call('query-jobs')).reply.return as { id: string; status: string; error?: string }[];
          for (const job of jobs) {
            assert.equal(job.status, 'concluded', `job ${JSON.stringify(job.id)} is ${job.status} after its work settled`);
            const path = paths.get(job.id);
            if (path) assert.equal(job.error !== undefined, path === 'failed', `job ${JSON.stringify(job.id)}: error ${job.error} but path ${path}`);
            assert.ok('return' in (await janitor.call('job-dismiss', { id: job.id })).reply);
          }
        }
        errors.check();
      },
      async alive() {
        const id = `probe-${probes++}`;
        probe.send(JSON.stringify({ execute: 'query-status', id }));
        for (;;) {
          const m = await probe.next(2000);
          if ('event' in m) continue;
          assert.equal(m.id, id);
          assert.equal(typeof (m.return as Msg).status, 'string');
          return;
        }
      },
      async close() {
        errors.close();
        probe.close();
        janitor.socket.destroy();
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
