// The user-mode NAT as a hostile guest's network card sees it. Each input runs on a
// fresh UserNet (so it replays alone) whose only reachable hosts are our own servers on
// 127.0.0.1 (net/hosts.ts): either a few frames (net/generate.ts: valid ARP, DHCP, DNS,
// ping, UDP, stray TCP and junk, half of them mutated) or one TCP connection to a real
// server with mutations mid-stream (net/tcp-session.ts). Checked: deliver() never
// throws and never takes the internal-error path, every frame to the guest is
// well-formed and for the guest (net/check.ts), each valid frame gets its answer (the
// echo, the DNS reply, the RST), and after the attack the NAT still answers ARP and
// ping. Every few hundred inputs, a TCP echo through a new NAT and a bounded count of
// the process's handles show the host side alive and leaking nothing.

import assert from 'node:assert/strict';
import { UserNet } from '../../../src/net/index.js';
import { GATEWAY, Wire, type Parsed } from '../../net/frames.js';
import { GuestTcp } from '../../net/guest-tcp.js';
import type { FuzzTarget, Rng } from '../harness.js';
import { FrameAudit } from '../net/check.js';
import { type Probe, confine, gatewayProbes, mutate, validFrame } from '../net/generate.js';
import { HostServices, type HostPorts } from '../net/hosts.js';
import { ANSWER_MS, tcpSession, until } from '../net/tcp-session.js';

/** Handles (sockets, timers) beyond the servers' that may still be closing. */
const HANDLE_SLACK = 8;
const FAILURE_LOGS = /internal error|port threw/;

/** One NAT for one input, with the guest's side of the wire audited. */
class Rig {
  readonly nat: UserNet;
  readonly wire = new Wire();
  readonly answers: Parsed[] = [];
  private readonly audit = new FrameAudit();
  private readonly problems: unknown[] = [];
  private readonly logs: string[] = [];
  private delivered = 0;

  constructor(ports: HostPorts) {
    this.nat = new UserNet({ dnsServers: [`127.0.0.1:${ports.dns}`], log: (l) => this.logs.push(l) });
    // Checks run inside the NAT's flush, which would only log a throw: keep it instead.
    this.wire.onFrame = (f) => {
      try {
        this.answers.push(...this.audit.check(f));
      } catch (e) {
        this.problems.push(e);
      }
    };
    this.nat.connect(this.wire);
  }

  /** The guest's side: every frame is counted and its claimed addresses noted. */
  readonly guest = {
    deliver: (f: Uint8Array) => {
      this.audit.learn(f);
      this.delivered++;
      this.nat.deliver(f);
    },
  };

  answered(probe: Probe): boolean {
    return this.answers.some((p) => probe.answered?.(p));
  }

  /** Runs `body` against the NAT, closes it, and throws the first thing that went wrong:
   *  a bad frame from the NAT before what it made fail later (a missing answer). */
  async run(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (e) {
      this.nat.close();
      throw this.problems[0] ?? e;
    }
    this.nat.close();
    if (this.problems.length > 0) throw this.problems[0];
    assert.deepEqual(this.logs.filter((l) => FAILURE_LOGS.test(l)), [], 'the NAT hit an internal error');
    assert.equal(this.nat.stats.framesFromGuest, this.delivered, 'every frame reached deliver()');
  }
}

async function frames(rng: Rng, rig: Rig, ports: HostPorts): Promise<void> {
  const expected: Probe[] = [];
  for (let n = 1 + rng.int(6); n > 0; n--) {
    const probe = validFrame(rng, ports);
    if (rng.chance(0.5)) {
      rig.guest.deliver(confine(mutate(rng, probe.frame), ports));
    } else {
      rig.guest.deliver(probe.frame);
      if (probe.answered) expected.push(probe);
    }
  }
  await new Promise((r) => setImmediate(r));
  // Local answers are out once the microtask that flushes them ran; host ones take longer.
  for (const p of expected) {
    const ok = p.async ? await until(() => rig.answered(p), ANSWER_MS) : rig.answered(p);
    assert.ok(ok, `no answer to a valid frame ${Buffer.from(p.frame).toString('hex')}`);
  }
}

/** After whatever the input did, the gateway still answers ARP and ping. */
async function stillAnswers(rng: Rng, rig: Rig): Promise<void> {
  const probes = gatewayProbes(rng);
  for (const p of probes) rig.guest.deliver(p.frame);
  await new Promise((r) => setImmediate(r));
  for (const p of probes) assert.ok(rig.answered(p), `the NAT no longer answers ${Buffer.from(p.frame).toString('hex')}`);
}

export const target: FuzzTarget = {
  name: 'net',
  surface: 'the user-mode NAT (src/net) fed guest frames, with servers on 127.0.0.1 only',
  async open() {
    const services = await HostServices.start();
    services.guardEgress();
    const ports = services.ports;
    const baseline = process.getActiveResourcesInfo().length;
    return {
      async one(rng) {
        services.blocked.length = 0;
        const rig = new Rig(ports);
        await rig.run(async () => {
          if (rng.chance(0.25)) await tcpSession(rng, rig.guest, rig.wire, ports);
          else await frames(rng, rig, ports);
          await stillAnswers(rng, rig);
        });
        assert.deepEqual(services.blocked, [], 'the NAT tried to reach something other than our servers');
      },
      async alive() {
        const rig = new Rig(ports);
        await rig.run(async () => {
          const g = new GuestTcp(rig.guest, 40000, GATEWAY, ports.tcpEcho);
          g.attach(rig.wire);
          g.connect();
          assert.ok(await until(() => g.established, ANSWER_MS), 'no connection to the echo server');
          g.write(Buffer.from('still there?'));
          assert.ok(await until(() => g.received.length === 12, ANSWER_MS), 'no echo');
        });
        // Closed NATs' sockets take a few turns to go; leaked ones stay (a descriptor lost
        // per input would end the VMM's life).
        const settled = await until(() => process.getActiveResourcesInfo().length <= baseline + HANDLE_SLACK, ANSWER_MS);
        assert.ok(settled, `${process.getActiveResourcesInfo().length} handles open, ${baseline} at the start`);
      },
      close() {
        services.close();
      },
    };
  },
};
