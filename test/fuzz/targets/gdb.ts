// Fuzz target `gdb`: the real GdbSession (the code a GdbServer connection runs, bytes
// in and bytes out) against the test fakes: FakeTarget, and now and then real harts
// (HartDebugTarget over a PumpLoop, as in the virt-target tests), with the real human
// monitor behind qRcmd. Each input is a fresh connection that gets one to six reads:
// packets (valid, or mutated in their numbers, their fields or their frame) and noise
// (acks, nacks, Ctrl-C, stray bytes). After each read that carries exactly one packet
// the answer is checked: acked in ack mode, the shape the protocol allows for that
// packet, E.. when a number in it was made bad, not refused when it was valid, and a
// resume answered by a stop reply (a step by itself, a continue at the latest after a
// Ctrl-C). Other reads only owe well-formed output. Nothing may be thrown past the
// session, and its safety net (E01, onError) must never be needed. The liveness check
// is a real debugger connection to a GdbServer asking '?'.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Hmp } from '../../../src/vmm/hmp.js';
import { encodePacket, PacketReader, type Frame } from '../../../src/vmm/gdb/packet.js';
import { GdbServer } from '../../../src/vmm/gdb/server.js';
import { GdbSession } from '../../../src/vmm/gdb/session.js';
import type { DebugTarget } from '../../../src/vmm/gdb/target.js';
import { FakeTarget, FakeVm } from '../../vmm/fakes.js';
import { hartTarget } from '../../vmm/hart-target.js';
import type { FuzzTarget, Rng } from '../harness.js';
import { noise, packet, type Machine, type Segment } from '../gdb/packets.js';
import { ANY_REPLY, ends, ERROR, isOutput, replyShape, resumeKind, STOP, stopThread } from '../gdb/replies.js';
import { ProcessErrors, turn } from '../process-errors.js';

const HARTS = 2;
const FAKE_MACHINE: Machine = { harts: HARTS, base: 0x80000000, size: 0x10000, codeEnd: 0x100 };
const REAL_MACHINE: Machine = { harts: HARTS, base: 0x80000000, size: 4 << 20, codeEnd: 0x1000 };
/** Event-loop turns a stop may take: the fakes stop within one, the pump loop too. A
 *  continue that has not stopped after CONTINUE_TURNS is running: it gets a Ctrl-C. */
const STOP_TURNS = 8;
const CONTINUE_TURNS = 2;

const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
const frameText = (f: Frame) => (f.kind === 'packet' ? latin1(f.data) : f.kind === 'ack' ? '+' : f.kind === 'nack' ? '-' : f.kind);
const show = (s: string) => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}...` : s);

/** One debugger connection to `target`, its output parsed back into frames. */
class Connection {
  readonly out: string[] = [];
  ack = true;
  readonly session: GdbSession;
  /** The same framing over the same bytes: which frames the session saw in a read. */
  private readonly seen = new PacketReader();

  constructor(target: DebugTarget, monitor: (line: string) => Promise<string>, onError: (e: unknown) => void) {
    const reader = new PacketReader();
    this.session = new GdbSession({
      target,
      monitor,
      onError,
      write: (b) => { for (const f of reader.push(b)) this.out.push(frameText(f)); },
      close: () => undefined,
    });
  }

  /** Answers so far: packets that are neither acks nor qRcmd's console output. */
  answers(): string[] {
    return this.out.filter((x) => x !== '+' && x !== '-' && !isOutput(x));
  }

  /** Waits for an answer to arrive (a stop, the monitor), a few turns at most. */
  async waitAnswer(turns = STOP_TURNS): Promise<string[]> {
    for (let t = 0; t < turns && this.answers().length === 0; t++) await turn();
    return this.answers();
  }

  /** Delivers one read; returns the frames the session got from it. */
  feed(bytes: Uint8Array): Frame[] {
    const frames = this.seen.push(bytes);
    this.session.receive(bytes);
    return frames;
  }

  /** GDB's Ctrl-C; false when it went into a frame the read left open (as it would on
   *  a real connection), so it interrupted nothing. */
  interrupt(): boolean {
    return this.feed(Uint8Array.of(3)).some((f) => f.kind === 'interrupt');
  }
}

export const target: FuzzTarget = {
  name: 'gdb',
  surface: 'the GDB stub: framing, acks, every packet it handles, resume and stop replies, Ctrl-C',
  async open() {
    const errors = new ProcessErrors();
    const internal: unknown[] = [];
    const onError = (e: unknown) => internal.push(e);
    const vm = new FakeVm();
    vm.syncLoadErrors = true;
    const hmp = new Hmp(vm);
    const monitor = (line: string) => hmp.execute(line);
    const fake = new FakeTarget();
    let real = hartTarget(HARTS);
    let realUses = 0;
    const server = new GdbServer({ target: fake, monitor, onError });
    await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });

    /** The one packet a read carried, answered as the protocol says. */
    async function checkPacket(c: Connection, p: string, seg: Segment, onReal: boolean): Promise<void> {
      const exact = p === seg.payload;
      if (c.ack) assert.equal(c.out[0], '+', `packet ${show(p)} not acked`);
      else assert.ok(!c.out.includes('+'), 'acked in no-ack mode');
      const shape = replyShape(p);
      let answers = c.answers();
      const resume = resumeKind(p);
      if (answers.length === 0 && shape) answers = await c.waitAnswer(resume === 'continue' ? CONTINUE_TURNS : STOP_TURNS);
      if (answers.length === 0 && (resume === 'continue' || (resume === 'step' && onReal && real.harts.some((h) => h.waiting)))) {
        // Running (a step into WFI waits for an interrupt, as on hardware): Ctrl-C.
        // If the read left a frame open, the Ctrl-C is part of it and nothing is owed.
        if (!c.interrupt()) return;
        answers = c.answers();
      }
      if (!shape) return assert.deepEqual(answers, [], `${show(p)} is not answered`);
      assert.equal(answers.length, 1, `${show(p)} got ${answers.length} answers: ${answers.map(show).join(' ')}`);
      const a = answers[0];
      assert.ok(shape.test(a), `${show(p)} answered ${show(a)}`);
      assert.ok(a !== 'E01', `${show(p)}: the stub's safety net answered`);
      if (exact && seg.badNumber) assert.match(a, ERROR, `${show(p)} has a bad number but got ${show(a)}`);
      if (exact && seg.valid && p[0] !== 'z') assert.ok(a !== 'E22', `valid ${show(p)} refused`);
      if (STOP.test(a)) {
        const t = stopThread(a);
        if (t !== undefined) assert.ok(t >= 1 && t <= HARTS, `stop reply names thread ${t}`);
      }
      if (p === 'QStartNoAckMode') c.ack = false;
    }

    return {
      async one(rng: Rng) {
        // The fakes' records would grow for the whole run.
        fake.log.length = 0;
        vm.calls.length = 0;
        const onReal = rng.chance(0.1);
        // Fresh harts now and then: random register and memory writes wear a program
        // down to a storm of traps, which only costs time.
        if (onReal && ++realUses % 64 === 0) real = hartTarget(HARTS);
        const c = new Connection(onReal ? real.target : fake, monitor, onError);
        const m = onReal ? REAL_MACHINE : FAKE_MACHINE;
        try {
          for (let n = 1 + rng.int(6); n > 0; n--) {
            const seg = rng.chance(0.8) ? packet(rng, m) : noise(rng);
            c.out.length = 0;
            const frames = c.feed(seg.bytes);
            const packets = frames.filter((f) => f.kind === 'packet').map((f) => latin1((f as { data: Uint8Array }).data));
            if (frames.length === 1 && packets.length === 1) {
              await checkPacket(c, packets[0], seg, onReal);
            } else {
              // Which output answers which frame is not known here: well-formed is all.
              await c.waitAnswer(CONTINUE_TURNS);
              c.interrupt();
              for (const a of c.answers()) assert.ok(ANY_REPLY.test(a), `malformed ${show(a)} after ${frames.map(frameText).map(show).join(' ')}`);
              if (packets.includes('QStartNoAckMode')) c.ack = false;
            }
            if (packets.some(ends)) break;
          }
        } finally {
          c.session.dispose();
          // D resumes the target; harts left running would run through every later input.
          if (onReal) real.target.halt();
        }
        errors.check();
        if (internal.length) throw new Error(`the stub caught its own error: ${String(internal.splice(0).map((e) => (e as Error).stack ?? e))}`);
      },
      async alive() {
        const socket = connect(server.port, '127.0.0.1');
        try {
          const reply = await new Promise<string>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no answer to ? over TCP')), 2000);
            let got = '';
            socket.on('data', (d: Buffer) => {
              got += d.toString('latin1');
              if (/#[0-9a-f]{2}$/.test(got)) { clearTimeout(timer); resolve(got); }
            });
            socket.on('error', reject);
            socket.write(encodePacket('?'));
          });
          assert.match(reply, /^\+\$T02thread:[0-9a-f]+;#[0-9a-f]{2}$/);
        } finally {
          await new Promise<void>((resolve) => { socket.once('close', () => resolve()); socket.end(); });
        }
      },
      async close() {
        errors.close();
        real.loop.pause();
        await server.close();
      },
    };
  },
};
